"""The ceiling of a run (oracle AUROC of the ground-truth onset probability) beside the
baselines, in ``abm validate`` and ``abm benchmark``."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

import abm
from abm.cli.app import main
from abm.exports.fusemoe import split_patients
from abm.validation.ceiling import (
    MIN_TEST_ONSETS,
    WITHIN_RANGE,
    at_risk_days,
    auprc,
    ceiling_checks,
    difference,
    measure,
    scored,
)
from abm.validation.configured import onset_probabilities
from abm.validation.stats import auroc


@pytest.fixture(scope="module")
def default_ceiling():
    """The default run (1000 patients x 180 days, seed 42) measured as abm validate does."""
    result = abm.simulate(abm.Config())
    frames = result.frames()
    frames["daily"] = frames["daily"].sort(["patient_id", "date"])
    n, days = frames["patients"].height, result.config.run.days
    data = at_risk_days(frames, result.model, n, days)
    split = split_patients(n, result.config.run.seed)
    held_out = np.sort(np.concatenate([split["val"], split["test"]]))
    p = onset_probabilities(frames["daily"], frames["patients"], result.model, n, days)
    rows = {c.name: c for c in ceiling_checks(frames, result.config, result.model, n, days, p)}
    return measure(data, split["train"], held_out), rows


def test_default_within_person_oracle_is_in_the_published_range(default_ceiling) -> None:
    c, rows = default_ceiling
    k, mean, low, high = c.within
    assert k >= 900  # nearly every patient has attacks and attack-free days
    lo, hi = WITHIN_RANGE
    assert lo <= mean <= hi and high - low < 0.03, c.within
    assert rows["oracle AUROC, within-person"].passed
    # pooled, telling frequent from rare patients apart adds to it
    assert c.oracle_all.auroc > mean and rows["oracle AUROC, pooled"].passed


def test_default_oracle_is_above_every_baseline(default_ceiling) -> None:
    c, rows = default_ceiling
    assert c.oracle.onsets >= MIN_TEST_ONSETS
    for baseline in (c.history, c.features, c.both):
        # the ground truth ranks at least as well, within the baseline's interval
        assert baseline.low <= c.oracle.auroc, baseline
        assert baseline.onsets == c.oracle.onsets and baseline.days == c.oracle.days
    assert c.features.auroc < c.oracle.auroc
    assert rows["history baseline AUROC"].passed
    assert rows["observed-features baseline AUROC"].passed


def test_default_features_add_signal_beyond_history(default_ceiling) -> None:
    c, rows = default_ceiling
    diff, low, high = c.beyond
    assert low > 0, c.beyond
    assert math.isclose(diff, c.both.auroc - c.history.auroc, abs_tol=1e-9)
    row = rows["learnability: features beyond history"]
    assert row.passed and row.measured.startswith("+")


@pytest.mark.parametrize(("patients", "days"), [(1, 1), (3, 2), (20, 30)])
def test_tiny_runs_give_na_rows(patients: int, days: int) -> None:
    config = abm.Config().replace(**{"population.num_patients": patients, "run.days": days})
    checks = [c for c in abm.validate(abm.simulate(config), resimulate=False)
              if c.name.startswith(("oracle", "history", "observed-features", "learnability"))]
    assert len(checks) == 5
    for check in checks:
        assert check.passed is None, check
        assert check.measured.startswith("n/a: too few ") and "nan" not in check.measured


def test_clustered_auroc_and_its_difference() -> None:
    rng = np.random.default_rng(3)
    label = rng.random(4000) < 0.2
    score = label + rng.normal(size=4000)
    cluster = np.arange(4000) // 20
    s = scored(score, label, cluster)
    assert math.isclose(s.auroc, auroc(score, label), abs_tol=1e-12)
    assert s.low < s.auroc < s.high and s.high - s.low < 0.1
    assert difference(score, score, label, cluster) == (0.0, 0.0, 0.0)
    perfect = label.astype(float)
    assert auprc(perfect, label) == 1.0
    assert math.isnan(scored(score, np.zeros(4000, bool), cluster).auroc)


@pytest.fixture(scope="module")
def small_export(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("bench")
    out, fm = root / "run", root / "fm"
    assert main(["run", "--patients", "100", "--days", "90", "--out", str(out),
                 "--quiet"]) == 0
    assert main(["export", "fusemoe", str(out), "--to", str(fm), "--quiet"]) == 0
    return out, fm


def _table(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["model"]: row for row in csv.DictReader(handle)}


def test_benchmark_uses_the_fusemoe_split(small_export, tmp_path: Path, capsys) -> None:
    out, fm = small_export
    assert main(["benchmark", str(out), "--fusemoe", str(fm), "--to",
                 str(tmp_path / "b.csv"), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("| model | AUROC | 95% CI | AUPRC |")
    table = _table(tmp_path / "b.csv")
    assert list(table) == ["oracle (ground-truth p_onset)", "attack history",
                           "observed features", "history + observed features"]
    # the test days are the export's test samples, its positives the onsets
    test = json.loads((fm / "fusemoe.json").read_text())["splits"]["test"]
    for row in table.values():
        assert (int(row["days"]), int(row["onsets"])) == (test["samples"], test["positive"])
        assert 0.5 < float(row["auroc"]) <= 1 and float(row["auroc_low"]) < float(row["auroc"])
    # without --fusemoe the split is made as the export makes it: the same table
    assert main(["benchmark", str(out), "--to", str(tmp_path / "c.csv"), "--quiet"]) == 0
    assert _table(tmp_path / "c.csv") == table


def test_benchmark_refuses_bad_input_and_writes_nothing(small_export, tmp_path: Path,
                                                         capsys) -> None:
    out, fm = small_export
    other = tmp_path / "other"
    assert main(["run", "--patients", "20", "--days", "30", "--out", str(other),
                 "--quiet"]) == 0
    target = tmp_path / "b.csv"
    cases = [
        [str(tmp_path / "nowhere")],
        [str(out), "--fusemoe", str(tmp_path)],  # no fusemoe.json
        [str(other), "--fusemoe", str(fm)],  # another run's split
        [str(out), "--fusemoe", str(fm), "--window-days", "3"],
        [str(out), "--window-days", "90"],
        [str(out), "--fusemoe", str(fm), "--seed", "1"],
    ]
    for argv in cases:
        capsys.readouterr()
        assert main(["benchmark", *argv, "--to", str(target)]) == 2, argv
        captured = capsys.readouterr()
        assert len(captured.err.strip().splitlines()) == 1 and not captured.out, argv
        assert not target.exists()
    capsys.readouterr()
    assert main(["benchmark", str(out), "--to", str(out / "b.csv")]) == 2  # inside OUT
    assert not (out / "b.csv").exists()
    target.write_text("mine")
    assert main(["benchmark", str(out), "--to", str(target)]) == 2  # exists
    assert target.read_text() == "mine"
