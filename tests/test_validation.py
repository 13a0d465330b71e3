"""The default configuration meets every validation target, and validation sees real failures."""

from __future__ import annotations

import polars as pl
import pytest

import abm
from abm.validation.checks import run_checks


@pytest.fixture(scope="module")
def default_result() -> abm.Result:
    return abm.simulate(abm.Config())


def test_default_configuration_meets_every_target(default_result: abm.Result) -> None:
    checks = abm.validate(default_result)
    failed = [(c.name, c.measured) for c in checks if not c.passed]
    assert not failed
    names = [c.name for c in checks]
    # one row per risk factor against its configured effect, and the design's 15-20% for each
    # seed trigger
    for rf in default_result.model.risk_factors:
        assert f"trigger effect: {rf.trigger}" in names
    assert [n for n in names if n.startswith("seed target: ")] == [
        f"seed target: {t}" for t in ("weather", "sleep", "stress", "diet")]


def test_validation_fails_when_triggers_do_nothing() -> None:
    # Data made with every seed effect zero, checked against the design that says 0.32: the
    # ratios sit at 1, far from what the design implies and below its 1.10-1.25.
    zero = {"triggers.weather_effect": 0.0, "triggers.sleep_effect": 0.0,
            "triggers.stress_effect": 0.0, "triggers.diet_effect": 0.0}
    design = abm.Config().replace(**{"population.num_patients": 400})
    result = abm.simulate(design.replace(**zero))
    checks = {c.name: c for c in run_checks(result.frames(), design, resimulate=False)}
    for name in ("weather", "sleep", "stress", "diet"):
        assert checks[f"trigger effect: {name}"].failed
        assert not checks[f"seed target: {name}"].passed
    # checked against the configuration it was made with, the same data passes
    honest = {c.name: c for c in run_checks(result.frames(), design.replace(**zero),
                                            resimulate=False)}
    assert all(honest[f"trigger effect: {n}"].passed is not False
               for n in ("weather", "sleep", "stress", "diet"))
    assert "seed target: diet" not in honest


def test_write_then_validate_folder(tmp_path, default_result: abm.Result) -> None:
    out = abm.write_outputs(default_result, tmp_path / "out")
    checks = abm.validate(out)
    assert all(c.passed for c in checks)


def test_validation_detects_a_trigger_that_does_not_follow_from_the_data(
        default_result: abm.Result) -> None:
    frames = default_result.frames()
    frames["daily"] = frames["daily"].with_columns(pl.col("sleep_trigger").not_())
    checks = {c.name: c for c in run_checks(frames, default_result.config, resimulate=False)}
    assert not checks["triggers recomputable"].passed
    assert checks["aura share"].passed
