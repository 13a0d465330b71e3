"""Shares get intervals for proportions (Wilson score), never below 0% or above 100%, and every
experiment output shows them as percentages."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

from abm import Config
from abm.cli.app import main
from abm.experiments.experiment import Experiment, run_experiment
from abm.experiments.metrics import PERCENT, SHARES, is_share, long_table, summarize
from abm.validation.stats import share_interval, wilson_interval


@pytest.mark.parametrize(("successes", "n", "low", "high"), [
    # Wilson (1927) 95% intervals, as tabulated by Newcombe (1998, Stat Med 17:857)
    (0, 10, 0.0, 0.2775), (1, 10, 0.0179, 0.4042), (5, 10, 0.2366, 0.7634),
    (10, 10, 0.7225, 1.0), (81, 263, 0.2553, 0.3662),
])
def test_wilson_interval_against_published_values(successes: int, n: int, low: float,
                                                   high: float) -> None:
    assert wilson_interval(successes, n) == pytest.approx((low, high), abs=1e-4)


def test_wilson_interval_matches_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    for k, n in ((0, 1), (1, 3), (2, 500), (499, 500), (37, 80)):
        ci = stats.binomtest(k, n).proportion_ci(method="wilson")
        assert wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_wilson_interval_stays_within_0_and_1() -> None:
    for n in (1, 2, 7, 100, 10**6):
        for k in (0, 1, n // 2, n - 1, n):
            low, high = wilson_interval(k, n)
            assert 0.0 <= low <= k / n <= high <= 1.0
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_share_interval_of_replicates() -> None:
    # 0, 1 and 0 chronifications among 500 episodic patients each: a t interval over the three
    # shares would be 0.07% ± 0.29% (below zero); as a proportion it is 1 of 1500
    n, share, low, high = share_interval([0.0, 0.002, 0.0], [500, 500, 500])
    assert (n, share) == (3, pytest.approx(1 / 1500))
    assert (low, high) == pytest.approx(wilson_interval(1, 1500))
    assert low >= 0
    # the mean of the runs' shares, its interval over all their units
    n, share, low, high = share_interval([0.5, 0.25], [10, 30])
    assert share == 0.375 and (low, high) == pytest.approx(wilson_interval(15, 40))
    # runs without a value or without units are left out
    assert share_interval([float("nan"), None, 0.5], [10, 10, 4])[:2] == (1, 0.5)
    assert share_interval([0.5], [0])[0] == 0


def _results(values: list[float], metric: str = "chronification_share",
             units: int | None = 500) -> pl.DataFrame:
    k = len(values)
    return pl.DataFrame({
        "variant": ["ref"] * k + ["v"] * k, "replicate": [*range(k)] * 2,
        "seed": [*range(k)] * 2, "metric": [metric] * (2 * k),
        "value": [0.0] * k + values, "denominator": [units] * (2 * k)},
        schema_overrides={"denominator": pl.Int64})


def test_summary_of_a_share_never_goes_below_zero() -> None:
    row = summarize(_results([0.0, 0.002, 0.0]), "ref").filter(
        pl.col("variant") == "v").row(0, named=True)
    assert row["mean"] == pytest.approx(1 / 1500)
    assert 0 <= row["ci_low"] < row["mean"] < row["ci_high"] < 0.01
    # the difference from the reference is paired and may be negative: t interval
    assert row["diff_low"] < 0 < row["diff_high"]
    # a metric that is not a share keeps the t interval (it may be negative)
    other = summarize(_results([0.0, 0.002, 0.0], "paired_migraine_days_per_month_diff", None),
                      "ref").filter(pl.col("variant") == "v").row(0, named=True)
    assert other["ci_low"] < 0


def test_every_share_of_a_small_experiment_stays_within_0_and_100_percent() -> None:
    experiment = Experiment(
        name="small", base=Config().replace(**{"population.num_patients": 30, "run.days": 40}),
        variants={"off": {"feedback.stress.enabled": False}, "on": {},
                  "doubled": {"feedback.stress.points": [2, 4]}},
        replicates=3, metrics=("chronic_share", "feedback", "paired", "trigger_days", "cohort"))
    result = run_experiment(experiment, workers=1, progress=False)
    results = result.results.with_columns(pl.col("metric").cast(pl.String))
    share_names = [m for m in results["metric"].unique().to_list() if is_share(m)]
    assert set(SHARES) & set(share_names) and "weather_trigger_day_share" in share_names
    shares = results.filter(pl.col("metric").is_in(share_names))
    assert shares["denominator"].null_count() == 0
    assert results.filter(~pl.col("metric").is_in(share_names))["denominator"].null_count() \
        == results.height - shares.height
    summary = result.summary.filter(pl.col("metric").cast(pl.String).is_in(share_names)
                                    & pl.col("ci_low").is_not_null())
    assert summary.height > 0
    assert summary["ci_low"].min() >= 0 and summary["ci_high"].max() <= 1
    table = result.table({"feedback_attack_share": "attacks caused by feedback",
                          "chronification_share": "episodic -> chronic"})
    assert "-0." not in table.split("Δ")[0]


def test_long_table_shows_shares_as_percentages() -> None:
    summary = pl.DataFrame({
        "variant": ["a", "a"], "metric": ["chronic_share", "migraine_days_per_month_mean"],
        "n": [3, 3], "mean": [0.1483, 9.337], "ci_low": [0.1452, 9.28],
        "ci_high": [0.1514, 9.39], "reference": ["a", "a"], "n_pairs": [3, 3],
        "diff_mean": [0.0, 0.0], "diff_low": [None, None], "diff_high": [None, None]},
        schema_overrides={"n": pl.Int32, "n_pairs": pl.Int32, "diff_low": pl.Float64,
                          "diff_high": pl.Float64})
    table = long_table(summary)
    assert "| a | chronic_share | 3 | 14.83% [14.52%, 15.14%] | 0% |" in table
    assert "| a | migraine_days_per_month_mean | 3 | 9.337 [9.28, 9.39] | 0 |" in table
    assert "chronic_share" in PERCENT


def test_the_experiment_command_prints_percentages_like_the_scripts(tmp_path: Path,
                                                                     capsys) -> None:
    spec = tmp_path / "tiny.toml"
    spec.write_text('replicates = 2\nmetrics = ["migraine_days", "chronic_share", "feedback", '
                    '"paired"]\n[base]\npopulation.num_patients = 20\nrun.days = 30\n'
                    '[variants.off]\n"feedback.stress.enabled" = false\n[variants.on]\n')
    assert main(["experiment", str(spec), "--out", str(tmp_path / "out"), "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    rows = {line.split(" | ")[1]: line for line in printed.splitlines()
            if line.startswith("| on |")}
    assert "%" in rows["chronic_share"] and "%" in rows["feedback_attack_share"]
    assert "%" not in rows["migraine_days_per_month_mean"]
    written = (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    assert "| on | chronic_share |" in written and "%" in written
