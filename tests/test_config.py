"""The configuration: defaults, sources, validation messages, replace, TOML, round trips."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest

from abm import AbmError, Config, ConfigError, load_config
from abm.config.settings import describe
from abm.model.catalog import built_in


def _flatten(data: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _error(data: dict) -> str:
    with pytest.raises(ConfigError) as info:
        Config.from_dict(data)
    message = str(info.value)
    assert "\n" not in message, "errors are one line"
    return message


# --- defaults -------------------------------------------------------------------------------


def test_defaults_are_the_spec_values():
    c = Config()
    assert c.population.num_patients == 1000
    assert c.run.days == 180
    assert c.run.seed == 42
    assert c.run.start_date == "2024-01-01"
    assert c.population.chronic_ratio == 0.15
    assert c.population.aura_ratio == 0.30
    assert c.population.female_ratio == 0.70
    assert c.population.num_locations == 20
    assert c.population.age_years == (18, 64)
    assert c.population.chronic_days_per_month == (15.0, 25.0)
    assert c.population.episodic_days_per_month == (1.0, 14.0)
    assert c.population.susceptibility == (0.1, 1.0)
    # trigger rules
    assert c.triggers.pressure_drop_hpa == 5.0
    assert c.triggers.short_sleep_hours == 5.0
    assert c.triggers.long_sleep_hours == 9.0
    assert c.triggers.stress_rise_points == 3
    assert c.triggers.diet_min_items == 2
    # triggers and feedback
    assert c.attacks.duration_hours == (4.0, 72.0)
    assert c.attacks.max_onset_probability == 0.95
    assert c.feedback.stress.enabled is True
    assert c.feedback.stress.points == (1, 2)
    assert c.stress.spike_points == (3, 5)


def test_default_types_are_exact():
    c = Config()
    assert type(c.population.num_patients) is int
    assert type(c.run.days) is int
    assert type(c.population.chronic_ratio) is float
    assert isinstance(c.population.age_years, tuple)


def test_config_is_frozen():
    c = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.run.days = 3  # type: ignore[misc]


def test_describe_covers_every_field_with_a_source():
    rows = describe()
    names = [name for name, _, _ in rows]
    assert len(names) == len(set(names))
    flat = _flatten(Config().to_dict())
    assert set(names) == set(flat)
    for name, default, source in rows:
        assert isinstance(source, str) and source.strip(), f"{name} has no source"
        expected = flat[name]
        assert (list(default) if isinstance(default, tuple) else default) == expected, name


# --- validation messages --------------------------------------------------------------------


def test_error_classes():
    assert issubclass(ConfigError, AbmError)
    assert issubclass(ConfigError, ValueError)


def test_unknown_section():
    message = _error({"populatoin": {}})
    assert "'populatoin'" in message and "unknown section" in message
    assert "population" in message.split("allowed:")[1]


def test_unknown_key():
    message = _error({"population": {"num_patient": 5}})
    assert message.startswith("unknown setting population.num_patient")
    assert "num_patients" in message.split("allowed:")[1]


def test_unknown_key_in_nested_feedback_table():
    assert _error({"feedback": {"stress": {"enable": True}}}).startswith(
        "unknown setting feedback.stress.enable")
    assert _error({"feedback": {"mood": {}}}).startswith("unknown setting feedback.mood")


def test_section_must_be_a_table():
    assert _error({"population": 5}) == "population must be a table of settings, got 5"
    assert _error({"feedback": {"stress": 5}}) == (
        "feedback.stress must be a table of settings, got 5")
    with pytest.raises(ConfigError, match=r"^population must be a table"):
        Config(population=5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("population", "num_patients", "5", "population.num_patients must be an integer, got '5'"),
        ("population", "chronic_ratio", "0.2",
         "population.chronic_ratio must be a number, got '0.2'"),
        ("population", "num_patients", True,
         "population.num_patients must be an integer, got True"),
        ("population", "chronic_ratio", False,
         "population.chronic_ratio must be a number, got False"),
        ("population", "num_patients", 5.5, "population.num_patients must be an integer, got 5.5"),
        ("run", "days", [1], "run.days must be an integer, got [1]"),
        ("run", "start_date", 20240101, "run.start_date must be a string, got 20240101"),
        ("feedback.stress", "enabled", 1, "feedback.stress.enabled must be true or false, got 1"),
        ("population", "age_years", [18, 64, 70],
         "population.age_years must be a pair [low, high], got [18, 64, 70]"),
        ("population", "age_years", 18, "population.age_years must be a pair [low, high], got 18"),
        ("population", "age_years", [18.5, 64],
         "population.age_years must be an integer, got 18.5"),
    ],
)
def test_wrong_types_name_the_field(section, key, value, message):
    data: dict = {}
    node = data
    for part in section.split("."):
        node = node.setdefault(part, {})
    node[key] = value
    assert _error(data) == message


def test_integral_float_for_int_field_becomes_an_int():
    # 5.0 is accepted for an integer field only as the integer 5; a float must never survive
    # into a field that the simulation uses as a count.
    c = Config.from_dict({"population": {"num_patients": 5.0}})
    assert c.population.num_patients == 5 and type(c.population.num_patients) is int


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinities_refused(bad):
    assert _error({"population": {"chronic_ratio": bad}}) == (
        f"population.chronic_ratio must be a finite number, got {bad!r}")
    message = _error({"population": {"num_patients": bad}})
    assert message.startswith("population.num_patients must be an integer")
    message = _error({"sleep": {"short_night_hours": [3.0, bad]}})
    assert message.startswith("sleep.short_night_hours must be a finite number")


@pytest.mark.parametrize(
    ("section", "key", "value", "pattern"),
    [
        # ranges fixed by the design or by nature are matched exactly; upper limits that are only
        # implementation capacity (patients, days, seed) are matched as "some integer"
        ("population", "chronic_ratio", 1.5,
         r"population\.chronic_ratio must be in \[0, 1\], got 1\.5"),
        ("population", "chronic_ratio", -0.1,
         r"population\.chronic_ratio must be in \[0, 1\], got -0\.1"),
        ("population", "num_patients", 0, r"population\.num_patients must be in \[1, \d+\], got 0"),
        ("run", "days", 0, r"run\.days must be in \[1, \d+\], got 0"),
        ("run", "seed", -1, r"run\.seed must be in \[0, \d+\], got -1"),
        ("population", "episodic_days_per_month", [1, 15],
         r"population\.episodic_days_per_month must be in \[0, 15\), got 15\.0"),
        ("weather", "pressure_reversion", 0,
         r"weather\.pressure_reversion must be in \(0, 1\], got 0\.0"),
        ("population", "age_years", [18, 121],
         r"population\.age_years must be in \[0, \d+\], got 121"),
        ("attacks", "max_onset_probability", 0,
         r"attacks\.max_onset_probability must be in \(0, 1\], got 0\.0"),
    ],
)
def test_out_of_range(section, key, value, pattern):
    assert re.fullmatch(pattern, _error({section: {key: value}}))


def test_chronic_ratio_message_is_exact():
    assert _error({"population": {"chronic_ratio": 1.5}}) == (
        "population.chronic_ratio must be in [0, 1], got 1.5")


def test_range_bounds_are_inclusive_where_closed():
    c = Config.from_dict({"population": {"chronic_ratio": 1, "aura_ratio": 0}})
    assert c.population.chronic_ratio == 1.0 and c.population.aura_ratio == 0.0
    assert type(c.population.chronic_ratio) is float


def test_pair_low_above_high():
    assert _error({"population": {"age_years": [60, 20]}}) == (
        "population.age_years must be [low, high] with low <= high, got [60, 20]")
    assert _error({"feedback": {"stress": {"points": [2, 1]}}}) == (
        "feedback.stress.points must be [low, high] with low <= high, got [2, 1]")
    # equal ends are a valid (degenerate) range
    c = Config.from_dict({"population": {"age_years": [40, 40]}})
    assert c.population.age_years == (40, 40)


def test_cross_field_rule():
    assert _error({"triggers": {"short_sleep_hours": 10.0}}) == (
        "triggers.short_sleep_hours must be <= triggers.long_sleep_hours, got 10.0 > 9.0")


@pytest.mark.parametrize("bad", ["2024-13-01", "2023-02-29", "yesterday", ""])
def test_bad_start_date(bad):
    assert _error({"run": {"start_date": bad}}) == (
        f"run.start_date must be a date YYYY-MM-DD, got {bad!r}")


def test_good_start_date():
    c = Config.from_dict({"run": {"start_date": "2024-02-29"}})
    assert c.run.start.isoformat() == "2024-02-29"


# --- replace --------------------------------------------------------------------------------


def test_replace_with_dotted_keys():
    base = Config()
    c = base.replace(**{"population.num_patients": 12, "run.days": 30,
                        "feedback.stress.points": [2, 3], "sleep.short_night_hours": (3, 4)})
    assert c.population.num_patients == 12
    assert c.run.days == 30
    assert c.feedback.stress.points == (2, 3)
    assert c.sleep.short_night_hours == (3.0, 4.0)
    assert type(c.sleep.short_night_hours[0]) is float
    # everything else untouched, and the original is unchanged
    assert c.population.chronic_ratio == base.population.chronic_ratio
    assert c.weather == base.weather
    assert base.population.num_patients == 1000 and base.run.days == 180
    assert base.replace() == base


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("population.num_patient", 5, "unknown setting 'population.num_patient'"),
        ("populace.num_patients", 5, "unknown setting 'populace' in 'populace.num_patients'"),
        ("population.num_patients.x", 5,
         "unknown setting 'population.num_patients' in 'population.num_patients.x'"),
        ("population", 5, "population is a section; set one of its fields instead"),
        ("feedback.stress", {}, "feedback.stress is a section; set one of its fields instead"),
        ("population.chronic_ratio", 1.5, "population.chronic_ratio must be in [0, 1], got 1.5"),
        ("run.days", "30", "run.days must be an integer, got '30'"),
        ("feedback.stress.enabled", "yes", "feedback.stress.enabled must be true or false, got "
                                           "'yes'"),
    ],
)
def test_replace_errors(key, value, message):
    with pytest.raises(ConfigError) as info:
        Config().replace(**{key: value})
    assert str(info.value) == message


# --- TOML -----------------------------------------------------------------------------------


def test_load_valid_toml(tmp_path):
    path = tmp_path / "cohort.toml"
    path.write_text(
        "[population]\nnum_patients = 50\nchronic_ratio = 0.2\nage_years = [20, 40]\n\n"
        "[run]\ndays = 30\nseed = 7\nstart_date = \"2023-06-01\"\n\n"
        "[feedback.stress]\nenabled = false\npoints = [1, 3]\n\n"
        "[feedback.sleep]\nenabled = true\n",
        encoding="utf-8")
    c = load_config(path)
    assert c.population.num_patients == 50
    assert c.population.chronic_ratio == 0.2
    assert c.population.age_years == (20, 40)
    assert c.run.days == 30 and c.run.seed == 7 and c.run.start_date == "2023-06-01"
    assert c.feedback.stress.enabled is False and c.feedback.stress.points == (1, 3)
    assert c.feedback.sleep.enabled is True
    assert c.population.aura_ratio == 0.30  # unspecified settings keep their defaults
    assert load_config(str(path)) == c


def test_load_nested_feedback_table_inline_and_dotted(tmp_path):
    inline = tmp_path / "inline.toml"
    inline.write_text("[feedback]\nstress = { enabled = false }\n", encoding="utf-8")
    dotted = tmp_path / "dotted.toml"
    dotted.write_text("feedback.stress.enabled = false\n", encoding="utf-8")
    expected = Config().replace(**{"feedback.stress.enabled": False})
    assert load_config(inline) == expected
    assert load_config(dotted) == expected


def test_load_empty_file_gives_defaults(tmp_path):
    path = tmp_path / "empty.toml"
    path.write_text("", encoding="utf-8")
    assert load_config(path) == Config()


def test_load_malformed_toml(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[population\nnum_patients = 5\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: malformed TOML")
    assert "\n" not in message


def test_load_missing_file(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: configuration file not found"


def test_load_directory(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert str(info.value) == f"{tmp_path}: is a folder, expected a TOML file"


def test_load_binary_file(tmp_path):
    path = tmp_path / "binary.toml"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: not a UTF-8 text file"


def test_load_invalid_value_names_file_and_field(tmp_path):
    path = tmp_path / "range.toml"
    path.write_text("[population]\nchronic_ratio = 1.5\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: population.chronic_ratio must be in [0, 1], got 1.5"

    path.write_text("[feedback.stress]\npoints = [1, 2]\nbogus = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown setting feedback\.stress\.bogus"):
        load_config(path)

    path.write_text("[nonsense]\nx = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown section 'nonsense'"):
        load_config(path)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def test_every_default_survives_a_toml_round_trip(tmp_path):
    # Write the whole default configuration as TOML with dotted keys (a minimal writer made
    # here), read it back, and get the same configuration: every value is expressible in TOML.
    lines = [f"{key} = {_toml_value(value)}" for key, value in
             _flatten(Config().to_dict()).items()]
    path = tmp_path / "all.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert load_config(path) == Config()


# --- dict round trip ------------------------------------------------------------------------


def test_to_dict_from_dict_round_trip():
    for c in (Config(), Config().replace(**{"population.num_patients": 3, "run.seed": 9,
                                           "feedback.sleep.enabled": True,
                                           "triggers.stress_effect": 0.5,
                                           "population.age_years": [30, 31]})):
        data = c.to_dict()
        # a section per component that declares one (dotted ones grouped), the observation
        # layer's, and ``run``
        assert set(data) == {c.section._path.split(".")[0] for c in built_in()
                             if c.section is not None} | {"observation", "run"}
        assert {"diary", "wearable", "weather"} <= set(data["observation"])
        assert {"population", "weather", "sleep", "stress", "diet", "attacks", "triggers",
                "feedback"} <= set(data)
        assert {"stress", "sleep"} <= set(data["feedback"])
        assert isinstance(data["population"]["age_years"], list)
        assert Config.from_dict(data) == c
        assert Config.from_dict(data).to_dict() == data


def test_from_dict_refuses_non_mapping():
    with pytest.raises(ConfigError, match="configuration must be a table of sections"):
        Config.from_dict([1, 2])  # type: ignore[arg-type]
