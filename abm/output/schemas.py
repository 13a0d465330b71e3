"""Every output frame's columns, dtypes, units and meaning, derived from the model.

The key columns of each frame and the engine's own columns (attacks, onset probabilities,
identifiers) are declared here; every other column is declared by the component that writes it
(``abm.model``), and :func:`frames` puts them together in the order the frames have. The recorder
builds frames in exactly these schemas, the writers write them, validation reads them back, and
the README's tables of columns are these declarations.

Identifiers (``patient_id``, ``location_id``, ``attack_id``) are categorical: text values stored as
codes into one table of names. They compare and join like strings, are written to Parquet as
dictionary-encoded strings (pandas reads them as ``category``, DuckDB as ``VARCHAR``), and keep
frames of millions of rows small and fast to build.
"""

from __future__ import annotations

import functools
from typing import Any

import polars as pl

from abm.engine.afterrun import switched_flags

#: a column's declaration in a frame: (dtype, unit, meaning)
Spec = tuple[pl.DataType, str, str]

PATIENT_KEYS: dict[str, Spec] = {
    "patient_id": (pl.Categorical(), "", "P0000, P0001, … (index order)"),
    "location_id": (pl.Categorical(), "", "L00, L01, … the patient's weather location"),
}
PATIENT_ENGINE: dict[str, Spec] = {
    "baseline_onset_probability": (pl.Float64, "per day", "calibrated onset probability with no "
                                   "trigger active (ground truth)"),
}
DAILY_KEYS: dict[str, Spec] = {
    "patient_id": (pl.Categorical(), "", "patient"),
    "date": (pl.Date, "", "calendar date"),
    "day": (pl.Int32, "days", "0-based day of the run"),
    "location_id": (pl.Categorical(), "", "the patient's location"),
}
DAILY_ENGINE: dict[str, Spec] = {
    "has_migraine": (pl.Boolean, "", "an attack is under way at some time that day"),
    "migraine_onset": (pl.Boolean, "", "an attack starts that day"),
    "attack_id": (pl.Categorical(), "", "the attack under way that day (null if none)"),
}
OBSERVED_KEYS: dict[str, Spec] = {
    "patient_id": (pl.Categorical(), "", "patient"),
    "date": (pl.Date, "", "calendar date"),
    "day": (pl.Int32, "days", "0-based day of the run"),
}
WEATHER_KEYS: dict[str, Spec] = {
    "location_id": (pl.Categorical(), "", "location"),
    "date": (pl.Date, "", "calendar date"),
    "day": (pl.Int32, "days", "0-based day of the run"),
}
ATTACK_HEAD: dict[str, Spec] = {
    "attack_id": (pl.Categorical(), "", "P0000-A000: patient and attack number"),
    "patient_id": (pl.Categorical(), "", "patient"),
    "onset": (pl.Datetime("ms"), "", "when the attack starts"),
    "end": (pl.Datetime("ms"), "", "when it ends (may be after the last day)"),
    "duration_hours": (pl.Float64, "h", "duration: untreated 4-72, treated attacks shorter "
                       "(medication.treated_duration_factor)"),
    "with_aura": (pl.Boolean, "", "this attack has an aura"),
    "severity": (pl.Int8, "1-10", "peak pain"),
    "menstrual": (pl.Boolean, "", "starts on cycle days -2..+3 (day 0 the first day of menses): "
                  "longer and more severe (attacks.menstrual_*)"),
    "recurrence": (pl.Boolean, "", "starts within attacks.recurrence_window_hours (48) of the "
                   "end of the patient's previous attack (counted as its own attack or merged "
                   "into that one: attacks.count_recurrences)"),
}
ATTACK_TAIL: dict[str, Spec] = {
    "p_onset": (pl.Float64, "", "onset probability that day, triggers and feedback included"),
    "p_baseline": (pl.Float64, "", "onset probability with no trigger (baseline x that day's "
                   "frequency_drift)"),
    "caused_by_feedback": (pl.Boolean, "", "would not have started that day without the "
                           "feedback rules' edits and the slow states (same random draws)"),
    "feedback_chain": (pl.String, "", "what feedback caused the attack, causes joined by ' + ': "
                       "a state (medication_overuse, chronification), or the path from an "
                       "earlier attack, steps joined by ' > ' (the rule, the couplings its edit "
                       "passed through, the flag it switched on; after the earlier attack's own "
                       "path when that one was caused by an edit too); null if none"),
}
#: the event kinds attacks make; the fixed-time kinds come from the components' logs
ATTACK_KINDS = ("migraine_onset", "feedback")
CLOSING_KINDS = ("trigger", "migraine_end")


def event_kinds(model: Any) -> tuple[str, ...]:
    """Every kind of the ``events`` log, in the order of the Enum: location logs, attack
    kinds, patient logs, then the day's triggers and attack ends."""
    logs = sorted((entry for c in model.components for entry in c.logs), key=lambda e: e.hour)
    return (*[e.kind for e in logs if e.per_location], *ATTACK_KINDS,
            *[e.kind for e in logs if not e.per_location], *CLOSING_KINDS)


def _events(model: Any) -> dict[str, Spec]:
    kinds = event_kinds(model)
    logs = [entry for c in model.components for entry in c.logs]
    names = ", ".join(e.name for e in logs)
    def unit(component: Any, entry: Any) -> str:
        columns = (getattr(component, "location_columns", ()) if entry.per_location
                   else component.outputs())
        found = [c.unit for c in columns if c.name == entry.column and c.unit]
        return f" ({found[0]})" if found else ""

    whose = {True: "the location's ", False: "the "}
    by_kind = "; ".join(f"{e.kind}, {whose[e.per_location]}{e.name}{unit(c, e)}"
                        for c in model.components for e in c.logs)
    return {
        "time": (pl.Datetime("ms"), "", "when it happened"),
        "patient_id": (pl.Categorical(), "", "patient (null for location events)"),
        "location_id": (pl.Categorical(), "", "location"),
        "event": (pl.Enum(list(kinds)), "", ", ".join(kinds)),
        "name": (pl.Categorical(), "", f"what ``value`` is: {names}, severity, duration_hours; "
                 "the trigger's name; or rule:column for feedback"),
        "value": (pl.Float64, "", f"by event: {by_kind}; migraine_onset, the severity; "
                  "migraine_end, the duration in hours; feedback, the change the rule made; "
                  "trigger, null"),
        "attack_id": (pl.Categorical(), "", "the attack an onset, end or feedback belongs to"),
        "target_date": (pl.Date, "", "feedback only: the date whose value the rule changed"),
    }


def frames(model: Any = None) -> dict[str, dict[str, Spec]]:
    """Every frame's columns for ``model`` (default: the built-in model of ``Config()``)."""
    if model is None:
        return _default_frames()
    spec = lambda col: (col.dtype, col.unit, col.meaning)  # noqa: E731
    patients = dict(PATIENT_KEYS)
    patients.update({c.name: spec(c) for c in model.patient_columns})
    patients.update(PATIENT_ENGINE)
    daily = dict(DAILY_KEYS)
    daily.update({c.name: spec(c) for c in model.daily_columns})
    daily.update(DAILY_ENGINE)
    weather = dict(WEATHER_KEYS)
    for c in model.components:
        weather.update({col.name: spec(col) for col in getattr(c, "location_columns", ())})
    attacks = dict(ATTACK_HEAD)
    attacks.update({c.name: spec(c) for c in model.attack_columns})
    attacks.update({rf.flag_column: (pl.Boolean, "", "active the day before onset")
                    for rf in model.risk_factors})
    attacks.update({column: (pl.Boolean, "", f"{model.risk_factors[k].flag_column} of the day "
                             f"before onset was switched on by {owner.name}'s post-run step "
                             "(after the onset was decided: not its cause)")
                    for column, owner, k in switched_flags(model)})
    attacks.update(ATTACK_TAIL)
    return {"patients": patients, "daily": daily, "weather": weather, "attacks": attacks,
            "events": _events(model), "observed": observed_frame(model)}


def observed_frame(model: Any) -> dict[str, Spec]:
    """The ``observed`` frame's columns: the keys, every daily column a source of the observation
    layer records (as that source recorded it, null where it recorded nothing), the entry
    times."""
    from abm.model.observed import observed_columns, time_columns

    sources = {None: "the weather service", "diary_time": "the diary",
               "wearable_time": "the wearable"}
    out = dict(OBSERVED_KEYS)
    for name, when in observed_columns(model).items():
        col = model.columns[name]
        out[name] = (col.dtype, col.unit, f"as {sources.get(when, when)} recorded it (null: not "
                     f"recorded); truth in daily")
    out.update({c.name: (c.dtype, c.unit, c.meaning) for c in time_columns()})
    return out


@functools.cache
def default_model() -> Any:
    """The built-in model of the default configuration: what frames passed without their model
    are read as (every configuration has its columns; only feedback rules switch on and off)."""
    from abm.config.settings import Config
    from abm.engine.model import Model

    return Model.build(Config())


@functools.cache
def _default_frames() -> dict[str, dict[str, Spec]]:
    return frames(default_model())


FRAME_NAMES = ("patients", "daily", "weather", "attacks", "events", "observed")


def schema(frame: str, model: Any = None) -> pl.Schema:
    """The Polars schema of ``frame``."""
    return pl.Schema({name: spec[0] for name, spec in frames(model)[frame].items()})


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


def markdown_tables(model: Any = None) -> str:
    """The README's tables of columns, one per frame."""
    out = []
    for frame, columns in frames(model).items():
        out.append(f"#### `{frame}`\n\n| column | type | unit | meaning |\n|---|---|---|---|")
        out += [f"| `{name}` | {_type_name(dtype)} | {unit} | {meaning} |"
                for name, (dtype, unit, meaning) in columns.items()]
        out.append("")
    return "\n".join(out).rstrip() + "\n"
