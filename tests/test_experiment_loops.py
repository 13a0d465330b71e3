"""The feedback loops in experiments: the metric groups ``medication``, ``chronification``,
``loops``, ``chronic_course`` and ``realized_course`` (against ``abm.validation.loops`` and a
hand computation, and with each loop switched off), the study figures, the timeline of a run with
the slow states, and the scripts' output folders."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from abm import Config
from abm.engine.simulation import simulate
from abm.experiments import figures
from abm.experiments.experiment import Experiment, run_experiment
from abm.experiments.metrics import (
    COURSE_MONTHS,
    course_metrics,
    is_percent,
    is_share,
    resolve,
    run_denominators,
    run_metrics,
)
from abm.validation.loops import loop_metrics

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG"
LOOP_GROUPS = ("medication", "chronification", "loops", "chronic_course", "realized_course")


def _population(**changes) -> Config:
    return Config.from_dict({"population": {"preset": "population"}}).replace(
        **{"population.num_patients": 150, "run.days": 95, **changes})


@pytest.fixture(scope="module")
def population_run():
    return simulate(_population())


def _names() -> tuple[str, ...]:
    return resolve(LOOP_GROUPS, ())


def test_the_groups_name_their_metrics() -> None:
    names = _names()
    assert {"treated_attack_share", "medication_days_per_month", "overuse_patient_share",
            "chronification_rate_per_year", "chronic_state_end_share",
            "median_days_to_chronification", "loop_gain_stress_loop", "loop_gain_circle",
            "loop_gain_medication_overuse", "loop_gain_chronification", "loop_gain_all",
            "chronic_state_share_month_01", "chronified_share_month_24",
            "realized_chronic_share_month_24"} <= set(names)
    assert len([n for n in names if "_month_" in n]) == 3 * COURSE_MONTHS
    # shares of patients, attacks and days: Wilson intervals; gains and rates: t intervals
    assert is_share("overuse_patient_share") and is_share("chronified_share_month_07")
    assert not is_share("loop_gain_all") and not is_share("chronification_rate_per_year")
    assert all(is_percent(n) for n in ("loop_gain_circle", "chronification_rate_per_year",
                                       "realized_chronic_share_month_03"))
    assert not is_percent("median_days_to_chronification")


def test_run_metrics_read_the_loop_metrics(population_run) -> None:
    r = population_run
    n, days = r.patients.height, r.config.run.days
    m = loop_metrics(r.daily, r.attacks, n, days)
    values = run_metrics(r, _names())
    assert values["loop_gain_all"] == pytest.approx(m.caused / m.attacks)
    assert values["loop_gain_medication_overuse"] == pytest.approx(
        m.by_loop["medication overuse"] / m.attacks)
    assert values["treated_attack_share"] == pytest.approx(m.treated_share)
    assert values["overuse_patient_share"] == pytest.approx(m.overuse_patients)
    assert values["chronification_rate_per_year"] == pytest.approx(m.chronification_rate)
    # patients who overuse from day 0 (the preset has some) are among those who ever overuse
    assert 0 < values["overuse_at_start_share"] <= values["overuse_patient_share"]
    state = r.daily["chronic_state"].to_numpy().reshape(n, days)
    assert values["chronic_state_end_share"] == pytest.approx(state[:, -1].mean())
    # 95 days: three whole months, nothing after
    assert "chronic_state_share_month_03" in values
    assert "chronic_state_share_month_04" not in values
    units = run_denominators(r, _names())
    assert units["overuse_patient_share"] == n and units["treated_attack_share"] == m.attacks
    assert units["chronified_share_month_02"] == int((~state[:, 0]).sum())


def test_switched_off_loops_give_what_the_model_did() -> None:
    off = simulate(_population(**{"feedback.overuse.enabled": False,
                                  "feedback.chronification.enabled": False,
                                  "feedback.stress.enabled": False,
                                  "medication.enabled": False}))
    assert not {"medication_overuse", "chronic_state", "acute_medication"} & set(off.daily.columns)
    values = run_metrics(off, _names())
    for name in ("treated_attack_share", "medication_days_per_month", "overuse_patient_share",
                 "overuse_day_share", "overuse_at_start_share", "chronification_rate_per_year",
                 "remission_rate_per_year", "chronified_patient_share", "loop_gain_stress_loop",
                 "loop_gain_medication_overuse", "loop_gain_chronification", "loop_gain_all",
                 "chronified_share_month_03"):
        assert values[name] == 0.0, name
    assert math.isnan(values["median_days_to_chronification"])
    label = float(off.patients["is_chronic"].mean())
    assert values["chronic_state_end_share"] == pytest.approx(label)
    assert values["chronic_state_share_month_02"] == pytest.approx(label)


def test_course_metrics_by_hand() -> None:
    n, days = 3, 65                         # two whole months of 30 days, 5 days left over
    state = np.zeros((n, days), dtype=bool)
    state[1, 40:] = True                    # chronic from day 40 (month 2)
    state[2, :] = True                      # chronic throughout
    has = np.zeros((n, days), dtype=bool)
    has[0, :15] = True                      # 15 migraine days in month 1
    has[2, 30:44] = True                    # 14 in month 2
    daily = pl.DataFrame({"chronic_state": state.ravel(), "has_migraine": has.ravel()})
    out = course_metrics(daily, np.array([False, False, True]), has, n, days)
    assert out == {"chronic_state_share_month_01": pytest.approx(1 / 3),
                   "chronified_share_month_01": 0.0,
                   "realized_chronic_share_month_01": pytest.approx(1 / 3),
                   "chronic_state_share_month_02": pytest.approx(2 / 3),
                   "chronified_share_month_02": 0.5,
                   "realized_chronic_share_month_02": 0.0}


def _summary() -> pl.DataFrame:
    rows = []
    for v, shift in (("ref", 0.0), ("a", -0.01), ("b", 0.002)):
        for metric, base in (("paired_migraine_days_per_month_diff", 0.0),
                             ("loop_gain_all", 0.06), ("loop_gain_circle", 0.0004),
                             ("chronification_rate_per_year", 0.025),
                             *((f"chronic_state_share_month_{k:02d}", 0.07) for k in (1, 2, 3))):
            mean = base + shift if v != "ref" or base else 0.0
            d = mean - base if metric != "paired_migraine_days_per_month_diff" else None
            rows.append((v, metric, 3, mean, mean - 0.003, mean + 0.003, "ref", 3,
                         d if v != "ref" else 0.0, None if d is None else d - 0.001,
                         None if d is None else d + 0.001))
    schema = ["variant", "metric", "n", "mean", "ci_low", "ci_high", "reference", "n_pairs",
              "diff_mean", "diff_low", "diff_high"]
    return pl.DataFrame(rows, schema=schema, orient="row")


def test_study_figures_and_manifest(tmp_path: Path) -> None:
    summary = _summary()
    paths = [
        figures.difference_forest(summary, {"paired_migraine_days_per_month_diff": "days",
                                            "chronification_rate_per_year": "rate"},
                                  tmp_path / "d.png"),
        figures.loop_gain_plot(summary, tmp_path / "g.png"),
        figures.course_plot(summary, tmp_path / "c.png", variants=["ref", "a"]),
    ]
    for path in paths:
        assert path.read_bytes().startswith(PNG)
    (tmp_path / "manifest.json").write_text(json.dumps({"files": {}}))
    figures.add_to_manifest(tmp_path, paths)
    record = json.loads((tmp_path / "manifest.json").read_text())
    assert sorted(record["files"]) == ["c.png", "d.png", "g.png"]
    assert record["files"]["d.png"]["bytes"] == paths[0].stat().st_size


def test_the_timeline_of_a_run_with_slow_states(population_run, tmp_path: Path) -> None:
    timeline = figures.extract_timeline(population_run, "all")
    assert timeline.states is not None
    assert {"medication_days_30d", "medication_overuse", "chronic_state", "state_multiplier",
            "medicated"} <= set(timeline.states.columns)
    assert timeline.states.height == population_run.config.run.days
    assert timeline.notes["overuse_threshold"] in (10, 15)
    tier = figures._state_tier(population_run)
    row = population_run.patients["patient_id"].cast(pl.String).to_list().index(
        timeline.patient_id)
    assert tier[row] == tier.max()
    assert figures.timeline_plot(timeline, tmp_path / "t.png").read_bytes().startswith(PNG)
    # the default clinic model has no slow state: the timeline is the usual one
    clinic = simulate(Config().replace(**{"population.num_patients": 20, "run.days": 20}))
    assert figures.extract_timeline(clinic, "x").states is None


def test_an_experiment_with_the_loop_groups(tmp_path: Path) -> None:
    e = Experiment(name="loops", base=_population(**{"population.num_patients": 60,
                                                     "run.days": 62}),
                   variants={"all": {}, "no_overuse": {"feedback.overuse.enabled": False}},
                   replicates=2, metrics=(*LOOP_GROUPS, "paired"))
    result = run_experiment(e, workers=1, progress=False)
    summary = result.summary
    row = summary.filter((pl.col("variant") == "no_overuse")
                         & (pl.col("metric") == "overuse_patient_share")).row(0, named=True)
    assert row["mean"] == 0.0 and row["ci_low"] == 0.0 and row["ci_high"] > 0  # Wilson
    months = summary.filter(pl.col("metric") == "chronic_state_share_month_03")
    assert months["mean"].null_count() == months.height          # 62 days: two months
    result.write(tmp_path / "out")
    assert "| loop_gain_all |" in (tmp_path / "out" / "summary.md").read_text()


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "experiments" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_chronification_script_writes_its_figures(tmp_path: Path, capsys) -> None:
    module = _script("chronification")
    out = tmp_path / "out"
    argv = ["--patients", "40", "--days", "61", "--replicates", "2", "--workers", "1",
            "--quiet", "--out", str(out)]
    assert module.main(argv) == 0
    assert "## chronification (resized)" in capsys.readouterr().out
    files = json.loads((out / "manifest.json").read_text())["files"]
    for name in ("chronic_course.png", "differences.png", "timeline.png"):
        assert (out / name).read_bytes().startswith(PNG) and name in files
