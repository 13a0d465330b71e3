"""What every built-in component can rely on, whatever the catalog holds: its effect can be set
by configuration, and a run with it switched off is written, read back and exported."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import polars as pl
import pytest

import abm
from abm.engine.model import Model
from abm.exports import eventlog
from abm.model.catalog import built_in
from abm.model.component import RiskFactor
from abm.output.write import read_outputs, read_run

SMALL = {"population.num_patients": 30, "run.days": 40}


def _switchable() -> list[str]:
    """The sections with an ``enabled`` setting (each switches one or more components)."""
    return list(dict.fromkeys(
        c.section._path for c in built_in() if c.section is not None
        and "enabled" in {f.name for f in dataclasses.fields(c.section)}))


@pytest.mark.parametrize("rf", [c for c in built_in() if isinstance(c, RiskFactor)],
                         ids=lambda c: c.name)
def test_effect_setting_sets_the_effect(rf: RiskFactor) -> None:
    config = abm.Config().replace(**{rf.effect_setting: 0.7})
    assert rf.effect(config) == 0.7
    assert rf.effect(abm.Config()) > 0


@pytest.mark.parametrize("section", _switchable())
def test_a_run_with_a_component_switched_off_reads_back_and_exports(section: str,
                                                                     tmp_path: Path) -> None:
    config = abm.Config().replace(**SMALL, **{f"{section}.enabled": False})
    result = abm.simulate(config)
    off = [c for c in built_in() if c.section is not None and c.section._path == section]
    assert not {c.name for c in off} & {c.name for c in result.model.components}
    for column in (col for c in off for col in c.outputs()):
        assert column.name not in getattr(result, column.frame).columns
    out = abm.write_outputs(result, tmp_path / "out")
    frames, again = read_outputs(out)
    assert again == config
    for name, frame in result.frames().items():
        assert frames[name].equals(frame), name
    _, _, model = read_run(out)  # the folder's own model: without the switched-off component
    assert {c.name for c in model.components} == {c.name for c in result.model.components}
    for fmt in ("xes", "ocel"):
        assert eventlog.write_eventlog(frames, fmt, tmp_path / f"log.{fmt}", model) > 0


def test_eventlog_of_a_run_without_a_trigger(tmp_path: Path) -> None:
    # frames as a run without the diet trigger writes them: no flag, no susceptibility
    frames = abm.simulate(abm.Config().replace(**SMALL)).frames()
    frames["attacks"] = frames["attacks"].drop("diet_trigger")
    frames["patients"] = frames["patients"].drop("susceptibility_diet")
    frames["daily"] = frames["daily"].drop("diet_trigger")
    frames["events"] = frames["events"].filter(~((pl.col("event") == "trigger")
                                                 & (pl.col("name") == "diet")))
    config = abm.Config().replace(**SMALL)
    model = Model([c for c in Model.build(config).components if c.name != "diet_trigger"],
                  config)
    path = tmp_path / "log.jsonocel"
    assert eventlog.write_eventlog(frames, "ocel", path, model) == frames["events"].height
    assert ":diet" not in path.read_text(encoding="utf-8")
    assert eventlog.write_eventlog(frames, "xes", tmp_path / "log.xes", model) > 0
