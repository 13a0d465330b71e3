"""What users read cites only what they have: no "SPEC §7" or "the project's literature notes"
(documents that do not ship), but the published source or the meaning itself."""

from __future__ import annotations

import argparse
import ast
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import abm
from abm.cli.app import build_parser
from abm.config.settings import describe
from abm.output import schemas

ROOT = Path(__file__).resolve().parents[1]
#: references to documents users do not get
UNSHIPPED = re.compile(r"SPEC|§|LITERATURE|literature notes")


def _assert_clean(text: str, where: str) -> None:
    found = [line.strip() for line in text.splitlines() if UNSHIPPED.search(line)]
    assert not found, f"{where} cites a document users do not have: {found}"


@pytest.mark.parametrize("name", ["README.md", "README_experiments.md"])
def test_readmes(name: str) -> None:
    _assert_clean((ROOT / name).read_text(encoding="utf-8"), name)


def _parsers(parser: argparse.ArgumentParser, prog: str = "abm"):
    yield prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{prog} {name}")


def test_every_help_text() -> None:
    for prog, parser in _parsers(build_parser()):
        _assert_clean(parser.format_help(), f"{prog} --help")


def test_experiment_scripts_help() -> None:
    for script in sorted((ROOT / "experiments").glob("*.py")):
        source = script.read_text(encoding="utf-8")
        _assert_clean(ast.get_docstring(ast.parse(source)) or "", str(script.name))
        done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True,
                              text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)}, timeout=60)
        assert done.returncode == 0, done.stderr
        _assert_clean(done.stdout, f"{script.name} --help")


def test_public_api_docstrings() -> None:
    import abm.experiments.experiment
    import abm.experiments.metrics
    import abm.model.feedback

    objects = [abm, abm.experiments.experiment, abm.model.feedback, abm.experiments.metrics]
    for name in abm.__all__:
        value = getattr(abm, name)
        if callable(value):
            objects += [value, sys.modules[value.__module__]]
    objects += [getattr(abm.experiments.experiment, n) for n in ("Experiment", "ExperimentResult",
                                                     "load_experiment", "run_experiment")]
    objects += [type(getattr(abm.Config(), f.name)) for f in
                abm.Config.__dataclass_fields__.values()]
    for obj in objects:
        _assert_clean(inspect.getdoc(obj) or "", repr(obj))
        for _, member in inspect.getmembers(obj, inspect.isfunction):
            if member.__module__ == getattr(obj, "__module__", obj.__name__):
                _assert_clean(inspect.getdoc(member) or "", repr(member))


def test_generated_tables() -> None:
    _assert_clean(schemas.markdown_tables(), "the README's column tables (abm.output.schemas)")
    for name, _default, source in describe():
        _assert_clean(source, f"the source of {name}")


def test_messages_and_labels_in_the_code() -> None:
    # every string that is not a docstring: error messages, help texts, figure labels
    for path in sorted([*(ROOT / "abm").rglob("*.py"), *(ROOT / "experiments").glob("*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                           ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and id(node) not in docstrings:
                _assert_clean(node.value, f"{path.relative_to(ROOT)}:{node.lineno}")


def test_weather_events_carry_the_pressure_not_its_change() -> None:
    import polars as pl

    result = abm.simulate(abm.Config().replace(**{"population.num_patients": 2,
                                                  "run.days": 3}))
    weather = result.events.filter(pl.col("event") == "weather").sort("location_id", "time")
    frame = result.weather.sort("location_id", "date")
    assert weather["value"].to_list() == pytest.approx(
        frame["pressure"].cast(pl.Float64).to_list(), abs=0.05)
    meaning = schemas.frames()["events"]["value"][2]
    assert "weather, the location's pressure (hPa)" in meaning
    assert "pressure change" not in meaning
