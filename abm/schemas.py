"""Every output frame's columns, dtypes, units and meaning, declared once.

The recorder builds frames in exactly these schemas, the exporters write them, validation reads
them back, and the README's tables of columns are these declarations.

Identifiers (``patient_id``, ``location_id``, ``attack_id``) are categorical: text values stored as
codes into one table of names. They compare and join like strings, are written to Parquet as
dictionary-encoded strings (pandas reads them as ``category``, DuckDB as ``VARCHAR``), and keep
frames of millions of rows small and fast to build.
"""

from __future__ import annotations

import polars as pl

EVENT_KINDS = ("weather", "migraine_onset", "feedback", "stress_log", "diet_log", "sleep",
               "trigger", "migraine_end")
EventKind = pl.Enum(list(EVENT_KINDS))

# name: (dtype, unit, meaning)
PATIENTS = {
    "patient_id": (pl.Categorical(), "", "P0000, P0001, … (index order)"),
    "location_id": (pl.Categorical(), "", "L00, L01, … the patient's weather location"),
    "age": (pl.Int16, "years", "age at the start"),
    "sex": (pl.String, "", "F or M"),
    "is_chronic": (pl.Boolean, "", "label: chronic migraine (target ≥ 15 days a month)"),
    "with_aura": (pl.Boolean, "", "has attacks with aura"),
    "target_migraine_days_per_month": (pl.Float64, "days/30 days", "calibration target"),
    "susceptibility_weather": (pl.Float64, "0-1", "scales the weather trigger's effect"),
    "susceptibility_sleep": (pl.Float64, "0-1", "scales the sleep trigger's effect"),
    "susceptibility_stress": (pl.Float64, "0-1", "scales the stress trigger's effect"),
    "susceptibility_diet": (pl.Float64, "0-1", "scales the diet trigger's effect"),
    "baseline_onset_probability": (pl.Float64, "per day", "calibrated onset probability with no "
                                   "trigger active (ground truth)"),
}

DAILY = {
    "patient_id": (pl.Categorical(), "", "patient"),
    "date": (pl.Date, "", "calendar date"),
    "day": (pl.Int32, "days", "0-based day of the run"),
    "location_id": (pl.Categorical(), "", "the patient's location"),
    "temperature": (pl.Float32, "°C", "daily mean air temperature at the patient"),
    "humidity": (pl.Float32, "%", "relative humidity, 20-100"),
    "pressure": (pl.Float32, "hPa", "barometric pressure"),
    "pressure_change_24h": (pl.Float32, "hPa", "pressure minus the previous day's"),
    "total_sleep_hours": (pl.Float32, "h", "sleep of the night starting that evening, 2-14"),
    "deep_sleep_pct": (pl.Float32, "fraction", "share of sleep in deep stage"),
    "rem_sleep_pct": (pl.Float32, "fraction", "share of sleep in REM"),
    "light_sleep_pct": (pl.Float32, "fraction", "share in light stage; the three sum to 1"),
    "awake_time_mins": (pl.Float32, "min", "time awake during the night"),
    "sleep_quality": (pl.Float32, "0-100", "sleep quality score"),
    "stress_level": (pl.Int8, "1-10", "self-reported daily stress, whole points"),
    "alcohol_consumed": (pl.Boolean, "", "any alcohol that day"),
    "caffeine_consumed": (pl.Boolean, "", "any caffeine that day"),
    "chocolate_consumed": (pl.Boolean, "", "any chocolate that day"),
    "processed_food_consumed": (pl.Boolean, "", "any processed food that day"),
    "water_consumed_liters": (pl.Float32, "L", "water drunk that day"),
    "weather_trigger": (pl.Boolean, "", "pressure_change_24h <= -5"),
    "sleep_trigger": (pl.Boolean, "", "total_sleep_hours < 5 or > 9"),
    "stress_trigger": (pl.Boolean, "", "stress_level minus the previous day's >= 3"),
    "diet_trigger": (pl.Boolean, "", ">= 2 of alcohol, caffeine, chocolate"),
    "has_migraine": (pl.Boolean, "", "an attack is under way at some time that day"),
    "migraine_onset": (pl.Boolean, "", "an attack starts that day"),
    "attack_id": (pl.Categorical(), "", "the attack under way that day (null if none)"),
}

WEATHER = {
    "location_id": (pl.Categorical(), "", "location"),
    "date": (pl.Date, "", "calendar date"),
    "day": (pl.Int32, "days", "0-based day of the run"),
    "temperature": (pl.Float32, "°C", "daily mean air temperature"),
    "humidity": (pl.Float32, "%", "relative humidity"),
    "pressure": (pl.Float32, "hPa", "barometric pressure"),
    "pressure_change_24h": (pl.Float32, "hPa", "pressure minus the previous day's"),
}

ATTACKS = {
    "attack_id": (pl.Categorical(), "", "P0000-A000: patient and attack number"),
    "patient_id": (pl.Categorical(), "", "patient"),
    "onset": (pl.Datetime("ms"), "", "when the attack starts"),
    "end": (pl.Datetime("ms"), "", "when it ends (may be after the last day)"),
    "duration_hours": (pl.Float64, "h", "untreated duration, 4-72"),
    "with_aura": (pl.Boolean, "", "this attack has an aura"),
    "severity": (pl.Int8, "1-10", "peak pain"),
    "weather_trigger": (pl.Boolean, "", "active the day before onset"),
    "sleep_trigger": (pl.Boolean, "", "active the day before onset"),
    "stress_trigger": (pl.Boolean, "", "active the day before onset"),
    "diet_trigger": (pl.Boolean, "", "active the day before onset"),
    "p_onset": (pl.Float64, "", "onset probability that day, triggers and feedback included"),
    "p_baseline": (pl.Float64, "", "onset probability with no trigger (baseline)"),
    "caused_by_feedback": (pl.Boolean, "", "would not have started that day without the "
                           "feedback rules' edits (same random draws)"),
}

EVENTS = {
    "time": (pl.Datetime("ms"), "", "when it happened"),
    "patient_id": (pl.Categorical(), "", "patient (null for weather)"),
    "location_id": (pl.Categorical(), "", "location"),
    "event": (EventKind, "", "weather, migraine_onset, feedback, stress_log, diet_log, sleep, "
              "trigger, migraine_end"),
    "name": (pl.Categorical(), "", "what ``value`` is: pressure, stress_level, diet_items, "
             "total_sleep_hours, severity, duration_hours; the trigger's name; or "
             "rule:column for feedback"),
    "value": (pl.Float64, "", "by event: weather, the location's pressure (hPa); stress_log, "
              "the stress level; diet_log, the number of diet items; sleep, the sleep hours; "
              "migraine_onset, the severity; migraine_end, the duration in hours; feedback, the "
              "change the rule made; trigger, null"),
    "attack_id": (pl.Categorical(), "", "the attack an onset, end or feedback belongs to"),
    "target_date": (pl.Date, "", "feedback only: the date whose value the rule changed"),
}

FRAMES = {"patients": PATIENTS, "daily": DAILY, "weather": WEATHER, "attacks": ATTACKS,
          "events": EVENTS}


def schema(frame: str) -> pl.Schema:
    """The Polars schema of ``frame``."""
    return pl.Schema({name: spec[0] for name, spec in FRAMES[frame].items()})


def with_null(ids: pl.Series) -> pl.Series:
    """Identifiers as categories with a null entry appended at index ``len(ids)``: gathering
    with that index gives null (a day with no attack, a weather event with no patient)."""
    return pl.concat([ids.cast(pl.String), pl.Series([None], dtype=pl.String)]) \
        .cast(pl.Categorical)


def _type_name(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Enum):
        return "enum"
    if isinstance(dtype, pl.Categorical):
        return "categorical"
    return str(dtype)


def markdown_tables() -> str:
    """The README's tables of columns, one per frame."""
    out = []
    for frame, columns in FRAMES.items():
        out.append(f"#### `{frame}`\n\n| column | type | unit | meaning |\n|---|---|---|---|")
        out += [f"| `{name}` | {_type_name(dtype)} | {unit} | {meaning} |"
                for name, (dtype, unit, meaning) in columns.items()]
        out.append("")
    return "\n".join(out).rstrip() + "\n"
