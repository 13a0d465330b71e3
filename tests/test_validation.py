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
    # seven checks and one per trigger
    assert len(checks) == 7 + len(default_result.model.risk_factors)


def test_validation_fails_when_triggers_do_nothing() -> None:
    # With every effect zero the risk ratios sit at 1; the 1.10-1.25 target must fail.
    config = abm.Config().replace(**{"triggers.weather_effect": 0.0, "triggers.sleep_effect": 0.0,
                                     "triggers.stress_effect": 0.0, "triggers.diet_effect": 0.0,
                                     "population.num_patients": 400})
    result = abm.simulate(config)
    checks = {c.name: c for c in run_checks(result.frames(), config, resimulate=False)}
    for name in ("weather", "sleep", "stress", "diet"):
        assert not checks[f"trigger effect: {name}"].passed


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
