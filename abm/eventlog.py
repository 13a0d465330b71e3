"""The ``events`` frame: every logged observation and every attack event, in time order.

Most events happen at fixed times of day (``abm.clock``'s phases): weather at 00:00, stress and
diet logs at 20:00, the night's sleep at 22:00 and the day's active triggers at 23:00. Onsets,
ends and feedback happen at an attack's own times. Instead of sorting millions of rows, the log is
laid out by construction: a day is a sequence of slots, each fixed-time kind followed by the slot
of the attack events that fall before the next fixed time. Every fixed-time kind is built in
(day, patient) order, and only the attack events are sorted among themselves, so each slot is a
contiguous run of one group; concatenating the runs slot by slot gives the log in time order.
Text columns are categorical codes into small tables of names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from abm import schemas
from abm.triggers import NAMES

if TYPE_CHECKING:
    from abm.simulation import Cohort

MS_PER_HOUR = 3_600_000
MS_PER_DAY = 24 * MS_PER_HOUR
KIND_CODE = {k: i for i, k in enumerate(schemas.EVENT_KINDS)}
#: the fixed-time kinds of a day, in order, with the hour they are logged at
FIXED = (("weather", 0), ("stress_log", 20), ("diet_log", 20), ("sleep", 22), ("trigger", 23))
LOG_HOUR = dict(FIXED)
SLOTS_PER_DAY = 2 * len(FIXED)
COLUMNS = ("time_ms", "patient", "location", "kind", "name", "value", "attack", "target_day")


def gap_slot(ms_of_day: np.ndarray) -> np.ndarray:
    """Slot of an attack event from its time of day: right after the last fixed kind logged at
    or before that time (weather at 00:00 always qualifies)."""
    fixed_ms = np.array([h * MS_PER_HOUR for _, h in FIXED])
    return 2 * (np.searchsorted(fixed_ms, ms_of_day, side="right") - 1) + 1


class _Group:
    """Rows of one kind of event, already in slot order, with where each slot's run starts.

    Columns are given as functions and made one at a time when the log is assembled, so only one
    column of millions of rows exists at once.
    """

    def __init__(self, starts: np.ndarray, **columns: Callable[[], np.ndarray]) -> None:
        self.starts = starts  # (days * SLOTS_PER_DAY + 1,) run boundaries, by slot
        self.columns = columns


def _fixed_group(kind: str, values: np.ndarray, patient: np.ndarray, location: np.ndarray,
                 name: int, days: int) -> _Group:
    """``values`` is (days, k): k rows a day, in that order."""
    k = values.shape[1]
    slot = 2 * [f for f, _ in FIXED].index(kind)
    day = np.repeat(np.arange(days, dtype=np.int64), k)
    counts = np.zeros(days * SLOTS_PER_DAY, dtype=np.int64)
    counts[np.arange(days) * SLOTS_PER_DAY + slot] = k
    size = days * k
    return _Group(np.concatenate([[0], np.cumsum(counts)]),
                  time_ms=lambda: day * MS_PER_DAY + LOG_HOUR[kind] * MS_PER_HOUR,
                  patient=lambda: np.tile(patient, days), location=lambda: np.tile(location, days),
                  kind=lambda: np.full(size, KIND_CODE[kind], np.uint8),
                  name=lambda: np.full(size, name, np.int32),
                  value=lambda: values.ravel().astype(np.float64),
                  attack=lambda: np.full(size, -1, np.int64),
                  target_day=lambda: np.full(size, -1, np.int64))


def build_events(cohort: Cohort, patient_ids: pl.Series, location_ids: pl.Series,
                 onset_patient: np.ndarray, onset_day: np.ndarray, onset_ms: np.ndarray,
                 end_ms: np.ndarray, severity: np.ndarray, duration: np.ndarray,
                 attack_ids: pl.Series, start_ms: int) -> pl.DataFrame:
    """The event log of a finished cohort (times in ms since the epoch of ``start_ms``)."""
    n, days = cohort.codes.shape
    n_slots = days * SLOTS_PER_DAY
    loc = cohort.locations
    n_loc = loc.pressure_hpa.shape[0]
    patient_loc = cohort.profiles.location.astype(np.int64)
    names = ["pressure", "stress_level", "diet_items", "total_sleep_hours", *NAMES, "severity",
             "duration_hours"]
    code = {name: i for i, name in enumerate(names)}
    everyone = np.arange(n, dtype=np.int64)
    diet = cohort.diet
    items = (diet["alcohol_consumed"].astype(np.int8) + diet["caffeine_consumed"]
             + diet["chocolate_consumed"])
    groups = [
        _fixed_group("weather", loc.pressure_hpa.T, np.full(n_loc, -1, np.int64),
                     np.arange(n_loc, dtype=np.int64), code["pressure"], days),
        _fixed_group("stress_log", cohort.stress_level.T, everyone, patient_loc,
                     code["stress_level"], days),
        _fixed_group("diet_log", items.T, everyone, patient_loc, code["diet_items"], days),
        _fixed_group("sleep", cohort.sleep["total_sleep_hours"].T, everyone, patient_loc,
                     code["total_sleep_hours"], days),
    ]

    # active triggers, in (day, patient, trigger) order
    bits = (cohort.codes.T[:, :, None] >> np.arange(4, dtype=np.uint8)) & 1
    t_day, t_patient, t_trigger = np.nonzero(bits)
    counts = np.zeros(n_slots, dtype=np.int64)
    counts[np.arange(days) * SLOTS_PER_DAY + 8] = np.bincount(t_day, minlength=days)
    size = t_day.size
    groups.append(_Group(
        np.concatenate([[0], np.cumsum(counts)]),
        time_ms=lambda: t_day.astype(np.int64) * MS_PER_DAY + LOG_HOUR["trigger"] * MS_PER_HOUR,
        patient=lambda: t_patient.astype(np.int64), location=lambda: patient_loc[t_patient],
        kind=lambda: np.full(size, KIND_CODE["trigger"], np.uint8),
        name=lambda: (code["weather"] + t_trigger).astype(np.int32),
        value=lambda: np.full(size, np.nan), attack=lambda: np.full(size, -1, np.int64),
        target_day=lambda: np.full(size, -1, np.int64)))

    # attack events: onsets, feedback edits, ends; sorted among themselves
    edits = cohort.edits
    m = len(edits)
    e_patient = np.fromiter((e[0] for e in edits), np.int64, m)
    e_day = np.fromiter((e[1] for e in edits), np.int64, m)
    e_onset = np.fromiter((e[5] for e in edits), np.int64, m)
    e_delta = np.fromiter((e[4] for e in edits), np.float64, m)
    rule_of = {}
    for rule in sorted({f"{e[2]}:{e[3]}" for e in edits}):
        rule_of[rule] = len(names)
        names.append(rule)
    e_name = np.fromiter((rule_of[f"{e[2]}:{e[3]}"] for e in edits), np.int32, m)
    e_attack = np.searchsorted(onset_patient * days + onset_day, e_patient * days + e_onset)
    a = onset_day.size
    rows = np.arange(a, dtype=np.int64)
    time_ms = np.concatenate([onset_ms, onset_ms[e_attack], end_ms])
    kind = np.concatenate([np.full(a, KIND_CODE["migraine_onset"], np.uint8),
                           np.full(m, KIND_CODE["feedback"], np.uint8),
                           np.full(a, KIND_CODE["migraine_end"], np.uint8)])
    patient = np.concatenate([onset_patient, e_patient, onset_patient])
    order = np.lexsort((patient, kind, time_ms))
    time_ms = time_ms[order]
    a_day = time_ms // MS_PER_DAY
    slot = a_day * SLOTS_PER_DAY + gap_slot(time_ms - a_day * MS_PER_DAY)
    in_run = slot < n_slots  # ends after the last day are logged after it
    counts = np.bincount(slot[in_run], minlength=n_slots)
    late = int((~in_run).sum())
    attack_columns = {
        "time_ms": time_ms, "patient": patient[order], "location": patient_loc[patient[order]],
        "kind": kind[order],
        "name": np.concatenate([np.full(a, code["severity"], np.int32), e_name,
                                np.full(a, code["duration_hours"], np.int32)])[order],
        "value": np.concatenate([severity.astype(np.float64), e_delta,
                                 duration.astype(np.float64)])[order],
        "attack": np.concatenate([rows, e_attack, rows])[order],
        "target_day": np.concatenate([np.full(a, -1), e_day, np.full(a, -1)])[order]}
    groups.append(_Group(np.concatenate([[0], np.cumsum(counts)]),
                         **{k: (lambda v=v: v) for k, v in attack_columns.items()}))

    # concatenate the runs slot by slot; each slot belongs to exactly one group
    owner = np.full(n_slots, -1, dtype=np.int64)
    for g_index, group in enumerate(groups):
        owner[np.diff(group.starts) > 0] = g_index
    runs = [(owner[s], s) for s in np.flatnonzero(owner >= 0).tolist()]

    def column(name: str) -> np.ndarray:
        made = [g.columns[name]() for g in groups]
        pieces = [made[g][groups[g].starts[s]:groups[g].starts[s + 1]] for g, s in runs]
        if late:
            pieces.append(made[-1][-late:])
        return np.concatenate(pieces)

    def text(table: pl.Series, index: np.ndarray) -> pl.Series:
        padded = pl.concat([table.cast(pl.String), pl.Series([None], dtype=pl.String)])
        return padded.cast(pl.Categorical).gather(
            pl.Series(np.where(index < 0, len(table), index), dtype=pl.UInt32))

    kinds = pl.Series(list(schemas.EVENT_KINDS), dtype=schemas.EventKind)
    start_day = np.datetime64(cohort.calendar.start, "D")
    target = column("target_day")
    frame = pl.DataFrame({
        "time": pl.Series(column("time_ms") + start_ms).cast(pl.Datetime("ms")),
        "patient_id": text(patient_ids, column("patient")),
        "location_id": text(location_ids, column("location")),
        "event": kinds.gather(pl.Series(column("kind").astype(np.uint32))),
        "name": text(pl.Series(names), column("name")),
        "value": pl.Series(column("value")).fill_nan(None),
        "attack_id": text(attack_ids, column("attack")),
        "target_date": np.where(target < 0, np.datetime64("NaT", "D"),
                                start_day + target.astype("timedelta64[D]")),
    })
    return frame.select([pl.col(c).cast(t) for c, t in schemas.schema("events").items()])
