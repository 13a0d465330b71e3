"""Turn a finished cohort into the output frames, column by column.

Collecting is separate from exporting: this module only builds Polars frames in the schemas of
``abm.output.schemas`` from the cohort's final arrays and the patients' onset days. Everything is
done in whole columns; nothing loops over patient-days in Python.

The ``events`` frame is laid out in time order by ``abm.output.events``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from abm.engine.derive import unpack
from abm.engine.hazard import factors_at, onset_probability, previous_codes
from abm.model.attacks import DRIFT_COLUMN, STATE_COLUMN
from abm.output import schemas
from abm.output.attribution import feedback_chains
from abm.output.events import build_events
from abm.output.result import Result

if TYPE_CHECKING:
    from abm.engine.cohort import Cohort, Progress

MS_PER_HOUR = 3_600_000
MS_PER_DAY = 24 * MS_PER_HOUR


def patient_ids(n: int, first: int = 0) -> pl.Series:
    """``P0000``-style ids of patients ``first … first + n - 1``; fixed width 4 (``P10000``
    follows ``P9999``), so adding patients never renames anyone."""
    return pl.Series("patient_id", [f"P{i:04d}" for i in range(first, first + n)],
                     dtype=pl.Categorical)


def location_ids(n: int) -> pl.Series:
    """``L00``-style ids."""
    return pl.Series("location_id", [f"L{k:02d}" for k in range(n)], dtype=pl.Categorical)


def _gather(ids: pl.Series, index: np.ndarray, name: str) -> pl.Series:
    return ids.gather(pl.Series(index, dtype=pl.UInt32)).alias(name)


def labelled(dtype: pl.DataType, codes: np.ndarray) -> pl.Series | np.ndarray:
    """The values of a column for its frame: an ``Enum`` column's stored codes (the index of
    each value among the Enum's categories) become its labels; other columns stay as stored."""
    if not isinstance(dtype, pl.Enum):
        return codes
    return pl.Series(values=list(dtype.categories), dtype=dtype).gather(
        pl.Series(np.asarray(codes).ravel(), dtype=pl.UInt32))


def _cast(frame: pl.DataFrame, name: str, model: object) -> pl.DataFrame:
    return frame.select([pl.col(c).cast(t) for c, t in schemas.schema(name, model).items()])


def _nulls(frame: pl.DataFrame, columns: list) -> pl.DataFrame:
    """Null where a column declared with ``null=...`` holds that stored value."""
    return frame.with_columns(pl.when(pl.col(c.name) != c.null).then(pl.col(c.name))
                              .alias(c.name) for c in columns if c.null is not None)


class _Onsets:
    """Flat arrays of every attack, ordered by patient then onset day."""

    def __init__(self, cohort: Cohort) -> None:
        counts = np.fromiter((len(o) for o in cohort.onsets), dtype=np.int64,
                             count=len(cohort.onsets))
        self.patient = np.repeat(np.arange(len(counts)), counts)
        self.day = np.fromiter((d for o in cohort.onsets for d in o), dtype=np.int64,
                               count=int(counts.sum()))
        starts = np.cumsum(counts) - counts
        self.number = np.arange(len(self.day)) - np.repeat(starts, counts)
        a = cohort.attacks
        at = (self.patient, self.day)
        self.hour = a.onset_hour[at]
        self.duration = a.duration_hours[at]
        self.span = a.span_days[at].astype(np.int64)
        self.severity = a.severity[at]
        self.aura = a.aura[at]
        self.menstrual = a.menstrual[at]
        self.onset_ms = self.day * MS_PER_DAY + np.round(self.hour * 60).astype(np.int64) * 60_000
        self.end_ms = self.onset_ms + np.round(self.duration * MS_PER_HOUR).astype(np.int64)
        # a recurrence starts within the window of the end of the same patient's previous attack
        window = np.round(cohort.config.attacks.recurrence_window_hours * MS_PER_HOUR)
        previous_end = np.concatenate([[0], self.end_ms[:-1]])
        self.recurrence = (self.number > 0) & (self.onset_ms - previous_end <= window)


def record(cohort: Cohort, progress: Progress | None = None,
           weather_events: bool = True, release: bool = False) -> Result:
    """Build the five frames. With ``release``, the cohort's arrays are let go as soon as the
    frames no longer need them (a run that returns the frames keeps memory to its peak: the
    event log, built last, is the largest frame)."""
    cfg = cohort.config
    n = cohort.size
    n_loc = cfg.population.num_locations
    pids = patient_ids(n, cohort.first_patient)
    lids = location_ids(n_loc)
    start_ms = int(np.datetime64(cohort.calendar.start, "ms").astype(np.int64))
    onsets = _Onsets(cohort)
    attack_ids = pl.select(pl.concat_str([
        pids.cast(pl.String).gather(pl.Series(onsets.patient, dtype=pl.UInt32)), pl.lit("-A"),
        pl.Series(onsets.number).cast(pl.String).str.zfill(3)])).to_series() \
        .cast(pl.Categorical).alias("attack_id")

    patients = _patients_frame(cohort, pids, lids)
    weather = _weather_frame(cohort, lids)
    daily = _daily_frame(cohort, pids, lids, onsets, attack_ids)
    attacks = _attacks_frame(cohort, pids, onsets, attack_ids, start_ms)
    observed = _observed_frame(cohort, daily, start_ms)
    if release:
        logged = {e.column for c in cohort.model.components for e in c.logs
                  if e.column is not None and not e.per_location}
        logged |= {c.name for comp in cohort.model.components for e in comp.logs
                   if e.column is None and not e.per_location for c in comp.outputs()}
        for name in [name for name in cohort.columns if name not in logged]:
            del cohort.columns[name]
        cohort.observed.clear()
        cohort.entry_minutes.clear()
        cohort.latent.clear()
        cohort.termsums.clear()
        cohort.planned.clear()
        cohort.onset_uniform = cohort.would_start = None  # type: ignore[assignment]
        cohort.attacks = None  # type: ignore[assignment]  # the onsets' own arrays remain
    events = build_events(cohort, pids, lids, onsets.patient, onsets.day, onsets.onset_ms,
                          onsets.end_ms, onsets.severity, onsets.duration, attack_ids, start_ms,
                          weather_events)
    if progress:
        progress("record", 1, 1)
    return Result(cfg, patients, daily, weather, attacks, events, observed, cohort.model)


def _patients_frame(cohort: Cohort, pids: pl.Series, lids: pl.Series) -> pl.DataFrame:
    model = cohort.model
    columns = {
        "patient_id": pids,
        "location_id": _gather(lids, cohort.patients["location"], "location_id"),
    }
    columns.update({c.name: labelled(c.dtype, cohort.patients[c.name])
                    for c in model.patient_columns})
    columns["baseline_onset_probability"] = cohort.baseline
    return _cast(_nulls(pl.DataFrame(columns), model.patient_columns), "patients", model)


def _weather_frame(cohort: Cohort, lids: pl.Series) -> pl.DataFrame:
    columns: dict[str, object] = {}
    for component in cohort.model.components:
        if hasattr(component, "location_values"):
            columns.update(component.location_values(cohort.shared[component.name]))
    n_loc = cohort.config.population.num_locations
    days = cohort.days
    index = np.repeat(np.arange(n_loc), days)
    frame = {
        "location_id": _gather(lids, index, "location_id"),
        "date": np.tile(cohort.calendar.dates, n_loc),
        "day": np.tile(np.arange(days, dtype=np.int32), n_loc),
    }
    frame.update({name: values.ravel() for name, values in columns.items()})
    return _cast(pl.DataFrame(frame), "weather", cohort.model)


def _daily_frame(cohort: Cohort, pids: pl.Series, lids: pl.Series, onsets: _Onsets,
                 attack_ids: pl.Series) -> pl.DataFrame:
    n, days = cohort.size, cohort.days
    model = cohort.model
    at = cohort.patients["location"]
    # which attack (row in the attacks frame) is under way on each patient-day, -1 if none
    covered = np.minimum(onsets.span, days - onsets.day)
    rows = np.repeat(np.arange(len(onsets.day)), covered)
    starts = np.cumsum(covered) - covered
    offset = np.arange(rows.size) - np.repeat(starts, covered)
    cell = onsets.patient[rows] * days + onsets.day[rows] + offset
    attack_of_day = np.full(n * days, -1, dtype=np.int64)
    attack_of_day[cell] = rows
    onset_flag = np.zeros(n * days, dtype=bool)
    onset_flag[onsets.patient * days + onsets.day] = True
    patient_index = np.repeat(np.arange(n, dtype=np.uint32), days)

    columns = {
        "patient_id": pids.gather(pl.Series(patient_index)),
        "date": np.tile(cohort.calendar.dates, n),
        "day": np.tile(np.arange(days, dtype=np.int32), n),
        "location_id": lids.gather(pl.Series(np.repeat(at.astype(np.uint32), days))),
    }
    flags = {rf.flag_column: k for k, rf in enumerate(model.risk_factors)}
    for column in model.daily_columns:
        if column.name in flags:
            columns[column.name] = unpack(cohort.codes, model.fields[flags[column.name]]).ravel()
        else:
            columns[column.name] = labelled(column.dtype, cohort.columns[column.name].ravel())
    columns["has_migraine"] = attack_of_day >= 0
    columns["migraine_onset"] = onset_flag
    # index len(attack_ids) is the null entry of the table: days with no attack under way
    no_attack = np.where(attack_of_day >= 0, attack_of_day, len(attack_ids))
    columns["attack_id"] = schemas.with_null(attack_ids).gather(
        pl.Series(no_attack, dtype=pl.UInt32))
    frame = _nulls(pl.DataFrame(columns), model.daily_columns)
    return _cast(frame, "daily", model)


def _observed_frame(cohort: Cohort, daily: pl.DataFrame, start_ms: int) -> pl.DataFrame:
    """What the observation layer recorded (``abm.engine.observe``): the daily frame's keys, each
    observed column null where its source recorded nothing, and the entry times."""
    from abm.model.observed import observed_columns, time_columns

    model = cohort.model
    columns: dict[str, object] = {name: daily[name] for name in schemas.OBSERVED_KEYS}
    masks: dict[str, np.ndarray] = {}
    seen: dict[int, str] = {}  # one mask column per source (its columns share one array)
    kept: dict[str, str] = {}
    for name in observed_columns(model):
        values, recorded = cohort.observed[name]
        columns[name] = labelled(model.columns[name].dtype, values.ravel())
        key = seen.setdefault(id(recorded), f"__recorded{len(seen)}")
        masks[key] = recorded.ravel()
        kept[name] = key
    for col in time_columns():
        minutes = cohort.entry_minutes[col.name].ravel()
        columns[col.name] = start_ms + minutes * 60_000
        key = f"__{col.name}"
        masks[key] = minutes >= 0
        kept[col.name] = key
    frame = pl.DataFrame({**columns, **masks})
    frame = frame.with_columns(pl.when(pl.col(key)).then(pl.col(name)).alias(name)
                               for name, key in kept.items()).drop(list(masks))
    frame = frame.with_columns(pl.col(c.name).cast(pl.Datetime("ms")) for c in time_columns())
    declared = [model.columns[name] for name in observed_columns(model)]
    return _cast(_nulls(frame, declared), "observed", model)


def _attacks_frame(cohort: Cohort, pids: pl.Series, onsets: _Onsets, attack_ids: pl.Series,
                   start_ms: int) -> pl.DataFrame:
    i, d = onsets.patient, onsets.day
    model = cohort.model
    before = np.maximum(d - 1, 0)
    prev_codes = np.where(d > 0, cohort.codes[:, i, before], 0).astype(np.uint8)
    cap = cohort.cap
    # (baseline x drift) x state x factors: the order the run decided the onsets with
    baseline = cohort.baseline[i] * cohort.columns[DRIFT_COLUMN][i, d].astype(np.float64)
    if STATE_COLUMN in cohort.columns:
        baseline = baseline * cohort.columns[STATE_COLUMN][i, d].astype(np.float64)
    p_onset = np.minimum(cap, baseline * factors_at(cohort.factor_tables, i, prev_codes))
    columns = {
        "attack_id": attack_ids,
        "patient_id": pids.gather(pl.Series(i, dtype=pl.UInt32)),
        "onset": onsets.onset_ms + start_ms,
        "end": onsets.end_ms + start_ms,
        "duration_hours": onsets.duration,
        "with_aura": onsets.aura,
        "severity": onsets.severity,
        "menstrual": onsets.menstrual,
        "recurrence": onsets.recurrence,
    }
    for component in model.components:
        columns.update(component.attack_values(cohort.patients, cohort.attacks, i, d))
    for k, rf in enumerate(model.risk_factors):
        columns[rf.flag_column] = unpack(prev_codes, model.fields[k])
    for column, switched in cohort.switched_on.items():
        columns[column] = (d > 0) & switched[i, before]
    columns["p_onset"] = p_onset
    columns["p_baseline"] = np.minimum(cap, baseline)
    columns["caused_by_feedback"] = ~cohort.would_start[i, d]
    columns["feedback_chain"] = pl.Series(feedback_chains(cohort, i, d,
                                                          columns["caused_by_feedback"]),
                                          dtype=pl.String)
    frame = pl.DataFrame(columns).with_columns(
        pl.col("onset").cast(pl.Datetime("ms")), pl.col("end").cast(pl.Datetime("ms")))
    return _cast(frame, "attacks", model)


def final_onset_probability(cohort: Cohort) -> np.ndarray:
    """Onset probabilities recomputed from the final (edited) series, ``(n, days)``."""
    return onset_probability(cohort.baseline, cohort.factor_tables,
                             previous_codes(cohort.codes), cohort.cap,
                             cohort.columns[DRIFT_COLUMN], cohort.columns.get(STATE_COLUMN))
