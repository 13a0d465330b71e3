"""Property tests over small random cohorts: determinism, independence, consistency.

Sizes are small (1-12 patients, 10-60 days) so that each example runs in milliseconds.
Hypothesis is derandomized: the examples are the same on every run.
"""

from __future__ import annotations

import datetime as dt
import math
from unittest import mock

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import abm
from abm import Config
from abm.engine import derive, simulation
from abm.engine.model import Model
from abm.engine.simulation import build_cohort, run_agents
from abm.model.triggers.sleep import SleepTrigger
from abm.model.triggers.stress import StressTrigger
from abm.model.triggers.weather import WeatherTrigger
from abm.output.recorder import final_onset_probability, record

#: the risk factors of the default configuration (a built-in one may be off by default)
TRIGGERS = tuple(rf.trigger for rf in Model.build(Config()).risk_factors)
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

sizes = st.fixed_dictionaries({
    "population.num_patients": st.integers(1, 12),
    "run.days": st.integers(10, 60),
    "run.seed": st.integers(0, 10**6),
})
start_dates = st.dates(dt.date(1990, 1, 1), dt.date(2040, 12, 31)).map(dt.date.isoformat)


def run(config: Config) -> abm.Result:
    """``abm.simulate`` (runs without any attack included)."""
    return abm.simulate(config)


def _days_since(column: str, start: str) -> pl.Expr:
    return (pl.col(column).cast(pl.Date) - pl.lit(dt.date.fromisoformat(start))).dt.total_days()


# --- determinism and independence ------------------------------------------------------------


@SETTINGS
@given(sizes, st.integers(1, 5))
def test_same_config_and_seed_give_identical_frames(size, block):
    config = Config().replace(**size)
    first = run(config)
    second = abm.simulate(config)
    # ... also when patients are drawn in other blocks (the unit a shard or worker would take)
    with mock.patch.object(simulation, "BLOCK_PATIENTS", block):
        sharded = abm.simulate(config)
    for name in first.FRAMES:
        assert getattr(first, name).equals(getattr(second, name)), name
        assert getattr(first, name).equals(getattr(sharded, name)), name
    other = run(config.replace(**{"run.seed": (config.run.seed + 1) % 10**6}))
    assert not first.daily.equals(other.daily)


@SETTINGS
@given(sizes, st.integers(1, 6))
def test_adding_patients_changes_no_one_else(size, extra):
    config = Config().replace(**size)
    small = run(config)
    n = config.population.num_patients
    big = run(config.replace(**{"population.num_patients": n + extra}))
    ids = small.patients["patient_id"]
    assert ids.to_list() == [f"P{i:04d}" for i in range(n)]
    for name in ("patients", "daily", "attacks"):
        theirs = getattr(big, name).filter(pl.col("patient_id").is_in(ids.implode()))
        assert theirs.equals(getattr(small, name)), name
    assert big.weather.equals(small.weather)


# --- structure and ranges --------------------------------------------------------------------


@SETTINGS
@given(sizes, start_dates)
def test_daily_rows_dates_and_ranges(size, start):
    config = Config().replace(**size, **{"run.start_date": start})
    r = run(config)
    n, days = config.population.num_patients, config.run.days
    daily, patients, attacks = r.daily, r.patients, r.attacks

    # exactly one row per patient per day, dates contiguous from the start date
    assert daily.height == n * days
    assert daily.select(pl.struct("patient_id", "date").is_unique().all()).item()
    counts = daily.group_by("patient_id").len()
    assert counts.height == n and (counts["len"] == days).all()
    assert (daily.select(_days_since("date", start))["date"] == daily["day"]).all()
    per_patient = daily.group_by("patient_id").agg(
        pl.col("date").min().alias("first"), pl.col("date").max().alias("last"),
        pl.col("day").sort().diff().drop_nulls().eq(1).all().alias("contiguous"))
    assert (per_patient["first"] == dt.date.fromisoformat(start)).all()
    assert (per_patient["last"] == dt.date.fromisoformat(start) + dt.timedelta(days - 1)).all()
    assert per_patient["contiguous"].all()

    # patients (the defaults)
    assert patients.height == n
    assert patients["age"].is_between(18, 64).all()
    assert patients["sex"].is_in(["F", "M"]).all()
    config = Config()
    for rf in Model.build(config).risk_factors:
        # responders U(0.1, 1.0) divided by the share of responders; the others 0
        share = rf.responder_share(config)
        s = patients[rf.susceptibility_column]
        assert ((s == 0) | s.is_between(0.1 / share, 1.0 / share)).all()
    target = patients["target_migraine_days_per_month"]
    chronic = patients["is_chronic"]
    assert target.filter(chronic).is_between(15, 25).all()
    assert target.filter(~chronic).is_between(1, 14).all()
    baseline = patients["baseline_onset_probability"]
    assert ((baseline >= 0) & (baseline <= 0.95)).all()

    # daily values
    assert daily["humidity"].is_between(20, 100).all()
    assert daily["total_sleep_hours"].is_between(2, 14).all()
    stages = ("deep_sleep_pct", "rem_sleep_pct", "light_sleep_pct")
    total = daily.select(pl.sum_horizontal(pl.col(c).cast(pl.Float64) for c in stages))
    assert (total.to_series() - 1).abs().max() < 1e-6
    for c in stages:
        assert daily[c].is_between(0, 1, closed="none").all()
    assert (daily["awake_time_mins"] >= 0).all()
    assert daily["sleep_quality"].is_between(0, 100).all()
    assert daily["stress_level"].is_between(1, 10).all()
    assert (daily["water_consumed_liters"] > 0).all()
    for c in daily.columns:
        if daily[c].dtype.is_float():
            assert daily[c].is_finite().all(), c

    # the patient's weather is the location's, plus a small fixed personal offset
    joined = daily.join(r.weather, on=["location_id", "date"], suffix="_loc")
    assert joined.height == daily.height
    assert (joined["day"] == joined["day_loc"]).all()
    assert (joined["pressure_change_24h"] == joined["pressure_change_24h_loc"]).all()
    wx = config.weather
    for column, offset in (("temperature", wx.patient_offset_temperature_c),
                           ("pressure", wx.patient_offset_pressure_hpa)):
        gap = (joined[column].cast(pl.Float64) - joined[f"{column}_loc"].cast(pl.Float64)).abs()
        assert gap.max() <= offset + 0.051  # + rounding to 0.1
    loc_of = dict(patients.select("patient_id", "location_id").rows())
    assert all(loc_of[p] == loc for p, loc in daily.select("patient_id", "location_id").rows())

    # attacks
    if attacks.height:
        untreated = attacks.filter(~pl.col("treated"))["duration_hours"]
        assert untreated.is_between(4, 72).all()
        assert attacks["duration_hours"].is_between(0, 72, closed="right").all()
        assert attacks["severity"].is_between(1, 10).all()
        assert (attacks["p_baseline"] <= attacks["p_onset"]).all()
        assert (attacks["p_onset"] <= 0.95).all()
        length_ms = (attacks["end"] - attacks["onset"]).dt.total_milliseconds()
        assert ((length_ms - attacks["duration_hours"] * 3_600_000).abs() < 1).all()
        onset_day = attacks.select(_days_since("onset", start)).to_series()
        assert onset_day.is_between(0, days - 1).all()

    # events: sorted by time, location events without a patient, one onset per attack
    events = r.events
    assert events["time"].is_sorted()
    weather_events = events.filter(pl.col("event") == "weather")
    assert weather_events.height > 0 and weather_events["patient_id"].null_count() == \
        weather_events.height
    assert events.filter(pl.col("event") == "migraine_onset").height == attacks.height


# --- triggers --------------------------------------------------------------------------------


trigger_rules = st.fixed_dictionaries({
    "triggers.pressure_drop_hpa": st.sampled_from([3.0, 5.0, 7.5]),
    "triggers.stress_rise_points": st.integers(1, 4),
    "triggers.diet_min_items": st.integers(1, 3),
    "triggers.short_sleep_hours": st.sampled_from([5.0, 6.0]),
    "triggers.long_sleep_hours": st.sampled_from([8.0, 9.0]),
})


@SETTINGS
@given(sizes, trigger_rules)
def test_triggers_are_recomputable_from_the_logged_columns(size, rules_over):
    config = Config().replace(**size, **rules_over)
    r = run(config)
    n, days = config.population.num_patients, config.run.days
    daily = r.daily.sort("patient_id", "day")
    rules = config.triggers

    # with the risk factors' own flag functions, from the logged columns only
    model = Model.build(config)
    for rf in model.risk_factors:
        columns = {c: daily[c].to_numpy().reshape(n, days) for c, _ in rf.inputs}
        assert np.array_equal(derive.flag_of(rf, columns, config).ravel(),
                              daily[rf.flag_column].to_numpy()), rf.name

    # with plain Polars expressions written here, as a user of the export would
    rise = pl.col("stress_level").cast(pl.Int32) - pl.col("stress_level").cast(pl.Int32).shift(
        1).over("patient_id")
    mine = daily.select(
        weather=pl.col("pressure_change_24h") <= -rules.pressure_drop_hpa,
        sleep=(pl.col("total_sleep_hours") < rules.short_sleep_hours)
        | (pl.col("total_sleep_hours") > rules.long_sleep_hours),
        stress=(rise >= rules.stress_rise_points).fill_null(False),
        diet=pl.sum_horizontal(pl.col("alcohol_consumed", "caffeine_consumed",
                                      "chocolate_consumed").cast(pl.Int32))
        >= rules.diet_min_items,
    )
    for name in mine.columns:  # the seed triggers, by hand
        assert mine[name].equals(daily[f"{name}_trigger"], check_names=False), name
    assert not daily.filter(pl.col("day") == 0)["stress_trigger"].any()


@SETTINGS
@given(st.lists(st.floats(-20, 20, allow_nan=False).map(lambda v: round(v, 1)), max_size=30),
       st.lists(st.floats(2, 14, allow_nan=False).map(lambda v: round(v, 2)), max_size=30),
       st.lists(st.integers(1, 10), max_size=30))
def test_trigger_functions_match_their_definitions(changes, hours, levels):
    config = abm.Config()

    def flags(rf, column, values, dtype):
        return derive.flag_of(rf, {column: np.array(values, dtype)}, config).tolist()

    assert flags(WeatherTrigger(), "pressure_change_24h", changes, float) == [
        c <= -5 for c in changes]
    assert flags(SleepTrigger(), "total_sleep_hours", hours, float) == [
        h < 5 or h > 9 for h in hours]
    expected = [False] + [b - a >= 3 for a, b in zip(levels, levels[1:], strict=False)]
    assert flags(StressTrigger(), "stress_level", levels, np.int8) == expected[:len(levels)]


# --- attacks, migraine days and onset probabilities ------------------------------------------


@SETTINGS
@given(sizes, st.booleans())
def test_migraine_days_are_exactly_the_attack_spans(size, feedback):
    config = Config().replace(**size, **{"feedback.stress.enabled": feedback})
    r = run(config)
    start = config.run.start_date
    days = config.run.days
    daily, attacks = r.daily, r.attacks
    first = dt.date.fromisoformat(start)
    last = first + dt.timedelta(days - 1)

    # an attack occupies [onset, end); a day is a migraine day iff some attack overlaps it
    spans = (attacks.select(
        "attack_id", "patient_id",
        pl.date_ranges(pl.col("onset").dt.date(),
                       (pl.col("end") - pl.duration(milliseconds=1)).dt.date()).alias("date"))
        .explode("date").filter(pl.col("date") <= last))
    assert spans.select(pl.struct("patient_id", "date").is_unique().all()).item(), \
        "two attacks of one patient overlap a day"
    covered = daily.filter("has_migraine").select("patient_id", "date", "attack_id").sort(
        "patient_id", "date")
    assert covered.equals(spans.select("patient_id", "date", "attack_id")
                          .sort("patient_id", "date"))
    assert daily["attack_id"].is_null().equals(~daily["has_migraine"], check_names=False)

    # an onset day is the onset's date
    onsets = daily.filter("migraine_onset").select("patient_id", "date", "attack_id")
    assert onsets.sort("patient_id", "date").equals(
        attacks.select("patient_id", pl.col("onset").dt.date().alias("date"), "attack_id")
        .sort("patient_id", "date"))

    # at most one attack at a time: a new onset's day starts after the previous attack ended
    gaps = attacks.sort("patient_id", "onset").select(
        ok=pl.col("onset").dt.truncate("1d") >= pl.col("end").shift(1).over("patient_id"))
    assert gaps["ok"].drop_nulls().all()

    # the ground truth: the attack's triggers are those logged the day before its onset
    before = daily.select("patient_id", (pl.col("date") + pl.duration(days=1)).alias("o"),
                          *[f"{k}_trigger" for k in TRIGGERS],
                          pl.col("pressure_change_24h").alias("drop_before"),
                          pl.col("alcohol_drinks").alias("drinks_before"),
                          (pl.col("stress_level").cast(pl.Int16)
                           - pl.col("stress_level").shift(1).over("patient_id"))
                          .alias("rise_before"))
    truth = attacks.with_columns(pl.col("onset").dt.date().alias("o")).join(
        before, on=["patient_id", "o"], how="left", suffix="_logged")
    for k in TRIGGERS:
        logged = truth[f"{k}_trigger_logged"].fill_null(False)  # day 0 has no logged past
        assert truth[f"{k}_trigger"].equals(logged, check_names=False), k

    # p_onset = min(cap, baseline * prod over active triggers of
    # (1 + effect * dose * susceptibility)); a drop of 10 hPa, a rise of 5 points or 8 drinks:
    # the large dose
    effects = {rf.trigger: rf.effect(config) for rf in Model.build(config).risk_factors}
    assert effects["weather"] == config.triggers.weather_effect
    # ... the baseline times the patient's frequency drift of the onset day
    drift = daily.select("patient_id", pl.col("date").alias("o"), "frequency_drift")
    full = truth.join(r.patients, on="patient_id", suffix="_patient").join(
        drift, on=["patient_id", "o"], how="left")
    cap = config.attacks.max_onset_probability
    rules = config.triggers

    def dose(k: str, row: dict) -> float:
        if k == "weather":
            return rules.weather_doses[row["drop_before"] <= -rules.large_pressure_drop_hpa]
        if k == "stress":
            return rules.stress_doses[row["rise_before"] >= rules.large_stress_rise_points]
        if k == "alcohol":
            return rules.alcohol.doses[row["drinks_before"] >= rules.alcohol.large_drinks]
        return 1.0

    for row in full.iter_rows(named=True):
        factor = math.prod(1 + effects[k] * dose(k, row) * row[f"susceptibility_{k}"]
                           for k in TRIGGERS if row[f"{k}_trigger"])
        baseline = row["baseline_onset_probability"] * row["frequency_drift"]
        expected = min(cap, baseline * factor)
        assert math.isclose(row["p_onset"], expected, rel_tol=1e-12, abs_tol=1e-15)
        assert math.isclose(row["p_baseline"], min(cap, baseline), rel_tol=1e-12)
    if not feedback:
        assert not attacks["caused_by_feedback"].any()


feedback_variants = st.fixed_dictionaries({
    "triggers.stress_effect": st.floats(0, 6),
    "triggers.sleep_effect": st.floats(0, 6),
    "triggers.stress_rise_points": st.integers(1, 4),
    "feedback.stress.enabled": st.booleans(),
    "feedback.stress.points": st.lists(st.integers(0, 4), min_size=2, max_size=2).map(sorted),
    "feedback.sleep.enabled": st.booleans(),
    "feedback.sleep.extra_hours": st.floats(-4, 4),
    "population.chronic_ratio": st.floats(0, 1),
})


@SETTINGS
@given(sizes, feedback_variants)
def test_onsets_follow_the_final_onset_probabilities(size, variant):
    # Strong effects and feedback edits exercise the patients' incremental updates: after the
    # run, on every free day (no attack under way at its start) an attack started iff that
    # day's pre-drawn uniform fell below the probability recomputed from the final series.
    config = Config().replace(**size, **variant)
    cohort = build_cohort(Model.build(config))
    run_agents(cohort)
    p = final_onset_probability(cohort)
    days = cohort.days
    for i, onsets in enumerate(cohort.onsets):
        assert onsets == sorted(set(onsets))
        started = np.zeros(days, bool)
        busy = np.zeros(days, bool)  # an attack is under way at the start of the day
        for d in onsets:
            assert not busy[d], "onset while an attack is under way"
            started[d] = True
            busy[d + 1:d + int(cohort.attacks.span_days[i, d])] = True
        free = ~busy
        assert np.array_equal(started[free], (cohort.onset_uniform[i] < p[i])[free])
    # the trigger codes the agents used are those of the final logged series
    model = cohort.model
    recomputed = derive.pack(derive.levels(model, cohort.columns), model.fields,
                              model.code_bytes)
    assert np.array_equal(cohort.codes, recomputed)
    # and the attacks frame reports exactly these probabilities
    if any(cohort.onsets):
        attacks = record(cohort).attacks
        expected = [p[i, d] for i, onsets in enumerate(cohort.onsets) for d in onsets]
        assert attacks["p_onset"].to_list() == expected


# --- the event log ---------------------------------------------------------------------------


def _key(frame: pl.DataFrame) -> pl.DataFrame:
    """Comparable rows: text as strings, values at 0.001 (logged values have <= 2 decimals)."""
    return frame.select(
        pl.col("date"), pl.col("patient_id").cast(pl.String), pl.col("location_id").cast(pl.String),
        pl.col("event").cast(pl.String), pl.col("name").cast(pl.String),
        pl.col("value").cast(pl.Float64).round(3), pl.col("attack_id").cast(pl.String),
    ).sort(pl.all(), nulls_last=True)


@SETTINGS
@given(sizes, start_dates)
def test_event_log_is_the_frames_in_time_order(size, start):
    config = Config().replace(**size, **{"run.start_date": start})
    r = run(config)
    daily, attacks, events = r.daily, r.attacks, r.events
    days = config.run.days
    assert events["time"].is_sorted()

    # the daily logs and the location weather: one event per patient (location) and day
    logs = [r.weather.select(pl.col("date"), patient_id=pl.lit(None, pl.String),
                             location_id="location_id", event=pl.lit("weather"),
                             name=pl.lit("pressure"), value="pressure",
                             attack_id=pl.lit(None, pl.String))]
    for event, name, value in (
            ("stress_log", "stress_level", pl.col("stress_level")),
            ("diet_log", "diet_items", pl.sum_horizontal(pl.col(
                "alcohol_consumed", "caffeine_consumed", "chocolate_consumed").cast(pl.Int32))),
            ("sleep", "total_sleep_hours", pl.col("total_sleep_hours"))):
        logs.append(daily.select("date", "patient_id", "location_id", event=pl.lit(event),
                                 name=pl.lit(name), value=value.cast(pl.Float64),
                                 attack_id=pl.lit(None, pl.String)))
    for name in TRIGGERS:
        logs.append(daily.filter(f"{name}_trigger").select(
            "date", "patient_id", "location_id", event=pl.lit("trigger"), name=pl.lit(name),
            value=pl.lit(None, pl.Float64), attack_id=pl.lit(None, pl.String)))
    expected = pl.concat([_key(f) for f in logs]).sort(pl.all(), nulls_last=True)
    fixed = events.filter(pl.col("event").cast(pl.String).is_in(
        ["weather", "stress_log", "diet_log", "sleep", "trigger"])).with_columns(
        date=pl.col("time").dt.date())
    assert _key(fixed).equals(expected)

    # each kind is logged at one time of day, in the order of the daily clock
    hours = fixed.group_by("event").agg(pl.col("time").dt.time().unique().alias("t"))
    assert (hours["t"].list.len() == 1).all()
    at = {e: t[0] for e, t in hours.rows()}
    assert at["weather"] < at["stress_log"] <= at["diet_log"] < at["sleep"]
    if "trigger" in at:
        assert at["trigger"] >= at["sleep"]

    # onsets and ends at the attack's own times
    loc_of = r.patients.select("patient_id", "location_id")
    for event, time, name, value in (("migraine_onset", "onset", "severity", "severity"),
                                     ("migraine_end", "end", "duration_hours",
                                      "duration_hours")):
        want = attacks.join(loc_of, on="patient_id").select(
            pl.col(time).alias("time"), "patient_id", "location_id", pl.lit(name).alias("name"),
            pl.col(value).cast(pl.Float64).alias("value"), "attack_id")
        got = events.filter(pl.col("event") == event).select(want.columns)
        assert got.height == attacks.height
        cast = [pl.col(c).cast(pl.String) for c in ("patient_id", "location_id", "name",
                                                      "attack_id")]
        assert got.with_columns(cast).sort(pl.all()).equals(
            want.with_columns(cast).sort(pl.all()))

    # feedback (stress rule, on by default): one edit per onset with a next day in the run,
    # logged at the onset's time and naming the day after it
    feedback = events.filter(pl.col("event") == "feedback").with_columns(
        pl.col("attack_id").cast(pl.String))
    onset_of = attacks.select(pl.col("attack_id").cast(pl.String), "onset")
    joined = feedback.join(onset_of, on="attack_id", how="left")
    assert joined["onset"].null_count() == 0
    assert (joined["time"] == joined["onset"]).all()
    if "target_date" in joined.columns:
        assert (joined["target_date"] == joined["onset"].dt.date() + dt.timedelta(days=1)).all()
    last = dt.date.fromisoformat(start) + dt.timedelta(days - 1)
    assert feedback.height == attacks.filter(pl.col("onset").dt.date() < last).height
