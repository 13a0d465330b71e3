"""The observation layer: the observed frame, its sources, and the exports made from it."""

from __future__ import annotations

import pickle

import numpy as np
import polars as pl
import pytest

import abm
from abm.config.settings import Config
from abm.exports import fusemoe
from abm.exports.eventlog import export_eventlog
from abm.exports.source import observed_events
from abm.model.observation.diary import Diary
from abm.model.observation.wearable import Wearable
from abm.model.observed import observed_columns
from abm.output.schemas import OBSERVED_KEYS
from abm.output.write import read_outputs, write_outputs
from abm.validation.observation import observation_checks

N, DAYS = 300, 180
CONFIG = Config().replace(**{"population.num_patients": N, "run.days": DAYS, "run.seed": 7})
DIARY = [c for c in Diary.observes if c != "cycle_day"]  # cycle_day: null without a cycle


@pytest.fixture(scope="module")
def result():
    return abm.simulate(CONFIG)


@pytest.fixture(scope="module")
def perfect():
    return abm.simulate(CONFIG.replace(**{"observation.enabled": False}))


def test_keys_and_columns_are_dailys(result):
    observed, daily = result.observed, result.daily
    recorded = list(observed_columns(result.model))
    assert observed.columns == [*OBSERVED_KEYS, *recorded, "diary_time", "wearable_time"]
    assert observed.select(*OBSERVED_KEYS).equals(daily.select(*OBSERVED_KEYS))
    for name in recorded:
        assert observed.schema[name] == daily.schema[name]


def test_nulls_exactly_where_nothing_was_recorded(result):
    o = result.observed
    diary, wearable = o["diary_time"].is_null(), o["wearable_time"].is_null()
    for name in DIARY:
        assert o[name].is_null().equals(diary), name
    for name in Wearable.observes:
        assert o[name].is_null().equals(wearable), name
    assert o.select(pl.col("temperature", "pressure").null_count()).sum_horizontal().item() == 0


def test_perfect_record_when_the_layer_is_off(perfect):
    recorded = list(observed_columns(perfect.model))
    assert perfect.observed.select(recorded).equals(perfect.daily.select(recorded))
    assert perfect.observed.select(pl.col("diary_time", "wearable_time").null_count()) \
        .sum_horizontal().item() == 0


def test_truth_is_the_same_with_the_layer_on_or_off(result, perfect):
    for name in ("patients", "daily", "weather", "attacks", "events"):
        assert getattr(result, name).equals(getattr(perfect, name)), name


def test_same_seed_same_record(result):
    again = abm.simulate(CONFIG)
    assert again.observed.equals(result.observed)


def test_missing_share_and_attack_days(result):
    checks = {c.name: c for c in observation_checks(result.frames(), CONFIG, N, DAYS)}
    assert checks["diary days missing"].passed, checks["diary days missing"].measured
    assert checks["diary missing on attack days"].passed, \
        checks["diary missing on attack days"].measured
    joined = result.observed.select("diary_time", "patient_id", "day").join(
        result.daily.select("patient_id", "day", "has_migraine"), on=["patient_id", "day"])
    shares = joined.group_by("has_migraine").agg(pl.col("diary_time").is_null().mean())
    share = dict(shares.iter_rows())
    # 54,000 patient-days: the shares' sampling error is well under a point
    assert share[True] >= 1.2 * share[False]


def test_adherence_decays(result):
    o = result.observed
    first = o.filter(pl.col("day") < DAYS // 2)["diary_time"].is_null().mean()
    second = o.filter(pl.col("day") >= DAYS // 2)["diary_time"].is_null().mean()
    assert second > first + 0.03


def test_dropout_leaves_about_a_third_logging_at_90_days():
    cfg = CONFIG.replace(**{"observation.diary.dropout": True})
    o = abm.simulate(cfg).observed
    last = o.filter(pl.col("diary_time").is_not_null()).group_by("patient_id").agg(
        pl.col("day").max())
    still = int((last["day"] >= 90).sum()) / N
    # 32.4% retained (Seng 2018), less the patients who just missed those days: binomial SE 2.7 pp
    assert 0.18 <= still <= 0.42


def test_answers_are_rounded_and_off_by_little(result):
    o = result.observed.join(result.daily, on=["patient_id", "day"], suffix="_true")
    o = o.filter(pl.col("diary_time").is_not_null())
    off = (o["stress_level"].cast(pl.Int16) - o["stress_level_true"].cast(pl.Int16)).abs()
    assert off.max() <= 1 and 0.05 < (off > 0).mean() < 0.4
    water = o["water_consumed_liters"].to_numpy()
    assert np.allclose(water * 4, np.round(water * 4), atol=1e-4)
    s = result.observed.drop_nulls("wearable_time")
    total = s.select(pl.sum_horizontal("deep_sleep_pct", "rem_sleep_pct", "light_sleep_pct"))
    assert (total.to_series() - 1).abs().max() < 2e-3
    w = o.drop_nulls("wearable_time")
    error = (w["total_sleep_hours"] - w["total_sleep_hours_true"]).abs()
    assert error.max() < 0.25 * 6 and error.mean() < 0.3


def test_recalled_days_are_entered_the_next_day(result):
    o = result.observed.drop_nulls("diary_time")
    entry_day = o["diary_time"].dt.date()
    later = entry_day > o["date"]
    assert 0 < later.sum() < 0.2 * o.height
    assert (entry_day.filter(later) - o["date"].filter(later)).dt.total_days().max() == 1
    assert (o["diary_time"].dt.hour().filter(~later) >= 17).all()
    w = result.observed.drop_nulls("wearable_time")
    assert ((w["wearable_time"].dt.date() - w["date"]).dt.total_days() == 1).all()


def test_fusemoe_masks_follow_what_was_observed(result):
    frames = result.frames()
    prepared = fusemoe.plan(frames, 2, 1, result.model)
    index = fusemoe.FEATURE_INDEX["stress_level"]
    o = result.observed
    end = o["date"].max()
    recorded = o.filter(pl.col("stress_level").is_not_null()
                        & (pl.col("diary_time").dt.date() <= end)).height
    assert int(prepared.rows.mask[:, index].sum()) == recorded < N * DAYS
    truth = fusemoe.plan(frames, 2, 1, result.model, truth=True)
    assert int(truth.rows.mask[:, index].sum()) == N * DAYS  # every day, at its fixed hour
    # a recorded value sits at its entry time: the diary's rows are not all at 20:00
    diary_rows = prepared.rows.mask[:, index] > 0
    assert len(np.unique(prepared.rows.minute[diary_rows])) > 100
    assert set(np.unique(truth.rows.minute[truth.rows.mask[:, index] > 0])) == {20 * 60}


def test_exports_observed_by_default_and_truth_on_request(tmp_path):
    small = CONFIG.replace(**{"population.num_patients": 20, "run.days": 30})
    out = write_outputs(abm.simulate(small), tmp_path / "run")
    frames, _ = read_outputs(out)
    assert frames["observed"]["diary_time"].null_count() > 0
    fusemoe.export_fusemoe(out, tmp_path / "obs")
    fusemoe.export_fusemoe(out, tmp_path / "truth", truth=True)
    index = fusemoe.FEATURE_INDEX["stress_level"]
    for kind, full in (("obs", False), ("truth", True)):
        with open(tmp_path / kind / "train_ihm-migraine_stays.pkl", "rb") as handle:
            samples = pickle.load(handle)
        per_sample = [int(s["irg_ts_mask"][:, index].sum()) for s in samples]
        assert (min(per_sample) == 2) is full  # two days in the window, both recorded
    export_eventlog(out, tmp_path / "obs.parquet")
    export_eventlog(out, tmp_path / "truth.parquet", truth=True)
    observed = pl.read_parquet(tmp_path / "obs.parquet")
    truth = pl.read_parquet(tmp_path / "truth.parquet")
    stress = frames["observed"]["stress_level"].is_not_null().sum()
    assert observed.filter(pl.col("event") == "stress_log").height == stress
    assert truth.filter(pl.col("event") == "stress_log").height == 20 * 30
    assert observed.filter(pl.col("event") == "migraine_onset").equals(
        truth.filter(pl.col("event") == "migraine_onset"))


def test_observed_event_values_are_the_recorded_ones(result):
    frames = observed_events(result.frames(), result.model)
    logs = frames["events"].filter(pl.col("event") == "stress_log").with_columns(
        day=(pl.col("time").dt.date() - pl.lit(CONFIG.run.start)).dt.total_days().cast(pl.Int32))
    joined = logs.join(result.observed, on=["patient_id", "day"])
    assert (joined["value"] == joined["stress_level"].cast(pl.Float64)).all()
