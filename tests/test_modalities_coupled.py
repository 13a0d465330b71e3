"""Drinks and caffeine servings, sleep efficiency and the season of sleep, and the couplings
``stress_sleep`` (evening stress -> that night) and ``alcohol_sleep`` (drinks -> that night)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import drawn_block as _block
from test_edits import _check_run, _RandomEdits

from abm import Config
from abm.config.toml import to_toml
from abm.engine.block import Block
from abm.engine.calendar import Calendar, winter_weight
from abm.engine.model import Model
from abm.model.diet import ITEMS, Diet


@pytest.fixture(scope="module")
def drawn() -> Block:
    return _block(Config().replace(**{"population.num_patients": 2000, "run.days": 180}))


# --- diet: counts -------------------------------------------------------------------------------


def test_counts_agree_with_the_flags(drawn) -> None:
    c = drawn.columns
    assert c["alcohol_drinks"].dtype == np.int8 and c["caffeine_servings"].dtype == np.int8
    np.testing.assert_array_equal(c["alcohol_consumed"], c["alcohol_drinks"] > 0)
    np.testing.assert_array_equal(c["caffeine_consumed"], c["caffeine_servings"] > 0)
    assert Diet().problems(c) == []
    broken = dict(c, alcohol_drinks=np.where(c["alcohol_consumed"], 0, 1).astype(np.int8))
    assert Diet().problems(broken) == ["alcohol_drinks does not agree with alcohol_consumed"]


def test_flags_are_the_draws_they_were_before_the_counts(drawn) -> None:
    # the daily flags as the diet drew them before it counted drinks and servings: the same
    # streams and uniforms, the counts taking streams of their own
    diet, d = Diet(), drawn.config.diet
    for item, setting_name in ITEMS.items():
        p = drawn.between(diet, f"personal_{item}", getattr(d, setting_name))[:, None]
        if item == "alcohol_consumed":
            p = p + d.alcohol_weekend_extra * drawn.calendar.is_weekend_night
        np.testing.assert_array_equal(drawn.columns[item],
                                      drawn.uniform(diet, item, daily=True) < p, err_msg=item)


def test_drinks_per_day(drawn) -> None:
    drinks = drawn.columns["alcohol_drinks"].astype(int)
    drinking = drinks[drinks > 0]
    # 2000 x 180 patient-days, about 83,000 drinking days; personal habits make the shares vary
    # by patient, so the bounds are wide against sampling (SE of the heavy share about 0.001)
    assert drinking.size > 60_000
    assert np.isin(drinking, [1, 2]).mean() > 0.7           # most drinking days: 1-2 drinks
    heavy = (drinks >= 5).mean()
    assert 0.01 <= heavy <= 0.03, heavy                     # >= 5 drinks on 1-3% of days
    # mostly a minority of patients: those with >= 5 drinks on at least 1 day in 50 have most
    # of such days
    often = (drinks >= 5).mean(axis=1) >= 0.02
    assert 0.1 < often.mean() < 0.3, often.mean()
    assert (drinks[often] >= 5).sum() > 0.8 * (drinks >= 5).sum()
    # without the personal chance of one more drink, every drinking day has one
    light = _block(drawn.config.replace(**{"diet.extra_drink_chance": [0.0, 0.0],
                                           "population.num_patients": 100}))
    assert set(np.unique(light.columns["alcohol_drinks"])) == {0, 1}


def test_caffeine_servings_follow_a_personal_habit(drawn) -> None:
    servings = drawn.columns["caffeine_servings"].astype(float)
    on = servings > 0
    assert servings[on].min() >= 1
    # the habit: U(1, 4), so the mean on days with caffeine is about 2.5 (rounding and the
    # floor of 1 add a little); each patient's mean is their habit (drawn from its stream)
    # within the daily SD 0.7 over about 100 days with caffeine (SE 0.07)
    habit = drawn.between(Diet(), "personal_caffeine", drawn.config.diet.caffeine_servings)
    keep = on.sum(axis=1) >= 30
    per_patient = (servings.sum(axis=1) / np.maximum(on.sum(axis=1), 1))[keep]
    assert 2.3 < per_patient.mean() < 2.8
    assert np.corrcoef(per_patient, habit[keep])[0, 1] > 0.95
    # away from the floor of 1 serving, the personal mean is the habit
    mid = habit[keep] > 2
    assert np.abs(per_patient[mid] - habit[keep][mid]).mean() < 0.12


# --- sleep: efficiency and season -------------------------------------------------------------


def test_sleep_efficiency(drawn) -> None:
    eff = drawn.columns["sleep_efficiency"].astype(np.float64)
    assert eff.min() >= 0 and eff.max() <= 1
    np.testing.assert_allclose(eff, np.round(eff, 3), atol=1e-6)  # three decimals (float32)
    # personal mean 0.87 (SD 0.03), nightly SD 0.04: drinks take 0.01 each, 0.23 days x 1.4
    # drinks on average
    assert 0.85 <= eff.mean() <= 0.88, eff.mean()
    assert 0.04 < (eff < 0.80).mean() < 0.15


def test_winter_nights_are_longer() -> None:
    # the same streams with and without the season (couplings off, so nothing feeds back):
    # every night that is not disrupted moves by the season's term, up to the logged rounding
    config = Config().replace(**{"population.num_patients": 300, "run.days": 365,
                                 "run.start_date": "2023-07-01",
                                 "couplings.stress_sleep.enabled": False,
                                 "couplings.sleep_stress.enabled": False})
    with_season = _block(config).columns["total_sleep_hours"].astype(np.float64)
    without = _block(config.replace(**{"sleep.winter_extra_minutes": 0.0})).columns[
        "total_sleep_hours"].astype(np.float64)
    calendar = Calendar(config.run.start, config.run.days)
    term = 18 / 60 * (winter_weight(calendar.day_of_year) - 0.5)
    diff = with_season - without
    moved = diff != 0
    # disrupted nights (5%) and the range's ends do not move
    assert 0.9 < moved.mean() < 0.97
    assert np.abs(diff - term)[moved].max() <= 0.0101
    # mid-January against mid-July: 18 minutes (SE of each mean over 300 x 31 nights: 0.01 h)
    days = calendar.dates.astype("datetime64[M]").astype(int) % 12
    january, july = diff[:, days == 0].mean(), diff[:, days == 6].mean()
    assert 0.9 * 0.28 < january - july < 0.30
    assert abs(diff.mean()) < 0.01  # the year's mean is unchanged


# --- couplings ----------------------------------------------------------------------------------


def test_evening_stress_shortens_that_night() -> None:
    # sleep_stress off, so that there is no loop: the night differs exactly by the term
    base = Config().replace(**{"population.num_patients": 800, "run.days": 120,
                               "couplings.sleep_stress.enabled": False})
    on = _block(base)
    off = _block(base.replace(**{"couplings.stress_sleep.enabled": False}))
    stress = on.columns["stress_level"].astype(int)
    np.testing.assert_array_equal(stress, off.columns["stress_level"])
    diff = (on.columns["total_sleep_hours"].astype(np.float64)
            - off.columns["total_sleep_hours"].astype(np.float64))
    term = -5 / 60 * np.maximum(stress - 5, 0)
    inside = (off.columns["total_sleep_hours"] > 2.0) & (on.columns["total_sleep_hours"] > 2.0)
    assert np.abs(diff - term)[inside].max() <= 0.0101  # the logged 2 decimals
    assert (diff[stress <= 5] == 0).all()
    for level in (7, 9):
        days = (stress == level) & inside
        assert days.sum() > 500
        assert abs(diff[days].mean() - (-(level - 5) * 5 / 60)) < 0.002


def test_drinks_lower_that_nights_efficiency_and_quality() -> None:
    base = Config().replace(**{"population.num_patients": 800, "run.days": 120})
    on = _block(base)
    off = _block(base.replace(**{"couplings.alcohol_sleep.enabled": False}))
    drinks = on.columns["alcohol_drinks"].astype(int)
    np.testing.assert_array_equal(drinks, off.columns["alcohol_drinks"])
    eff = (on.columns["sleep_efficiency"].astype(np.float64)
           - off.columns["sleep_efficiency"].astype(np.float64))
    quality = (on.columns["sleep_quality"].astype(np.float64)
               - off.columns["sleep_quality"].astype(np.float64))
    assert (eff[drinks == 0] == 0).all() and (quality[drinks == 0] == 0).all()
    free = (off.columns["sleep_quality"] < 100) & (on.columns["sleep_quality"] > 0)
    assert np.abs(eff + 0.01 * drinks).max() <= 0.0011
    assert np.abs(quality + 1.5 * drinks)[free].max() <= 0.11
    for n in (1, 2, 5):
        days = drinks == n
        assert days.sum() > 200
        assert abs(eff[days].mean() + 0.01 * n) < 0.0005
        assert abs(quality[days & free].mean() + 1.5 * n) < 0.05


def test_the_loop_through_earlier_days() -> None:
    config = Config()
    model = Model.build(config)
    owners = {name: [t.owner for t in terms] for name, terms in model.terms_of.items()}
    assert owners["total_sleep_hours"] == ["stress_sleep"]
    assert owners["stress_level"] == ["sleep_stress"]
    assert owners["sleep_efficiency"] == ["alcohol_sleep"]
    assert owners["sleep_quality"] == ["sleep", "alcohol_sleep"]
    assert model.lagged_terms  # stress d -> night d -> stress d+1
    assert model.derive_order.index("stress_level") < model.derive_order.index(
        "total_sleep_hours")
    # an edit of stress re-derives that night, and an edit of the night the next day's stress
    assert (0, "total_sleep_hours") in model.edit_plans["stress_level"].rederive
    assert (1, "stress_level") in model.edit_plans["total_sleep_hours"].rederive
    off = Model.build(config.replace(**{"couplings.stress_sleep.enabled": False}))
    assert not off.lagged_terms and not off.terms_of["total_sleep_hours"]
    # the loop moves both directions: with it, stress raises short nights that raise stress
    n, days = 600, 120
    small = config.replace(**{"population.num_patients": n, "run.days": days})
    looped = _block(small.replace(**{"couplings.stress_sleep.minutes_per_point": 60.0}))
    plain = _block(small.replace(**{"couplings.stress_sleep.enabled": False}))
    assert (looped.columns["total_sleep_hours"] < 6).mean() > (
        plain.columns["total_sleep_hours"] < 6).mean()
    assert looped.columns["stress_level"].mean() > plain.columns["stress_level"].mean()


@pytest.mark.parametrize("columns", [("stress_level", "total_sleep_hours"),
                                     ("sleep_efficiency", "sleep_quality", "stress_level")])
def test_edits_through_the_loop_equal_a_computation_from_scratch(columns) -> None:
    # arbitrary edits of the columns in the loop (and of the efficiency): the final columns,
    # flags and onsets equal a from-scratch derivation from the edited latent values
    config = Config().replace(**{"population.num_patients": 40, "run.days": 90, "run.seed": 4,
                                 "couplings.stress_sleep.minutes_per_point": 30.0,
                                 "triggers.sleep_efficiency.enabled": True})
    assert _check_run(config, [_RandomEdits(4, columns)]) > 50
    # and with the built-in rules, the sleep rule on
    assert _check_run(config.replace(**{"feedback.sleep.enabled": True}), None) > 0


def test_sections_in_toml() -> None:
    text = to_toml()
    for table in ("[couplings.stress_sleep]", "[couplings.alcohol_sleep]", "[triggers]",
                  "[triggers.letdown]", "[triggers.alcohol]", "[triggers.caffeine_withdrawal]",
                  "[triggers.sleep_efficiency]"):
        assert table in text
    config = Config()
    assert math.isclose(config.couplings.stress_sleep.minutes_per_point, 5.0)
    assert config.couplings.alcohol_sleep.quality_per_drink == 1.5
