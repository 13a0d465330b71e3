"""The architecture documentation is true: its examples run, its module paths and layers hold.

Every ```python block of ``docs/architecture.md`` and of the README's "Extending the model"
section runs as written, each in a fresh namespace, and each component class it defines must show
up in a result it made: a risk factor's flags, a coupling's change of its target, a feedback
rule's edits, a modality's columns and log entries. Every ``abm.x.y`` the documentation names in
backticks resolves, every ``abm/...py`` it names exists, and every import in the package keeps to
the layers of the architecture's table.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import polars as pl
import pytest

import abm
from abm.model.catalog import built_in
from abm.model.component import Component, Coupling, FeedbackRule, RiskFactor

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
README = ROOT / "README.md"
#: the documents whose backticked ``abm.…`` names and ``abm/…`` paths must exist
DOCUMENTS = [README, ROOT / "README_experiments.md", *sorted((ROOT / "docs").glob("*.md"))]

_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _section(text: str, heading: str) -> str:
    """The text of the ``## heading`` section, up to the next ``## `` heading."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def _examples() -> list[tuple[str, str]]:
    """``(id, code)`` of every example the tests run."""
    out = []
    for i, code in enumerate(_PYTHON_BLOCK.findall(ARCHITECTURE.read_text(encoding="utf-8"))):
        out.append((f"architecture-{i + 1}", code))
    readme = _section(README.read_text(encoding="utf-8"), "Extending the model")
    for i, code in enumerate(_PYTHON_BLOCK.findall(readme)):
        out.append((f"readme-extending-{i + 1}", code))
    return out


EXAMPLES = _examples()


def test_the_examples_are_found() -> None:
    """A risk factor, a coupling and feedback rules in the architecture; one block in the
    README's section (the extraction must not quietly find nothing)."""
    ids = [name for name, _ in EXAMPLES]
    assert sum(name.startswith("architecture-") for name in ids) >= 5
    assert sum(name.startswith("readme-extending-") for name in ids) >= 1
    text = "\n".join(code for _, code in EXAMPLES)
    for base in ("abm.RiskFactor", "abm.Coupling", "abm.FeedbackRule", "abm.Component"):
        assert f"({base}):" in text, f"no example subclasses {base}"


def _run(code: str, name: str) -> dict[str, Any]:
    """Run one example in a fresh namespace, as a module of its own would."""
    namespace: dict[str, Any] = {"__name__": f"docs_example_{name.replace('-', '_')}"}
    exec(compile(code, f"<{name}>", "exec"), namespace)  # noqa: S102
    return namespace


def _defined(namespace: dict[str, Any]) -> list[type]:
    """The classes the example itself defines."""
    return [value for value in namespace.values()
            if isinstance(value, type) and value.__module__ == namespace["__name__"]]


def _results(namespace: dict[str, Any]) -> list[abm.Result]:
    return [value for value in namespace.values() if isinstance(value, abm.Result)]


def _feedback_names(result: abm.Result) -> set[str]:
    events = result.events.filter(pl.col("event") == "feedback")
    return set(events["name"].cast(pl.String).unique().to_list())


def _check_risk_factor(rf: RiskFactor, result: abm.Result) -> None:
    assert rf.flag_column in result.daily.columns
    assert rf.flag_column in result.attacks.columns
    assert rf.susceptibility_column in result.patients.columns
    assert result.daily[rf.flag_column].sum() > 0, f"{rf.name} never flags a day"
    triggers = result.events.filter((pl.col("event") == "trigger")
                                    & (pl.col("name").cast(pl.String) == rf.trigger))
    assert triggers.height == result.daily[rf.flag_column].sum()


def _check_coupling(coupling: Coupling, result: abm.Result) -> None:
    """Without the coupling (and with every other component of the run), its target differs."""
    built = {c.name for c in built_in()}
    others = [c for c in result.model.components
              if c.name not in built and c.name != coupling.name]
    without = abm.simulate(result.config, components=others)
    target = coupling.target
    assert not result.daily[target].equals(without.daily[target]), \
        f"{coupling.name} did not change {target}"


def _check_rule(name: str, result: abm.Result) -> None:
    assert any(n.startswith(f"{name}:") for n in _feedback_names(result)), \
        f"no feedback event of {name}"


def _check_modality(component: Component, result: abm.Result) -> None:
    for column in component.outputs():
        frame = result.daily if column.frame == "daily" else result.patients
        assert column.name in frame.columns
    kinds = set(result.events["event"].cast(pl.String).unique().to_list())
    for entry in component.logs:
        assert entry.kind in kinds, f"no {entry.kind} events"


def _made_by(result: abm.Result, cls: type) -> Any:
    """The instance of ``cls`` among the components of ``result``, if any."""
    return next((c for c in result.model.components if type(c) is cls), None)


@pytest.mark.parametrize(("name", "code"), EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_example_runs_and_its_components_show(name: str, code: str) -> None:
    namespace = _run(code, name)
    classes = _defined(namespace)
    results = _results(namespace)
    assert classes, f"{name} defines no component"
    assert results, f"{name} makes no result"
    for cls in classes:
        if issubclass(cls, Component):
            made = [(r, c) for r in results if (c := _made_by(r, cls)) is not None]
            assert made, f"{name}: {cls.__name__} is in no result's model"
            result, component = made[0]
            if isinstance(component, RiskFactor):
                _check_risk_factor(component, result)
            elif isinstance(component, Coupling):
                _check_coupling(component, result)
            elif isinstance(component, FeedbackRule):
                _check_rule(component.name, result)
            else:
                _check_modality(component, result)
        else:
            # a plain callable passed as a feedback rule
            assert "__call__" in vars(cls) and hasattr(cls, "name")
            assert any(any(n.startswith(f"{cls.name}:") for n in _feedback_names(r))
                       for r in results), f"{name}: no feedback event of {cls.name}"


# --- names and paths -------------------------------------------------------------------------

_DOTTED = re.compile(r"`(abm(?:\.[A-Za-z_]\w*)+)(\.\*)?")
_PATH = re.compile(r"`(abm/[\w/]+\.py)`")


def _resolve(dotted: str) -> object:
    """The module, or the attribute of the longest importable module prefix, ``dotted`` names."""
    parts = dotted.split(".")
    if parts[-1] == "__main__":  # importing it would run the command: it need only be there
        spec = importlib.util.find_spec(dotted)
        if spec is None:
            raise ModuleNotFoundError(dotted)
        return spec
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)  # AttributeError: the name does not exist
        return obj
    raise ModuleNotFoundError(dotted)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_dotted_name_in_the_docs_resolves(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    names = sorted({m[1] for m in _DOTTED.finditer(text)})
    for dotted in names:
        try:
            obj = _resolve(dotted)
        except (ImportError, AttributeError) as exc:
            pytest.fail(f"{document.name} names `{dotted}`, which does not exist: {exc}")
        if any(m[2] for m in _DOTTED.finditer(text) if m[1] == dotted):
            assert isinstance(obj, ModuleType), f"`{dotted}.*` is not a package"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_file_path_in_the_docs_exists(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    for path in sorted(set(_PATH.findall(text))):
        assert (ROOT / path).is_file(), f"{document.name} names {path}, which does not exist"


# --- layers ----------------------------------------------------------------------------------


def _layers() -> dict[str, int]:
    """Module pattern -> layer, from the table of the architecture's "Layers" section."""
    table = _section(ARCHITECTURE.read_text(encoding="utf-8"), "Layers")
    patterns: dict[str, int] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].isdigit():
            continue
        for pattern in re.findall(r"`(abm[\w.]*(?:\.\*)?)`", cells[2]):
            assert pattern not in patterns, f"{pattern} is in two layers"
            patterns[pattern] = int(cells[0])
    assert len(set(patterns.values())) >= 5, "the table of layers was not found"
    return patterns


def _modules() -> dict[str, Path]:
    out = {}
    for path in (ROOT / "abm").rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _layer_of(module: str, patterns: dict[str, int]) -> int | None:
    """The layer of the most specific pattern matching ``module``."""
    best: tuple[int, int] | None = None
    for pattern, layer in patterns.items():
        if pattern.endswith(".*"):
            base = pattern[:-2]
            hit = module == base or module.startswith(base + ".")
            rank = 2 * len(base)
        else:
            hit = module == pattern
            rank = 2 * len(pattern) + 1  # an exact name beats a package of the same length
        if hit and (best is None or rank > best[0]):
            best = (rank, layer)
    return None if best is None else best[1]


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The ``abm`` modules a file imports anywhere (module level, functions, type checking);
    ``from abm import __version__`` is left out (the documented exception)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "abm")
        elif (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
              and node.module.split(".")[0] == "abm"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                if sub in modules:
                    out.add(sub)
                elif not (node.module == "abm" and alias.name == "__version__"):
                    out.add(node.module)
    return out


def test_every_module_has_a_layer() -> None:
    patterns = _layers()
    missing = [m for m in sorted(_modules()) if _layer_of(m, patterns) is None]
    assert not missing, f"add these modules to the table of layers in docs/architecture.md: " \
                        f"{missing}"


def test_no_module_imports_one_above_it() -> None:
    patterns = _layers()
    modules = _modules()
    wrong = []
    for module, path in sorted(modules.items()):
        layer = _layer_of(module, patterns)
        if layer is None:
            continue
        for target in sorted(_imports(path, modules)):
            above = _layer_of(target, patterns)
            if above is not None and above > layer:
                wrong.append(f"{module} (layer {layer}) imports {target} (layer {above})")
    assert not wrong, "imports against the layers of docs/architecture.md:\n" + "\n".join(wrong)
