"""The let-down, alcohol, caffeine-withdrawal and sleep-efficiency risk factors
(``abm.model.triggers``): flags recomputed from the daily frame, and next-day onsets raised."""

from __future__ import annotations

import polars as pl
import pytest

import abm
from abm import Config, ConfigError
from abm.engine.model import Model
from abm.validation.checks import trigger_risk_ratios

NEW = ("letdown", "alcohol", "caffeine_withdrawal", "sleep_efficiency")


@pytest.fixture(scope="module")
def run() -> tuple[Config, abm.Result]:
    """1000 patients x 180 days with every new trigger on (sleep efficiency is off by default)."""
    config = Config().replace(**{"population.num_patients": 1000, "run.days": 180,
                                 "run.seed": 12, "triggers.sleep_efficiency.enabled": True})
    return config, abm.simulate(config)


def test_defaults_and_switches() -> None:
    config = Config()
    model = Model.build(config)
    assert model.triggers == ["weather", "sleep", "stress", "diet", "menstrual", "letdown",
                              "alcohol", "caffeine_withdrawal"]
    assert not config.triggers.sleep_efficiency.enabled
    assert config.triggers.letdown.decline_points == 3 and config.triggers.alcohol.min_drinks == 5
    assert config.triggers.caffeine_withdrawal.drop_servings == 2
    # the seed triggers' settings sit beside the new triggers' tables
    assert config.triggers.stress_rise_points == 3
    on = Model.build(config.replace(**{"triggers.sleep_efficiency.enabled": True}))
    assert on.triggers[-1] == "sleep_efficiency"
    off = Model.build(config.replace(**{"triggers.letdown.enabled": False}))
    assert "letdown" not in off.triggers
    with pytest.raises(ConfigError, match="triggers.alcohol.min_drinks must be in"):
        config.replace(**{"triggers.alcohol.min_drinks": 0})
    with pytest.raises(ConfigError, match="unknown setting triggers.letdown.points"):
        Config.from_dict({"triggers": {"letdown": {"points": 2}}})
    assert Config.from_dict(config.to_dict()) == config


def test_flags_recomputed_from_the_daily_frame(run) -> None:
    # plain Polars on the logged columns, as a user would write them
    _, result = run
    daily = result.daily.sort("patient_id", "day")
    stress, cups = pl.col("stress_level").cast(pl.Int32), pl.col("caffeine_servings").cast(
        pl.Int32)
    week = pl.sum_horizontal([cups.shift(k).over("patient_id") for k in range(1, 8)])
    expected = daily.select(
        letdown=((stress.shift(1).over("patient_id") - stress) >= 3).fill_null(False),
        alcohol=pl.col("alcohol_drinks") >= 5,
        caffeine_withdrawal=(pl.when(pl.col("day") >= 7).then(7 * cups <= week - 14)
                             .otherwise(False)),
        sleep_efficiency=pl.col("sleep_efficiency") < 0.80,
    )
    for name in NEW:
        flags = daily[f"{name}_trigger"]
        assert (flags == expected[name]).all(), name
        assert flags.sum() > 1000, name  # enough days to mean something
    assert not daily.filter(pl.col("day") < 7)["caffeine_withdrawal_trigger"].any()


def test_each_new_trigger_raises_next_day_onset(run) -> None:
    # Mantel-Haenszel ratios over 180,000 patient-days; each interval must lie above 1 (the
    # smallest effect, sleep efficiency's, is about 1.3 in a patient of mean susceptibility)
    config, result = run
    ratios = trigger_risk_ratios(result.daily, config.population.num_patients, config.run.days)
    for name in NEW:
        rr, lo, hi = ratios[name]
        assert lo > 1.0, (name, rr, lo, hi)
    assert ratios["letdown"][0] > 1.3 and ratios["alcohol"][0] > 1.6
    # and the validation rows say so: each measured ratio agrees with the one its configured
    # effect implies, which is above 1
    checks = {c.name: c for c in abm.validate(result, resimulate=False)}
    for name in NEW:
        row = checks[f"trigger effect: {name}"]
        assert row.passed is not False, row
        assert float(row.target.split(",")[0]) > 1.1, row
    assert checks["trigger effect: letdown"].passed


def test_without_an_effect_the_flag_changes_nothing() -> None:
    # the letdown effect off: the interval includes 1 (with every other stream identical, the
    # flags are the same days)
    config = Config().replace(**{"population.num_patients": 600, "run.days": 180,
                                 "run.seed": 3, "triggers.letdown.effect": 0.0})
    result = abm.simulate(config)
    rr, lo, hi = trigger_risk_ratios(result.daily, 600, 180)["letdown"]
    assert lo <= 1.0 <= hi * 1.02, (rr, lo, hi)  # a neighbouring trigger may lean it a little
