"""Presets, dose levels, responder mixtures, and validation that follows the configuration."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import abm
from abm import Config, ConfigError
from abm.cli.app import main
from abm.config.settings import load_config
from abm.model.presets import NAMES, PRESETS
from abm.model.triggers.stress import StressTrigger
from abm.model.triggers.weather import WeatherTrigger
from abm.validation.checks import patient_day_matrix, run_checks
from abm.validation.stats import mantel_haenszel_or, mantel_haenszel_rr


def _preset(name: str, **changes: object) -> Config:
    config = Config.from_dict({"population": {"preset": name}})
    return config.replace(**changes) if changes else config


# --- presets as configuration ------------------------------------------------------------------


def test_a_preset_fills_only_the_settings_not_given() -> None:
    config = Config.from_dict({"population": {"preset": "population", "female_ratio": 0.5},
                               "attacks": {"severity_mean": 5.0}})
    assert config.population.chronic_ratio == PRESETS["population"]["population.chronic_ratio"]
    assert config.population.female_ratio == 0.5  # given: wins over the preset
    assert config.attacks.duration_median_hours == 12.0  # the preset's
    assert config.attacks.severity_mean == 5.0
    # the default is the user's design, untouched
    assert Config().population.preset == "clinic"
    assert Config().population.chronic_ratio == 0.15


def test_replacing_the_preset_applies_it_and_other_keys_win() -> None:
    config = Config().replace(**{"population.preset": "evidence", "triggers.diet_effect": 0.2})
    assert config.triggers.sleep_effect == 0.0
    assert config.triggers.diet_effect == 0.2
    assert config.population.chronic_ratio == 0.068
    # a configuration written out and read back is the same configuration
    assert Config.from_dict(config.to_dict()) == config


def test_a_file_keeps_its_settings_under_a_preset_from_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[population]\nchronic_ratio = 0.2\n")
    config = load_config(path, preset="population")
    assert config.population.preset == "population"
    assert config.population.chronic_ratio == 0.2
    assert config.population.female_ratio == 0.8


def test_an_unknown_preset_is_one_line_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"^population.preset must be one of clinic, "
                                          r"population, evidence, got 'bogus'$"):
        Config.from_dict({"population": {"preset": "bogus"}})
    with pytest.raises(ConfigError, match="population.preset"):
        Config().replace(**{"population.preset": "bogus"})


def test_cli_preset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    assert main(["run", "--preset", "population", "--patients", "20", "--days", "30",
                 "--out", str(out), "--quiet"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["population"]["preset"] == "population"
    assert manifest["config"]["population"]["chronic_ratio"] == 0.068
    assert main(["run", "--preset", "clinical", "--out", str(tmp_path / "x")]) == 2
    assert "did you mean 'clinic'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


# --- dose levels and responders ----------------------------------------------------------------


def test_larger_exposures_have_higher_levels() -> None:
    config = Config()
    drops = np.array([0.0, -4.9, -5.0, -9.9, -10.0, -25.0])
    levels = WeatherTrigger().flag({("pressure_change_24h", 0): drops}, config)
    assert levels.tolist() == [0, 0, 1, 1, 2, 2]
    # the same function on single numbers (the edit path)
    assert [int(WeatherTrigger().flag({("pressure_change_24h", 0): d}, config))
            for d in drops.tolist()] == [0, 0, 1, 1, 2, 2]
    rise = {("stress_level", 0): np.array([5, 7, 8, 10]), ("stress_level", 1): np.array([5] * 4)}
    assert StressTrigger().flag(rise, config).tolist() == [0, 0, 1, 2]


def test_a_large_pressure_drop_raises_risk_more_than_a_small_one() -> None:
    # strong effect so that both ratios are measured well: 1500 patients x 180 days
    config = Config().replace(**{"population.num_patients": 1500, "triggers.weather_effect": 2.0})
    result = abm.simulate(config)
    daily = result.daily.sort("patient_id", "day")
    n, days = 1500, 180
    change = patient_day_matrix(daily, "pressure_change_24h", n, days)[:, :-1]
    onset = patient_day_matrix(daily, "migraine_onset", n, days)
    at_risk = (~patient_day_matrix(daily, "has_migraine", n, days) | onset)[:, 1:]
    y = onset[:, 1:]
    none = (change > -5) & at_risk

    def rr(exposed: np.ndarray) -> tuple[float, float, float]:
        e1 = exposed & at_risk
        return mantel_haenszel_rr((e1 & y).sum(1), e1.sum(1), (none & y).sum(1), none.sum(1))

    small, large = rr((change <= -5) & (change > -10)), rr(change <= -10)
    # the intervals do not overlap: the large drop's effect is the larger
    assert large[1] > small[2], (small, large)


def test_non_responders_have_no_susceptibility_and_the_mean_is_kept() -> None:
    n = 20_000
    result = abm.simulate(Config().replace(**{"population.num_patients": n, "run.days": 2}))
    s = result.patients["susceptibility_weather"].to_numpy()
    share = 0.64
    # binomial share of responders: SE sqrt(.64 .36 / n) = 0.0034; 4 SE
    assert abs((s > 0).mean() - share) < 4 * math.sqrt(share * (1 - share) / n)
    # responders U(0.1, 1.0) / 0.64: mean of all 0.55; SD of s about 0.45, SE 0.0032; 4 SE
    assert abs(s.mean() - 0.55) < 4 * 0.45 / math.sqrt(n)
    assert s[s > 0].min() >= 0.1 / share - 1e-12 and s.max() <= 1.0 / share + 1e-12
    # a share of 1: everyone responds, the seed's U(0.1, 1.0)
    everyone = abm.simulate(Config().replace(**{"population.num_patients": 500, "run.days": 2,
                                                "triggers.weather_responder_share": 1.0}))
    s1 = everyone.patients["susceptibility_weather"].to_numpy()
    assert s1.min() >= 0.1 and s1.max() <= 1.0


# --- validation follows the configuration ------------------------------------------------------


@pytest.mark.parametrize("preset", NAMES)
def test_every_preset_validates_against_itself(preset: str) -> None:
    config = _preset(preset)
    result = abm.simulate(config)
    checks = run_checks(result.frames(), config, resimulate=False, model=result.model)
    failed = [(c.name, c.measured, c.target) for c in checks if c.failed]
    assert not failed
    names = {c.name for c in checks}
    assert "literature: menstrual OR" in names
    if preset == "clinic":
        assert {f"seed target: {t}" for t in ("weather", "sleep", "stress", "diet")} <= names
        assert not any(name.startswith("literature: AMPP") for name in names)
    else:
        assert {"literature: AMPP 0-3 days/month", "literature: women",
                "literature: migraine days per attack"} <= names
    if preset == "evidence":
        # the seed's effects are off there: no seed target, and the implied ratio is about 1
        assert "seed target: sleep" not in names
        row = next(c for c in checks if c.name == "trigger effect: sleep")
        assert row.target.startswith(("0.9", "1.0")), row.target


def test_a_run_fails_against_a_configuration_it_was_not_made_with() -> None:
    made = Config()
    result = abm.simulate(made)
    claimed = made.replace(**{"triggers.weather_effect": 1.5})
    rows = {c.name: c for c in run_checks(result.frames(), claimed, resimulate=False)}
    assert rows["trigger effect: weather"].failed
    assert not rows["trigger effect: sleep"].failed
    honest = {c.name: c for c in run_checks(result.frames(), made, resimulate=False)}
    assert honest["trigger effect: weather"].passed


def test_mantel_haenszel_odds_ratio_by_hand() -> None:
    # one stratum: 10/100 exposed vs 5/100 unexposed: OR = (10 * 95) / (5 * 90)
    assert mantel_haenszel_or([10], [100], [5], [100]) == pytest.approx(950 / 450)
    # strata without both kinds of days drop out, as in the risk ratio
    assert mantel_haenszel_or([10, 3], [100, 0], [5, 2], [100, 50]) == pytest.approx(950 / 450)
    assert math.isnan(mantel_haenszel_or([0], [10], [0], [10]))
