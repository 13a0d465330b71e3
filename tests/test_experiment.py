"""Experiments: the runner's frames, summaries against a hand computation, definition errors,
determinism across workers, common random numbers, the command and the example scripts."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import abm
from abm import Config
from abm.errors import ConfigError
from abm.experiments.experiment import Experiment, load_experiment, run_experiment
from abm.experiments.metrics import (
    interattack_intervals,
    lag1_autocorrelation,
    paired_metrics,
    summarize,
)
from abm.validation.stats import t_critical

ROOT = Path(__file__).resolve().parents[1]
TINY = {"population.num_patients": 40, "run.days": 40}
SCRIPTS = ("feedback_loops", "chronification", "trigger_removal", "cohort_variants",
           "weather_volatility")


def _experiment(**changes) -> Experiment:
    spec = dict(name="tiny", base=Config().replace(**TINY), replicates=3,
                variants={"off": {"feedback.stress.enabled": False}, "default": {},
                          "doubled": {"feedback.stress.points": [2, 4]}},
                reference="off", metrics=("migraine_days", "chronic_share", "risk_ratios",
                                          "feedback", "paired"))
    spec.update(changes)
    return Experiment(**spec)


@pytest.fixture(scope="module")
def tiny_result() -> abm.experiments.experiment.ExperimentResult:
    return run_experiment(_experiment(), workers=1, progress=False)


# --- the runner -------------------------------------------------------------------------------

def test_results_frame_is_tidy(tiny_result) -> None:
    results = tiny_result.results
    e = tiny_result.experiment
    assert results.columns == ["variant", "replicate", "seed", "metric", "value", "denominator"]
    assert results.dtypes == [pl.Categorical(), pl.Int32, pl.Int64, pl.Categorical(), pl.Float64,
                              pl.Int64]
    assert results.height == 3 * 3 * len(e.metric_names)
    assert results.select("variant", "replicate", "metric").n_unique() == results.height
    assert results["variant"].cast(pl.String).unique(maintain_order=True).to_list() == \
        ["off", "default", "doubled"]
    seeds = results.group_by("replicate").agg(pl.col("seed").unique()).sort("replicate")
    assert seeds["seed"].to_list() == [[42], [43], [44]]
    assert set(results["metric"].cast(pl.String)) == set(e.metric_names)
    # the loop is off in the reference: it causes no attack there, and some in "doubled"
    share = results.filter(pl.col("metric").cast(pl.String) == "feedback_attack_share")
    assert share.filter(pl.col("variant").cast(pl.String) == "off")["value"].max() == 0
    assert share.filter(pl.col("variant").cast(pl.String) == "doubled")["value"].max() > 0


def test_summary_and_paired_differences_match_a_hand_computation(tiny_result) -> None:
    results = tiny_result.results.with_columns(pl.col("variant", "metric").cast(pl.String))
    summary = tiny_result.summary
    t2 = 4.302652729749464            # Student's t, 97.5% quantile, 2 degrees of freedom
    for variant in ("off", "default", "doubled"):
        # a share's interval is a Wilson interval (tests/test_proportions.py); the t interval
        # is for the other metrics
        for metric in ("migraine_days_per_month_mean", "risk_ratio_stress"):
            def values(v: str, m: str = metric) -> np.ndarray:
                rows = results.filter((pl.col("variant") == v) & (pl.col("metric") == m))
                return rows.sort("replicate")["value"].to_numpy()

            x = values(variant)
            d = x - values("off")
            row = summary.filter((pl.col("variant") == variant)
                                 & (pl.col("metric") == metric)).row(0, named=True)
            half = t2 * x.std(ddof=1) / math.sqrt(3)
            assert row["n"] == 3 and row["reference"] == "off"
            assert row["mean"] == pytest.approx(x.mean(), rel=1e-12)
            assert row["ci_low"] == pytest.approx(x.mean() - half, rel=1e-12)
            assert row["ci_high"] == pytest.approx(x.mean() + half, rel=1e-12)
            d_half = t2 * d.std(ddof=1) / math.sqrt(3)
            assert row["diff_mean"] == pytest.approx(d.mean(), abs=1e-12)
            assert row["diff_low"] == pytest.approx(d.mean() - d_half, abs=1e-12)
            assert row["diff_high"] == pytest.approx(d.mean() + d_half, abs=1e-12)


def test_summary_skips_missing_values_and_pairs_by_replicate() -> None:
    results = pl.DataFrame({
        "variant": ["a", "a", "a", "b", "b", "b"], "replicate": [0, 1, 2, 0, 1, 2],
        "seed": [1, 2, 3, 1, 2, 3], "metric": ["m"] * 6,
        "value": [1.0, 2.0, 3.0, 2.0, float("nan"), 5.0]})
    row = summarize(results, "a").filter(pl.col("variant") == "b").row(0, named=True)
    assert row["n"] == 2 and row["mean"] == 3.5
    assert row["n_pairs"] == 2 and row["diff_mean"] == 1.5     # (2-1 + 5-3) / 2
    half = t_critical(1) * np.std([1.0, 2.0], ddof=1) / math.sqrt(2)
    assert row["diff_low"] == pytest.approx(1.5 - half)


def test_t_critical_values() -> None:
    for df, want in ((1, 12.7062047), (2, 4.3026527), (4, 2.7764451), (9, 2.2621572),
                     (30, 2.0422725)):
        assert t_critical(df) == pytest.approx(want, abs=1e-6)


def test_metric_helpers_on_hand_made_data() -> None:
    onset = np.array([[1, 0, 0, 1, 0, 1], [0, 1, 0, 0, 0, 0]], dtype=bool)
    assert interattack_intervals(onset).tolist() == [3, 2]
    assert math.isnan(lag1_autocorrelation(np.zeros((2, 5), dtype=bool)))
    alternating = np.array([[1, 0, 1, 0, 1, 0]], dtype=bool)
    assert lag1_autocorrelation(alternating) == pytest.approx(-5 / 6)
    reference = np.array([10.0, 14.0, 20.0, 2.0])
    variant = np.array([10.0, 16.0, 14.0, 2.0])
    m = paired_metrics(variant, reference, ["paired_migraine_days_per_month_diff",
                                            "attributable_fraction", "chronification_share",
                                            "remission_share"])
    assert m == {"paired_migraine_days_per_month_diff": pytest.approx(-1.0),
                 "attributable_fraction": pytest.approx(1 - 42 / 46),
                 "chronification_share": pytest.approx(1 / 3), "remission_share": 1.0}


def test_a_variant_without_changes_equals_the_reference() -> None:
    e = _experiment(variants={"ref": {}, "same": {}}, reference="ref", replicates=2)
    results = run_experiment(e, workers=1, progress=False).results
    ref = results.filter(pl.col("variant").cast(pl.String) == "ref")["value"]
    same = results.filter(pl.col("variant").cast(pl.String) == "same")["value"]
    assert ref.fill_nan(-1).to_list() == same.fill_nan(-1).to_list()


def test_results_do_not_depend_on_the_number_of_workers(tiny_result) -> None:
    two = run_experiment(tiny_result.experiment, workers=2, progress=False)
    assert two.workers == 2
    assert two.results.equals(tiny_result.results)
    assert two.summary.equals(tiny_result.summary)
    assert two.patient_days.equals(tiny_result.patient_days)


# --- common random numbers ----------------------------------------------------------------------

def test_feedback_off_changes_only_what_feedback_changed() -> None:
    """Same seed, baselines pinned: with the loop off every patient keeps the same weather,
    sleep and diet; stress differs exactly by the feedback's edits; attacks agree until the
    first edit that changed a stress level."""
    # the stress -> sleep coupling and the prodrome off: with them, the edited stress reaches
    # sleep, and the onsets it causes reach the symptoms and chocolate of the days before
    config = Config().replace(**{"population.num_patients": 150, "run.days": 60,
                                 "couplings.stress_sleep.enabled": False,
                                 "prodrome.enabled": False})
    on = abm.simulate(config)
    off = abm.simulate(config.replace(**{"feedback.stress.enabled": False}),
                       baselines=on.patients["baseline_onset_probability"])
    assert on.patients.equals(off.patients)
    assert on.weather.equals(off.weather)
    same = ["temperature", "humidity", "pressure", "pressure_change_24h", "total_sleep_hours",
            "deep_sleep_pct", "rem_sleep_pct", "awake_time_mins", "sleep_quality",
            "alcohol_consumed", "caffeine_consumed", "chocolate_consumed",
            "processed_food_consumed", "water_consumed_liters", "weather_trigger",
            "sleep_trigger", "diet_trigger"]
    assert on.daily.select(same).equals(off.daily.select(same))

    n, days = 150, 60
    edits = (on.events.filter(pl.col("event") == "feedback")
             .select(patient=pl.col("patient_id").cast(pl.String).str.slice(1).cast(pl.Int64),
                     day=(pl.col("target_date") - pl.lit(config.run.start)).dt.total_days(),
                     value=pl.col("value")))
    assert edits.height > 0
    added = np.zeros((n, days))
    added[edits["patient"].to_numpy(), edits["day"].to_numpy()] = edits["value"].to_numpy()
    stress_on = on.daily["stress_level"].to_numpy().reshape(n, days).astype(int)
    stress_off = off.daily["stress_level"].to_numpy().reshape(n, days).astype(int)
    assert np.array_equal(stress_on - stress_off, added)

    onset_on = on.daily["migraine_onset"].to_numpy().reshape(n, days)
    onset_off = off.daily["migraine_onset"].to_numpy().reshape(n, days)
    changed = added != 0
    for p in range(n):
        first = int(np.argmax(changed[p])) if changed[p].any() else days
        # onset of day d depends on day d-1's triggers: the edited day's onset is unchanged
        assert np.array_equal(onset_on[p, :first + 1], onset_off[p, :first + 1])
    untouched = ~changed.any(axis=1)
    assert untouched.sum() > 0
    assert np.array_equal(onset_on[untouched], onset_off[untouched])
    # an attack marked as caused by feedback comes after an edit that changed a stress level
    caused = on.attacks.filter(pl.col("caused_by_feedback")).select(
        patient=pl.col("patient_id").cast(pl.String).str.slice(1).cast(pl.Int64),
        day=(pl.col("onset").dt.date() - pl.lit(config.run.start)).dt.total_days())
    assert caused.height > 0
    for p, day in caused.iter_rows():
        assert changed[p, :day].any()


# --- definitions and their errors -------------------------------------------------------------

GOOD = """
name = "t"
replicates = 2
reference = "off"
[base]
population.num_patients = 30
run.days = 30
[variants.off]
"feedback.stress.enabled" = false
[variants.doubled]
feedback.stress.points = [2, 4]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_quoted_and_nested_dotted_keys_are_the_same(tmp_path: Path) -> None:
    e = load_experiment(_write(tmp_path, GOOD))
    assert e.variants == {"off": {"feedback.stress.enabled": False},
                          "doubled": {"feedback.stress.points": [2, 4]}}
    assert e.config("doubled", 1).feedback.stress.points == (2, 4)
    assert e.config("doubled", 1).run.seed == 43
    assert e.base.population.num_patients == 30
    assert e.seeds == (42, 43)
    assert Experiment.from_dict(e.to_dict()) == e


BAD = [
    (GOOD.replace("[2, 4]", "[2, 10]"),
     'variant "doubled": feedback.stress.points must be in [0, 9], got 10'),
    (GOOD.replace('"feedback.stress.enabled"', '"feedback.stres.enabled"'),
     "variant \"off\": unknown setting 'feedback.stres'"),
    (GOOD.replace("= false", '= "no"'),
     "variant \"off\": feedback.stress.enabled must be true or false, got 'no'"),
    (GOOD.replace("run.days = 30", "run.days = 30\npopulation.chronic_ratio = 1.5"),
     "base: population.chronic_ratio must be in [0, 1], got 1.5"),
    ('name = "t"\n[base]\nrun.days = 30\n', "variants: at least one variant is needed"),
    ('name = "t"\nvariants = {}\n', "variants: at least one variant is needed"),
    (GOOD.replace("replicates = 2", "replicates = 0"),
     "replicates must be a whole number >= 1, got 0"),
    (GOOD.replace("replicates = 2", 'replicates = "2"'),
     "replicates must be a whole number >= 1, got '2'"),
    (GOOD.replace("replicates = 2", "replicates = true"),
     "replicates must be a whole number >= 1, got True"),
    (GOOD.replace("replicates = 2", 'metrics = ["migraine_days", "happiness"]'),
     "metrics: unknown metric 'happiness'"),
    (GOOD.replace("replicates = 2", 'metrics = "migraine_days"'),
     "metrics must be a list of names"),
    (GOOD.replace('reference = "off"', 'reference = "on"'),
     "reference 'on' is not a variant; variants: off, doubled"),
    (GOOD.replace("replicates = 2", "replicate = 2"), "unknown key 'replicate'"),
    (GOOD.replace("replicates = 2", 'pin_baselines = "yes"'),
     "pin_baselines must be true or false, got 'yes'"),
    (GOOD + "[variants.clinic]\npopulation.chronic_ratio = 0.08\n",
     'variant "clinic": population.chronic_ratio changes who the patients are'),
    (GOOD + "[variants.seeded]\nrun.seed = 7\n", 'variant "seeded": run.seed is set per'),
    (GOOD.replace("[variants.off]", "[variants.off\n"), "malformed TOML"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_definitions_raise_one_line_naming_the_field(tmp_path: Path, text: str,
                                                         message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"{path}: ")
    assert message in text


def test_population_changes_are_allowed_without_pinning(tmp_path: Path) -> None:
    text = GOOD.replace("replicates = 2", "pin_baselines = false") + \
        "[variants.clinic]\npopulation.chronic_ratio = 0.08\n"
    assert load_experiment(_write(tmp_path, text)).config("clinic").population.chronic_ratio \
        == 0.08


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="experiment file not found"):
        load_experiment(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="is a folder"):
        load_experiment(tmp_path)


# --- the command --------------------------------------------------------------------------------

@pytest.fixture
def cli_main():
    """``abm.cli.app.main``, which runs the experiment command."""
    from abm.cli import app as cli

    return cli.main


def test_command_writes_every_output(tmp_path: Path, cli_main) -> None:
    out = tmp_path / "out"
    assert cli_main(["experiment", str(_write(tmp_path, GOOD)), "--out", str(out),
                     "--workers", "1", "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([
        "manifest.json", "migraine_days.png", "patient_days.parquet", "results.csv",
        "results.parquet", "risk_ratios.png", "summary.csv", "summary.md", "summary.parquet",
        "timeline.png"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp.toml", "out"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["abm_version"] == abm.__version__
    assert manifest["seeds"] == [42, 43]
    assert manifest["wall_seconds"] > 0
    assert manifest["experiment"]["variants"]["doubled"] == {"feedback.stress.points": [2, 4]}
    assert set(manifest["files"]) == {p.name for p in out.iterdir()} - {"manifest.json"}
    results = pl.read_parquet(out / "results.parquet")
    assert results.equals(pl.read_csv(out / "results.csv", schema=results.schema))
    # a second run needs --overwrite, and replaces the earlier output whole
    assert cli_main(["experiment", str(tmp_path / "exp.toml"), "--out", str(out),
                     "--quiet"]) == 2
    assert cli_main(["experiment", str(tmp_path / "exp.toml"), "--out", str(out), "--quiet",
                     "--overwrite", "--workers", "2"]) == 0
    assert pl.read_parquet(out / "results.parquet").equals(results)


def test_command_refuses_bad_input_with_exit_2_and_writes_nothing(
        tmp_path: Path, cli_main, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    bad = _write(tmp_path, GOOD.replace("[2, 4]", "[2, 10]"))
    assert cli_main(["experiment", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and 'variant "doubled": feedback.stress.points' in err
    assert not out.exists()
    assert cli_main(["experiment", str(tmp_path / "missing.toml"), "--out", str(out)]) == 2
    assert cli_main(["experiment", str(bad), "--workers", "0"]) == 2
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    good = _write(tmp_path, GOOD)
    assert cli_main(["experiment", str(good), "--out", str(foreign), "--overwrite"]) == 2
    assert "not an abm experiment output" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp.toml", "foreign"]


def test_a_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from abm.experiments import figures

    result = run_experiment(_experiment(replicates=1), workers=1, progress=False)

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(figures, "timeline_plot", broken)
    with pytest.raises(abm.OutputError, match="nothing was written"):
        result.write(tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


# --- the scripts --------------------------------------------------------------------------------

def test_every_script_runs(tmp_path: Path) -> None:
    """Each script in experiments/ runs end to end with --quick (all five at once)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = {name: subprocess.Popen(
        [sys.executable, str(ROOT / "experiments" / f"{name}.py"), "--quick", "--quiet",
         "--workers", "1", "--out", str(tmp_path / name)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for name in SCRIPTS}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=900)  # a guard against a hang, not a timing
        assert proc.returncode == 0, f"{name}: {stderr}"
        assert f"## {name} (quick)" in stdout and "| variant |" in stdout
        files = {p.name for p in (tmp_path / name).iterdir()}
        assert {"results.parquet", "summary.csv", "manifest.json", "timeline.png",
                "migraine_days.png", "risk_ratios.png"} <= files
