"""The patients' slow states (``abm.engine.states``): medication overuse, chronification and the
interventions, checked against their definitions on the frames.

- overuse: starts the day after the medication days of the last 90 days reach 3 x the monthly
  threshold of the patient's class (ICHD-3), or on day 0 for the prevalent overusers; ends when
  the count falls below;
- ``state_multiplier``: 1 without a state, ``baseline_factor`` during overuse (times the switched
  factor of a changed patient), fading back with time constant ``reversion_days``; ``p_baseline``
  recomputable from it;
- chronification: a change comes on the day the accumulated hazard crosses a pre-drawn
  exponential threshold; the patient then moves to their switched target;
- determinism of the event-driven states; the preventive, the medication limit and trigger
  avoidance.

Most checks read the population run of ``feedback_runs`` (500 patients x 730 days, seed 3).
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from conftest import drawn_block
from feedback_runs import (
    POPULATION_DAYS,
    chronification_rates,
    clinic_config,
    clinic_draws,
    clinic_run,
    count_between,
    indexed_attacks,
    matrix,
    overuse_need,
    periods,
    population_config,
    population_run,
    prevalent_overuse,
    window_counts,
)

import abm
from abm.model.attacks import span_days
from abm.validation.configured import onset_probabilities

WINDOW = 90  # feedback.overuse.months (3) x 30 days


@pytest.fixture(scope="module")
def pop() -> abm.Result:
    return population_run()


@pytest.fixture(scope="module")
def states(pop: abm.Result) -> dict[str, np.ndarray]:
    """The population run's state columns and medication days as (patients, days) arrays."""
    med = matrix(pop, "acute_medication") != "none"
    chronic = matrix(pop, "chronic_state")
    is_chronic = pop.patients.sort("patient_id")["is_chronic"].to_numpy()
    return {"over": matrix(pop, "medication_overuse"), "mult": matrix(pop, "state_multiplier"),
            "chronic": chronic, "changed": chronic != is_chronic[:, None], "med": med,
            "cum": window_counts(med), "need": overuse_need(pop),
            "prevalent": prevalent_overuse(pop)}


def _count(s: dict, i: int, last: int) -> int:
    """Medication days of patient ``i`` in the overuse window ending on day ``last``."""
    return count_between(s["cum"], i, last - WINDOW + 1, last)


def _known(s: dict, i: int, day: int) -> bool:
    """Whether a window ending on ``day`` is fully in the frames: a prevalent overuser has a
    history of medication days before day 0 that the frames do not show."""
    return not s["prevalent"][i] or day >= WINDOW - 1


# --- medication overuse ------------------------------------------------------------------------


def test_prevalent_overusers_overuse_from_day_0(pop: abm.Result, states) -> None:
    s = states
    assert s["prevalent"].sum() >= 10
    np.testing.assert_array_equal(s["over"][:, 0], s["prevalent"])
    # their baseline carries the medication-overuse headache from the start
    factor = np.float32(pop.config.feedback.overuse.baseline_factor)
    np.testing.assert_array_equal(s["mult"][:, 0], np.where(s["prevalent"], factor, 1))


def test_overuse_starts_the_day_after_the_count_reaches_the_threshold(states) -> None:
    s = states
    checked = 0
    for i, start, _ in periods(s["over"]):
        if start == 0 or not _known(s, i, start - 1):
            continue
        checked += 1
        # the day before is a medication day that takes the 90-day count to the threshold
        assert s["med"][i, start - 1], (i, start)
        assert _count(s, i, start - 1) >= s["need"][i], (i, start)
    assert checked >= 30


def test_overuse_ends_when_the_count_falls_below_the_threshold(states) -> None:
    s = states
    checked = 0
    for i, _, end in periods(s["over"]):
        if end >= POPULATION_DAYS or not _known(s, i, end - 1):
            continue
        checked += 1
        # the window ending on the end day, without the day itself (its attack, if any, comes
        # after the check), holds fewer medication days than the threshold
        assert count_between(s["cum"], i, end - WINDOW + 1, end - 1) < s["need"][i], (i, end)
    assert checked >= 30


def test_every_day_after_the_count_reaches_the_threshold_is_an_overuse_day(states) -> None:
    # abm.model.feedback.overuse: a patient overuses on a day when their medication days in the
    # months x 30 days before it reach months times their class's monthly threshold
    s = states
    missing = []
    for i in range(s["med"].shape[0]):
        for m in np.flatnonzero(s["med"][i, :-1]):
            if _known(s, i, m - 1) and _count(s, i, m) >= s["need"][i] > _count(s, i, m - 1) \
                    and not s["over"][i, m + 1]:
                missing.append((i, int(m) + 1, float(s["mult"][i, m + 1])))
    assert not missing, f"days after a crossing without overuse (patient, day, multiplier): " \
                        f"{missing[:5]}"


# --- the state multiplier ----------------------------------------------------------------------


def _first_crossing(s: dict, i: int, since: int) -> int:
    """The first day from ``since`` whose overuse window holds the threshold (``days``: none)."""
    days = s["med"].shape[1]
    for d in range(since, days):
        if s["med"][i, d] and _count(s, i, d) >= s["need"][i]:
            return d
    return days


def test_state_multiplier_is_1_without_a_state(states) -> None:
    s = states
    n, days = s["mult"].shape
    checked = 0
    for i in range(n):
        if s["prevalent"][i]:
            continue
        # before any overuse could start and before any change of state
        quiet = min(_first_crossing(s, i, 0) + 1,
                    int(np.argmax(s["changed"][i])) if s["changed"][i].any() else days, days)
        assert (s["mult"][i, :quiet] == 1).all(), i
        checked += quiet
    assert checked > 0.8 * n * days


def test_state_multiplier_during_overuse_is_the_baseline_factor(pop: abm.Result,
                                                                states) -> None:
    s = states
    factor = pop.config.feedback.overuse.baseline_factor
    over, changed, mult = s["over"], s["changed"], s["mult"]
    assert over.sum() > 1000
    np.testing.assert_array_equal(mult[over & ~changed], np.float32(factor))
    # a patient who changed state: the switched factor on top, one per patient
    both = over & changed
    assert both.any()
    for i in np.flatnonzero(both.any(axis=1)):
        switched = mult[i][both[i]].astype(np.float64) / factor
        np.testing.assert_allclose(switched, switched[0], rtol=1e-6)


def test_state_multiplier_fades_after_overuse(pop: abm.Result, states) -> None:
    s = states
    o = pop.config.feedback.overuse
    n, days = s["mult"].shape
    starts = {}
    for i, start, _ in periods(s["over"]):
        starts.setdefault(i, []).append(start)
    segments = long = 0
    for i, _, end in periods(s["over"]):
        if end >= days or not _known(s, i, end):
            continue
        later = [x for x in starts[i] if x > end]
        # until the next overuse, a hidden restart (a crossing) or a change of state
        stop = min(later[0] if later else days, _first_crossing(s, i, end) + 1,
                   end + int(np.argmax(s["changed"][i, end:])) if s["changed"][i, end:].any()
                   else days)
        if s["changed"][i, end] or stop <= end:
            continue
        t = np.arange(stop - end)
        expected = 1 + (o.baseline_factor - 1) * np.exp(-t / o.reversion_days)
        np.testing.assert_allclose(s["mult"][i, end:stop], expected, rtol=1e-6)
        assert (np.diff(s["mult"][i, end:stop]) <= 0).all()
        segments += 1
        long += stop - end > 2 * o.reversion_days
    assert segments >= 20 and long >= 3


def test_p_baseline_is_recomputable(pop: abm.Result) -> None:
    a = indexed_attacks(pop).join(
        pop.daily.select("patient_id", pl.col("day").cast(pl.Int64).alias("d"),
                         "frequency_drift", "state_multiplier"),
        on=["patient_id", "d"]).join(
        pop.patients.select("patient_id", "baseline_onset_probability"), on="patient_id")
    assert a.height == pop.attacks.height
    cap = pop.config.attacks.max_onset_probability
    # the float order of the engine: (baseline x drift) x state, then the cap
    expected = np.minimum(cap, (a["baseline_onset_probability"].to_numpy()
                                * a["frequency_drift"].cast(pl.Float64).to_numpy())
                          * a["state_multiplier"].cast(pl.Float64).to_numpy())
    np.testing.assert_array_equal(a["p_baseline"].to_numpy(), expected)
    assert (a["state_multiplier"] != 1).mean() > 0.05  # the states do enter


def test_p_onset_is_the_probability_recomputed_from_the_logged_columns(pop: abm.Result) -> None:
    n, days = pop.patients.height, pop.config.run.days
    p = onset_probabilities(pop.daily.sort("patient_id", "day"), pop.patients, pop.model, n,
                            days)
    a = indexed_attacks(pop)
    np.testing.assert_array_equal(a["p_onset"].to_numpy(),
                                  p[a["i"].to_numpy(), a["d"].to_numpy()])


def test_overuse_brings_more_migraine_days(pop: abm.Result) -> None:
    # the same patients with the same baselines, overuse switched off (pinned baselines keep
    # calibration from compensating); paired by patient
    k = 300
    baselines = pop.patients.sort("patient_id")["baseline_onset_probability"][:k]
    off = abm.simulate(population_config(**{"population.num_patients": k,
                                            "feedback.overuse.enabled": False}),
                       baselines=baselines)
    assert "medication_overuse" not in off.daily.columns
    on_days = matrix(pop, "has_migraine")[:k].sum(axis=1)
    off_days = matrix(off, "has_migraine").sum(axis=1)
    diff = (on_days - off_days).astype(np.float64)
    # the mean paired difference is above 0 by more than 3 standard errors
    assert diff.mean() > 3 * diff.std(ddof=1) / math.sqrt(k), (diff.mean(), diff.std())


# --- chronification ----------------------------------------------------------------------------


def _first_changes(result: abm.Result) -> tuple[np.ndarray, np.ndarray]:
    """Each patient's first and second day of a changed ``chronic_state`` (-1: none)."""
    chronic = matrix(result, "chronic_state")
    first, second = np.full(len(chronic), -1), np.full(len(chronic), -1)
    for i, row in enumerate(chronic):
        days = np.flatnonzero(row[1:] != row[:-1]) + 1
        if days.size:
            first[i] = days[0]
        if days.size > 1:
            second[i] = days[1]
    return first, second


def test_chronic_state_starts_as_labelled_and_changes_at_the_hazard(pop: abm.Result,
                                                                    states) -> None:
    s = states
    is_chronic = pop.patients.sort("patient_id")["is_chronic"].to_numpy()
    np.testing.assert_array_equal(s["chronic"][:, 0], is_chronic)
    rate, overuse_odds, remission = chronification_rates(pop)
    first, _ = _first_changes(pop)
    days = POPULATION_DAYS
    # the first change of a patient: the accumulated hazard (doubled while overusing) up to the
    # change or the end is the expected count of first changes (Poisson, 4 SD)
    for group, hazard in ((~is_chronic, rate[:, None] * np.where(s["over"], overuse_odds, 1.0)),
                          (is_chronic, np.full(s["over"].shape, remission))):
        exposed = np.arange(days - 1)[None, :] < np.where(first >= 0, first, days - 1)[:, None]
        expected = (hazard[:, :-1] * exposed)[group].sum()
        observed = int((first[group] >= 0).sum())
        assert abs(observed - expected) <= 4 * math.sqrt(expected) + 1, (observed, expected)
    # rare: a few percent of the patients in two years
    assert 0 < (first >= 0).mean() < 0.15


@pytest.fixture(scope="module")
def chronifying() -> abm.Result:
    """Everyone at risk all the time: annual rates of 0.9, no overuse (a constant hazard)."""
    return abm.simulate(population_config(**{
        "population.num_patients": 200, "run.days": 365, "feedback.overuse.enabled": False,
        "feedback.chronification.low_frequency_annual_rate": 0.9,
        "feedback.chronification.remission_annual_rate": 0.9}))


def _thresholds(result: abm.Result, k: int) -> np.ndarray:
    """The pre-drawn threshold of each patient's ``k``-th change (an exponential variate)."""
    return drawn_block(result.config).patients[f"_change_threshold_{k}"]


def _state_rates(result: abm.Result) -> tuple[np.ndarray, np.ndarray]:
    """Each patient's daily hazard in their first state, and in the other."""
    rate, _, remission = chronification_rates(result)
    chronic = result.patients.sort("patient_id")["is_chronic"].to_numpy()
    return np.where(chronic, remission, rate), np.where(chronic, rate, remission)


def test_a_change_comes_when_the_hazard_crosses_the_drawn_threshold(chronifying) -> None:
    first, _ = _first_changes(chronifying)
    days = chronifying.config.run.days
    rate, _ = _state_rates(chronifying)
    # a constant hazard crosses the threshold T on day ceil(T / rate) (at least day 1); no
    # change when that is past the run
    crossing = np.maximum(1, np.ceil(_thresholds(chronifying, 0) / rate))
    np.testing.assert_array_equal(first, np.where(crossing < days, crossing, -1))
    assert (first > 0).mean() > 0.8


def test_each_change_has_a_threshold_of_its_own(chronifying) -> None:
    # abm.model.feedback.chronification: the state machine accumulates the hazard and computes
    # the day it crosses "a pre-drawn threshold (an exponential variate per change)"
    first, second = _first_changes(chronifying)
    days = chronifying.config.run.days
    _, rate = _state_rates(chronifying)
    changed = first > 0
    crossing = first + np.maximum(1, np.ceil(_thresholds(chronifying, 1) / rate))
    expected = np.where(crossing < days, crossing, -1)
    wrong = changed & (second != expected)
    assert not wrong.any(), (f"{wrong.sum()} of {changed.sum()} second changes off; "
                             f"{((second - first) == 1)[changed].sum()} a day after the first")


@pytest.fixture(scope="module")
def chronified() -> abm.Result:
    """Episodic patients chronify fast and stay chronic (no remission, no overuse)."""
    return abm.simulate(population_config(**{
        "population.num_patients": 200, "run.days": 365, "feedback.overuse.enabled": False,
        "feedback.chronification.low_frequency_annual_rate": 0.9,
        "feedback.chronification.remission_annual_rate": 0.0}))


def test_a_chronified_patient_moves_to_the_switched_target(chronified) -> None:
    r = chronified
    p = r.patients.sort("patient_id")
    s = r.config.feedback.chronification
    chronic = p["is_chronic"].to_numpy()
    switched = p["switched_target_migraine_days_per_month"].to_numpy()
    lo, hi = s.chronic_days_per_month
    assert ((switched >= lo) & (switched <= hi))[~chronic].all()
    lo, hi = s.remission_days_per_month
    assert ((switched >= lo) & (switched <= hi))[chronic].all()
    first, _ = _first_changes(r)
    assert (first[chronic] == -1).all()  # no remission
    has = matrix(r, "has_migraine")
    mult = matrix(r, "state_multiplier")
    days = r.config.run.days
    rows = np.flatnonzero(~chronic & (first >= 60) & (first <= days - 60))
    assert rows.size >= 30
    before = np.array([has[i, :first[i]].mean() for i in rows]) * 30
    after = np.array([has[i, first[i]:].mean() for i in rows]) * 30
    # the baseline moves by one factor from the change on (above 1: a chronic target)
    for i in rows:
        assert (mult[i, :first[i]] == 1).all()
        assert (mult[i, first[i]:] == mult[i, first[i]]).all() and mult[i, first[i]] > 1
    # after the change the patients have about their switched target (the baseline calibrated
    # for it): the mean difference within 4 SE of the per-patient differences, plus 5% for the
    # part of the run each period covers; and clearly more than before
    gap = after - switched[rows]
    assert abs(gap.mean()) <= 4 * gap.std(ddof=1) / math.sqrt(rows.size) \
        + 0.05 * switched[rows].mean(), gap.mean()
    rise = after - before
    assert rise.mean() > 3 * rise.std(ddof=1) / math.sqrt(rows.size)


def test_no_change_without_a_hazard() -> None:
    r = abm.simulate(population_config(**{
        "population.num_patients": 200, "run.days": 365,
        "feedback.chronification.low_frequency_annual_rate": 0.0,
        "feedback.chronification.remission_annual_rate": 0.0}))
    is_chronic = r.patients.sort("patient_id")["is_chronic"].to_numpy()
    np.testing.assert_array_equal(matrix(r, "chronic_state"),
                                  np.repeat(is_chronic[:, None], r.config.run.days, axis=1))
    assert not r.attacks["feedback_chain"].drop_nulls().str.contains("chronification").any()
    assert matrix(r, "medication_overuse").any()  # the other state still runs


# --- determinism -------------------------------------------------------------------------------


def _strings(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col(pl.Categorical).cast(pl.String))


def test_the_same_configuration_gives_the_same_frames() -> None:
    config = population_config(**{"population.num_patients": 60, "run.days": 365,
                                  "run.seed": 11})
    a, b = abm.simulate(config), abm.simulate(config)
    assert matrix(a, "medication_overuse").any()
    for name, frame in a.frames().items():
        assert frame.equals(b.frames()[name]), name


def test_the_first_patients_of_a_run_are_a_run_of_their_own(pop: abm.Result) -> None:
    few = abm.simulate(population_config(**{"population.num_patients": 25}))
    ids = few.patients["patient_id"].cast(pl.String)
    assert matrix(few, "medication_overuse").any()
    for name in ("patients", "daily", "attacks"):
        mine = _strings(getattr(few, name))
        theirs = _strings(getattr(pop, name)).filter(pl.col("patient_id").is_in(ids.implode()))
        assert mine.equals(theirs), name


# --- interventions -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def preventive() -> tuple[abm.Result, abm.Result]:
    """The clinic run, and the same cohort (pinned baselines) with half the patients on a
    preventive (factor 0.6) from day 90."""
    reference = clinic_run()
    baselines = reference.patients.sort("patient_id")["baseline_onset_probability"]
    treated = abm.simulate(clinic_config(**{"interventions.preventive_start_day": 90,
                                            "interventions.preventive_factor": 0.6,
                                            "interventions.preventive_share": 0.5}),
                           baselines=baselines)
    return reference, treated


def test_a_preventive_multiplies_the_baseline_from_its_start(preventive) -> None:
    _, run = preventive
    mult = matrix(run, "state_multiplier")
    on = mult[:, -1] != 1
    n = len(mult)
    # the share of patients who take it: binomial, 4 SD
    assert abs(on.mean() - 0.5) <= 4 * math.sqrt(0.25 / n)
    np.testing.assert_array_equal(mult[on, 90:], np.float32(0.6))
    assert (mult[on, :90] == 1).all() and (mult[~on] == 1).all()


def test_a_preventive_changes_only_the_attacks_it_can_reach(preventive) -> None:
    reference, run = preventive
    on = matrix(run, "state_multiplier")[:, -1] != 1
    ref, new = indexed_attacks(reference), indexed_attacks(run)
    columns = reference.attacks.columns

    def part(a: pl.DataFrame, keep: pl.Expr) -> pl.DataFrame:
        return _strings(a.filter(keep).select(columns))

    # patients without it, and everyone before day 90: the same attacks (common random numbers)
    untreated = pl.col("i").is_in(np.flatnonzero(~on).tolist())
    assert part(ref, untreated).equals(part(new, untreated))
    early = pl.col("i").is_in(np.flatnonzero(on).tolist()) & (pl.col("d") < 90)
    assert part(ref, early).equals(part(new, early))
    # those on it: fewer migraine days from day 90 (paired; more than 3 SE below 0)
    diff = (matrix(run, "has_migraine")[on, 90:].sum(axis=1)
            - matrix(reference, "has_migraine")[on, 90:].sum(axis=1)).astype(np.float64)
    assert diff.mean() < -3 * diff.std(ddof=1) / math.sqrt(diff.size), diff.mean()


def test_a_medication_limit_leaves_attacks_untreated() -> None:
    limit, start = 4, 100
    run = abm.simulate(clinic_config(**{"interventions.medication_limit_days": limit,
                                        "interventions.medication_limit_start_day": start}))
    _, draws = clinic_draws()
    a = indexed_attacks(run)
    i, d = a["i"].to_numpy(), a["d"].to_numpy()
    cum = window_counts(matrix(run, "acute_medication") != "none")
    # medication days in the 30-day window ending on the onset day, before the attack's own
    before = np.array([count_between(cum, ii, dd - 29, dd - 1) for ii, dd in zip(i, d,
                                                                                  strict=True)])
    limited = (d >= start) & (before >= limit)
    treated = a["treated"].to_numpy()
    # treated exactly when the draws say so and the limit allows it
    np.testing.assert_array_equal(treated, draws.treated[i, d] & ~limited)
    refused = draws.treated[i, d] & limited
    assert refused.sum() > 100
    # a refused dose: the attack runs its untreated course (4 h or more), and its span
    duration = a["duration_hours"].to_numpy()
    np.testing.assert_array_equal(duration[refused], draws.untreated_duration_hours[i, d][refused])
    assert (duration[refused] >= 4).all()
    np.testing.assert_array_equal(duration[treated], draws.duration_hours[i, d][treated])
    covered = a["last"].to_numpy() - d + 1
    hours = a["onset_hour"].to_numpy()
    np.testing.assert_array_equal(covered, span_days(hours, duration))


def test_avoided_triggers_have_no_susceptibility() -> None:
    reference = clinic_run().patients.sort("patient_id")
    half = abm.simulate(clinic_config(**{"run.days": 30,
                                         "interventions.avoid_triggers": ["weather"],
                                         "interventions.avoidance_share": 0.5}))
    p = half.patients.sort("patient_id")
    column = "susceptibility_weather"
    changed = (p[column] != reference[column]).to_numpy()
    assert (p[column].filter(pl.Series(changed)) == 0).all()
    # about half of those with some susceptibility avoid it (binomial, 4 SD)
    susceptible = (reference[column] > 0).to_numpy()
    share = changed[susceptible].mean()
    assert abs(share - 0.5) <= 4 * math.sqrt(0.25 / susceptible.sum()), share
    # the other risk factors are untouched, and so are the exposures
    others = [c for c in p.columns if c.startswith("susceptibility_") and c != column]
    assert p.select(others).equals(reference.select(others))
    everyone = abm.simulate(clinic_config(**{"population.num_patients": 100, "run.days": 30,
                                             "interventions.avoid_triggers": ["weather"],
                                             "interventions.avoidance_share": 1.0}))
    assert (everyone.patients[column] == 0).all()
    assert everyone.daily["weather_trigger"].any()


def test_an_unknown_avoided_trigger_is_a_config_error() -> None:
    config = clinic_config(**{"population.num_patients": 5, "run.days": 10,
                              "interventions.avoid_triggers": ["weather", "moonlight"]})
    with pytest.raises(abm.ConfigError, match=r"interventions\.avoid_triggers"):
        abm.simulate(config)


def test_the_limit_counts_only_the_medication_days_of_the_run() -> None:
    # A patient who overuses from day 0 has a history of medication before the run (for the
    # overuse count); a medication limit counts only the logged days, so every patient's first
    # attack is treated or not exactly as without the limit (nothing before it differs)
    config = population_config(**{"population.num_patients": 300, "run.days": 60})
    limited = abm.simulate(config.replace(**{"interventions.medication_limit_days": 1}))
    free = abm.simulate(config)
    assert limited.daily["medication_overuse"].any()  # prevalent overusers are in the cohort
    first = [r.attacks.sort("onset").group_by("patient_id", maintain_order=True).first()
             .sort("patient_id").select("patient_id", "onset", "treated") for r in (limited, free)]
    assert first[0].equals(first[1])
    # and the limit does act later: a second medication day within 30 days is refused
    assert limited.attacks["treated"].sum() < free.attacks["treated"].sum()


def test_avoiding_triggers_lowers_the_frequency() -> None:
    # calibration does not see the avoidance: patients who avoid their triggers have fewer
    # attacks than the same patients who do not (paired by patient; a 4 SE margin)
    config = population_config(**{"population.num_patients": 300, "run.days": 180})
    plain = abm.simulate(config)
    avoiding = abm.simulate(config.replace(**{
        "interventions.avoid_triggers": ["weather", "sleep", "stress", "diet", "menstrual",
                                         "letdown", "alcohol", "caffeine_withdrawal"],
        "interventions.avoidance_share": 1.0}))

    def days(r: abm.Result) -> np.ndarray:
        return (r.daily.group_by("patient_id").agg(pl.col("has_migraine").sum())
                .sort("patient_id")["has_migraine"].to_numpy().astype(float))

    diff = days(avoiding) - days(plain)
    assert diff.mean() < -4 * diff.std(ddof=1) / math.sqrt(diff.size)
