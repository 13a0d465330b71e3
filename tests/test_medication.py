"""Acute medication (``abm.model.medication``): the patients' habits (usual class, treated
share), which attacks are treated and when the dose comes, treated attacks being shorter, and the
daily medication days (``acute_medication``, ``medication_days_30d``) written from the attacks.

The clinic run (400 patients x 365 days, seed 3) is shared with the other tests of the slow
states (``feedback_runs``); its per-day attack draws (``make_attack_draws``) say what an attack
starting on any day would be like, so the run's attacks can be checked against them one by one.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from conftest import drawn_block
from feedback_runs import (
    CLINIC_DAYS,
    CLINIC_N,
    clinic_config,
    clinic_draws,
    clinic_run,
    indexed_attacks,
    matrix,
)

import abm
from abm.model.attacks import MedicationStreams, make_attack_draws
from abm.model.medication import CLASSES, DAILY_VALUES


@pytest.fixture(scope="module")
def run() -> abm.Result:
    return clinic_run()


@pytest.fixture(scope="module")
def attacks(run: abm.Result) -> pl.DataFrame:
    """The attacks with their patient's habits."""
    return indexed_attacks(run).join(
        run.patients.select("patient_id", "medication_class", "treatment_share"),
        on="patient_id")


@pytest.fixture(scope="module")
def draws():
    return clinic_draws()


def _delays(block) -> tuple[np.ndarray, np.ndarray]:
    """The uniform deciding the treatment of every patient-day, and the time to the dose
    recomputed from it as the docstring describes: the uniform rescaled by the patient's share
    (so it is uniform again below it), an exponential of mean ``delay_mean_hours``, in whole
    minutes."""
    s = block.config.medication
    share = block.patients["treatment_share"][:, None]
    u = block.uniform(MedicationStreams, "treat", daily=True)
    delay = -s.delay_mean_hours * np.log1p(-np.minimum(u / share, 1 - 1e-12))
    return u, np.round(delay * 60) / 60


# --- the patients' habits ----------------------------------------------------------------------


def test_usual_classes_follow_the_class_shares(run: abm.Result) -> None:
    p = run.patients
    assert p.schema["medication_class"] == pl.Enum(list(CLASSES))
    assert p["medication_class"].null_count() == 0
    n = p.height
    for name, share in zip(CLASSES, run.config.medication.class_shares, strict=True):
        observed = float((p["medication_class"] == name).mean())
        # binomial sampling error of a share among n patients; 4 SD
        assert abs(observed - share) <= 4 * math.sqrt(share * (1 - share) / n), (name, observed)


def test_treated_shares_are_logit_normal_around_the_median(run: abm.Result) -> None:
    s = run.config.medication
    share = run.patients["treatment_share"].to_numpy()
    assert ((share > 0) & (share < 1)).all()
    n = share.size
    # the median: the share of patients below it is binomial(n, 1/2); 4 SD
    assert abs((share < s.treated_share).mean() - 0.5) <= 4 * math.sqrt(0.25 / n)
    # the spread on the logit scale: SE of an SD is about SD / sqrt(2 (n - 1)); 4 SE
    logit = np.log(share / (1 - share))
    assert abs(logit.std(ddof=1) - s.habit_sd) <= 4 * s.habit_sd / math.sqrt(2 * (n - 1))


@pytest.mark.parametrize("shares, only", [((0.5, 0.0, 0.0), "analgesic"),
                                          ((0.0, 0.0, 0.3), "opioid")])
def test_class_shares_are_normalized(shares, only) -> None:
    block = drawn_block(clinic_config(**{"population.num_patients": 50, "run.days": 10,
                                         "medication.class_shares": list(shares)}))
    assert (block.patients["medication_class"] == CLASSES.index(only)).all()


@pytest.mark.parametrize("shares", [[0.5, 0.5], [0.2, 0.3, 0.4, 0.1], [0.0, 0.0, 0.0]])
def test_bad_class_shares_are_a_config_error(shares) -> None:
    with pytest.raises(abm.ConfigError, match=r"medication\.class_shares"):
        abm.Config().replace(**{"medication.class_shares": shares})


# --- the attacks -------------------------------------------------------------------------------


def test_medication_is_the_usual_class_exactly_on_treated_attacks(attacks: pl.DataFrame) -> None:
    assert attacks.schema["treated"] == pl.Boolean
    assert attacks.schema["medication"] == pl.Enum(list(CLASSES))
    treated = attacks["treated"]
    assert treated.null_count() == 0
    assert attacks["medication"].is_null().equals(~treated, check_names=False)
    assert attacks["treatment_hour"].is_null().equals(~treated, check_names=False)
    t = attacks.filter("treated")
    assert t.height > 1000
    assert (t["medication"] == t["medication_class"]).all()


def test_the_run_treats_each_attack_as_drawn(attacks: pl.DataFrame, draws) -> None:
    # without a medication limit an attack is treated, dosed and as long as the draws of its
    # patient-day say (common random numbers)
    _, d = draws
    i, day = attacks["i"].to_numpy(), attacks["d"].to_numpy()
    np.testing.assert_array_equal(attacks["treated"].to_numpy(), d.treated[i, day])
    np.testing.assert_array_equal(attacks["duration_hours"].to_numpy(), d.duration_hours[i, day])
    np.testing.assert_array_equal(attacks["treatment_hour"].fill_null(np.nan).to_numpy(),
                                  d.treatment_hour[i, day])


def test_the_dose_comes_after_the_onset_and_before_the_untreated_end(attacks: pl.DataFrame,
                                                                      draws) -> None:
    _, d = draws
    t = attacks.filter("treated")
    delay = (t["treatment_hour"] - t["onset_hour"]).to_numpy()
    assert (delay >= 0).all()
    # onsets and doses are whole minutes
    np.testing.assert_allclose(delay * 60, np.round(delay * 60), atol=1e-6)
    untreated = d.untreated_duration_hours[t["i"].to_numpy(), t["d"].to_numpy()]
    assert (delay < untreated).all()
    # a dose the next day or later: treatment_hour counts from the onset day's midnight
    assert (t["treatment_hour"] >= 24).any()


def test_treated_share_and_delay_follow_the_habits(attacks: pl.DataFrame, draws) -> None:
    s = clinic_config().medication
    _, d = draws
    i, day = attacks["i"].to_numpy(), attacks["d"].to_numpy()
    untreated = d.untreated_duration_hours[i, day]
    mean = s.delay_mean_hours
    # an attack is treated with the patient's share, unless the dose would come after its end
    # (exponential delay); the count of treated attacks is a sum of Bernoullis: 4 SD
    p = attacks["treatment_share"].to_numpy() * (1 - np.exp(-untreated / mean))
    treated = attacks["treated"].to_numpy()
    assert abs(treated.sum() - p.sum()) <= 4 * math.sqrt((p * (1 - p)).sum())
    # the delay of a treated attack is exponential, truncated at the untreated duration:
    # E[X | X < u] = m - u e^(-u/m) / (1 - e^(-u/m)); SE of the mean at most m / sqrt(k); 4 SE
    # and half a minute of rounding
    u = untreated[treated]
    expected = mean - u * np.exp(-u / mean) / (1 - np.exp(-u / mean))
    delay = (attacks["treatment_hour"] - attacks["onset_hour"]).drop_nulls().to_numpy()
    assert abs(delay.mean() - expected.mean()) <= 4 * mean / math.sqrt(delay.size) + 1 / 120


def test_treated_attacks_last_the_factor_of_their_untreated_duration(draws) -> None:
    block, d = draws
    s = block.config.medication
    u, delay = _delays(block)
    share = block.patients["treatment_share"][:, None]
    treated = (u < share) & (delay < d.untreated_duration_hours)
    np.testing.assert_array_equal(d.treated, treated)
    # on the 0.1 h grid: the shortened duration, or the delay rounded up if the dose comes later
    at_dose = np.ceil(np.round(delay * 10, 6)) / 10
    expected = np.where(treated, np.maximum(np.round(
        d.untreated_duration_hours * s.treated_duration_factor, 1), at_dose),
        d.untreated_duration_hours)
    np.testing.assert_array_equal(d.duration_hours, expected)
    np.testing.assert_array_equal(d.treatment_hour, np.where(treated, d.onset_hour + delay,
                                                             np.nan))
    # so treated attacks are shorter, by about the factor where the dose comes early
    early = treated & (delay < 0.5 * d.untreated_duration_hours * s.treated_duration_factor)
    ratio = d.duration_hours[early] / d.untreated_duration_hours[early]
    assert abs(np.median(ratio) - s.treated_duration_factor) < 0.01


def test_a_treated_attack_lasts_at_least_until_the_dose() -> None:
    # abm.model.medication: "A treated attack lasts treated_duration_factor of its untreated
    # duration ..., never less than the time to the dose"; many draws make the rare late
    # doses (delay above 0.74 x the untreated duration) common enough to see
    block = drawn_block(clinic_config(**{"population.num_patients": 1000}))
    d = make_attack_draws(block)
    delay = (d.treatment_hour - d.onset_hour)[d.treated]
    short = d.duration_hours[d.treated] < delay - 1e-9  # float error of the subtraction
    assert not short.any(), f"{short.sum()} treated attacks end before their dose"


def test_medication_switched_off_treats_nothing() -> None:
    config = clinic_config(**{"population.num_patients": 100, "medication.enabled": False})
    off = abm.simulate(config)
    for frame in (off.patients, off.daily, off.attacks):
        assert not {"medication_class", "treatment_share", "acute_medication",
                    "medication_days_30d", "treated", "medication", "treatment_hour"} \
            & set(frame.columns)
    # every attack runs its untreated course: the duration drawn for its patient-day
    _, d = clinic_draws()
    a = indexed_attacks(off)
    i, day = a["i"].to_numpy(), a["d"].to_numpy()
    np.testing.assert_array_equal(a["duration_hours"].to_numpy(),
                                  d.untreated_duration_hours[i, day])


# --- the daily medication days -----------------------------------------------------------------


def test_acute_medication_covers_each_treated_attack_from_the_dose_day(run: abm.Result,
                                                                        attacks) -> None:
    daily = run.daily
    assert daily.schema["acute_medication"] == pl.Enum(list(DAILY_VALUES))
    expected = np.full((CLINIC_N, CLINIC_DAYS), "none", dtype=object)
    for i, d, hour, last, cls in attacks.filter("treated").select(
            "i", "d", "treatment_hour", "last", pl.col("medication").cast(pl.String)
    ).iter_rows():
        dose_day = d + int(hour // 24)
        expected[i, dose_day:min(last, CLINIC_DAYS - 1) + 1] = cls
    got = matrix(run, "acute_medication").astype(object)
    assert (got == expected).all(), int((got != expected).sum())
    # medication days lie within the attacks' days
    has = matrix(run, "has_migraine")
    assert (has[got != "none"]).all()


def test_medication_days_30d_is_the_trailing_count(run: abm.Result) -> None:
    med = (matrix(run, "acute_medication") != "none").astype(np.int64)
    expected = np.zeros_like(med)
    for d in range(CLINIC_DAYS):
        expected[:, d] = med[:, max(0, d - 29):d + 1].sum(axis=1)
    np.testing.assert_array_equal(matrix(run, "medication_days_30d"), expected)
    assert expected.max() > 4  # the window holds more than one attack's days
