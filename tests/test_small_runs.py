"""Validation of runs too small to judge a target: no crash, ``n/a: too few …`` rows that are not
failures, and an exit status that reflects only real failures."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import abm
from abm.cli.app import main
from abm.engine.model import Model
from abm.validation.checks import MIN_DAYS_CHRONIC, format_table, run_checks
from abm.validation.rows import Check, min_patients_for_share
from abm.validation.stats import fit_logistic

NO_ATTACKS = {"population.chronic_ratio": 0.0, "population.episodic_days_per_month": [0.0, 0.0]}


def test_validate_a_one_day_run_exits_0_with_reasons(tmp_path: Path, capsys) -> None:
    # the first thing a new user tries: a quick run, then validate it
    out = tmp_path / "o"
    assert main(["run", "--days", "1", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["validate", str(out)]) == 0
    table = capsys.readouterr().out
    assert "FAIL" not in table and "nan" not in table
    assert "n/a: too few days (1; needs 90" in table
    assert "n/a: too few attacks after a weather trigger day (0; needs 100)" in table
    assert "n/a: too few attacks after a weather trigger day (0; needs 1000)" in table
    assert "n/a: too few attacks among the held-out patients (0; needs 800)" in table
    assert "targets n/a: the run is too small to judge them (not failures)" in table


@pytest.mark.parametrize(("patients", "days", "changes"), [
    (1, 1, {}), (1, 30, {}), (3, 2, {}), (20, 30, {}), (12, 100, NO_ATTACKS), (40, 120, {}),
], ids=["1x1", "1x30", "3x2", "20x30", "no-attacks", "40x120"])
def test_small_runs_never_crash_and_never_fail(patients: int, days: int, changes: dict) -> None:
    config = abm.Config().replace(**{"population.num_patients": patients, "run.days": days,
                                     **changes})
    checks = abm.validate(abm.simulate(config))
    # six rows, the observation layer's two, the ceiling's five (abm.validation.ceiling), one
    # per feedback loop switched on (the stress loop), and one per risk factor of the model
    # (plus the design's targets)
    effects = [c for c in checks if c.name.startswith("trigger effect: ")]
    assert len(effects) == len(Model.build(config).risk_factors)
    assert len(checks) - len(effects) - sum(c.name.startswith(("seed target", "literature"))
                                            for c in checks) == 14
    assert not [c for c in checks if c.failed], format_table(checks)
    for check in checks:
        if check.passed is None:
            assert check.measured.startswith("n/a: too few "), check
            assert check.result == "n/a"
            assert "nan" not in check.measured
    # what never needs a large run is always judged
    judged = {c.name for c in checks if c.passed is not None}
    assert {"triggers recomputable", "consistency", "determinism"} <= judged


def test_the_default_run_judges_every_target() -> None:
    # the minimum sizes are below the default run: 1000 patients x 180 days
    assert min_patients_for_share(0.15, 0.03) == 545 <= 1000
    assert min_patients_for_share(0.30, 0.04) == 505 <= 1000
    assert MIN_DAYS_CHRONIC <= 180


def test_a_share_far_off_target_fails_even_in_a_small_run() -> None:
    # 100 patients are too few to judge 30% ± 4 pp from the point estimate, but none with aura
    # (Wilson interval 0-3.7%) is off target whatever more patients would show
    config = abm.Config().replace(**{"population.num_patients": 100, "run.days": 20})
    frames = abm.simulate(config).frames()
    checks = {c.name: c for c in run_checks(frames, config, resimulate=False)}
    assert checks["aura share"].passed is None
    frames["patients"] = frames["patients"].with_columns(with_aura=pl.lit(False))
    checks = {c.name: c for c in run_checks(frames, config, resimulate=False)}
    assert checks["aura share"].failed
    assert checks["aura share"].measured == "0.0%"


def test_a_trigger_without_effect_fails_once_its_interval_excludes_the_target() -> None:
    # data made without the diet effect, checked against the design that has it
    config = abm.Config().replace(**{"population.num_patients": 300, "run.days": 120})
    made = abm.simulate(config.replace(**{"triggers.diet_effect": 0.0}))
    checks = {c.name: c for c in run_checks(made.frames(), config, resimulate=False)}
    # fewer than 1000 onsets after a diet day, but the interval lies below 1.15
    assert checks["trigger effect: diet"].failed
    assert checks["trigger effect: diet"].measured.startswith("RR ")


def test_exit_status_counts_failures_not_unjudged_rows(tmp_path: Path, monkeypatch,
                                                         capsys) -> None:
    out = tmp_path / "o"
    assert main(["run", "--patients", "5", "--days", "5", "--out", str(out), "--quiet"]) == 0
    rows = [Check("a", "1", "1", True), Check("b", "n/a: too few days (5; needs 90)", "x", None)]
    monkeypatch.setattr("abm.validation.checks.validate", lambda folder: rows)
    assert main(["validate", str(out)]) == 0
    monkeypatch.setattr("abm.validation.checks.validate",
                        lambda folder: [*rows, Check("c", "2", "1", False)])
    assert main(["validate", str(out)]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_fit_logistic_refuses_one_outcome_in_one_line() -> None:
    import numpy as np

    with pytest.raises(ValueError, match="both outcomes"):
        fit_logistic(np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(ValueError, match="both outcomes"):
        fit_logistic(np.ones((5, 2)), np.zeros(5))
