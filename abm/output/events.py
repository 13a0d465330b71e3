"""The ``events`` frame: every logged observation and every attack event, in time order.

Most events happen at fixed times of day, declared by the components (``logs``): weather at
00:00, stress and diet logs at 20:00, the night's sleep at 22:00; the day's active triggers
follow at 23:00. Onsets,
ends and feedback happen at an attack's own times. Instead of sorting millions of rows, the log is
laid out by construction: a day is a sequence of slots, each fixed-time kind followed by the slot
of the attack events that fall before the next fixed time. Every fixed-time kind is built in
(day, patient) order, and only the attack events are sorted among themselves, so each slot is a
contiguous run of one group; concatenating the runs slot by slot gives the log in time order.
Text columns are categorical codes into small tables of names.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from abm.engine.derive import unpack
from abm.model.component import Column, RiskFactor
from abm.output import schemas

if TYPE_CHECKING:
    from abm.engine.cohort import Cohort

MS_PER_HOUR = 3_600_000
MS_PER_DAY = 24 * MS_PER_HOUR
#: the hour the day's active triggers are logged at
TRIGGER_HOUR = 23
#: days of the log assembled at a time (bounds the memory of temporaries)
DAYS_PER_CHUNK = 6


@dataclass(frozen=True)
class Observed:
    """When a daily column is observed: its declaration, its modality (the component's name;
    ``trigger`` for the risk factors' flags) and the hour of day."""

    column: Column
    modality: str
    hour: int


def observed(model: Any) -> list[Observed]:
    """Every daily column of ``model`` with the modality and hour it is observed at, in time order
    (ties in the order of the ``daily`` frame).

    The hours follow the ``events`` log: a column named by a log entry (``LogEntry.column``) at
    that entry's hour; the component's other columns at its earliest entry's hour (a diary
    entry records the day's items together); a risk factor's flag at :data:`TRIGGER_HOUR`, with
    the day's trigger events. A component that logs nothing has no time of its own: its columns
    count as known at the end of the day they describe, :data:`TRIGGER_HOUR`, like the flags
    computed from that day's values, so nothing observed later in the day is placed before them.
    """
    out: list[Observed] = []
    for component in model.components:
        if isinstance(component, RiskFactor):
            continue
        hours = {e.column: e.hour for e in component.logs if e.column is not None}
        first = min((e.hour for e in component.logs), default=TRIGGER_HOUR)
        out += [Observed(col, component.name, hours.get(col.name, first))
                for col in component.outputs() if col.frame == "daily"]
    out += [Observed(rf.outputs()[0], "trigger", TRIGGER_HOUR) for rf in model.risk_factors]
    return sorted(out, key=lambda o: o.hour)


def fixed_kinds(model: Any) -> list[tuple[str, int]]:
    """The fixed-time kinds of a day, in time order, with the hour they are logged at."""
    logs = sorted(((e.kind, e.hour) for c in model.components for e in c.logs),
                  key=lambda kind_hour: kind_hour[1])
    return [*logs, ("trigger", TRIGGER_HOUR)]


def gap_slot(ms_of_day: np.ndarray, fixed: list[tuple[str, int]]) -> np.ndarray:
    """Slot of an attack event from its time of day: right after the last fixed kind logged at
    or before that time (a kind at 00:00 always qualifies)."""
    fixed_ms = np.array([h * MS_PER_HOUR for _, h in fixed])
    return 2 * np.maximum(np.searchsorted(fixed_ms, ms_of_day, side="right") - 1, 0) + 1


def build_events(cohort: Cohort, patient_ids: pl.Series, location_ids: pl.Series,
                 onset_patient: np.ndarray, onset_day: np.ndarray, onset_ms: np.ndarray,
                 end_ms: np.ndarray, severity: np.ndarray, duration: np.ndarray,
                 attack_ids: pl.Series, start_ms: int,
                 weather_events: bool = True) -> pl.DataFrame:
    """The event log of a finished cohort (``start_ms``: the first day's midnight, epoch ms).

    ``weather_events=False`` leaves out the locations' weather events (a shard other than the
    first: the weather is the same in every shard and is logged once).
    """
    model = cohort.model
    n, days = cohort.size, cohort.days
    fixed_order = fixed_kinds(model)
    slots_per_day = 2 * len(fixed_order)
    log_hour = dict(fixed_order)
    kind_code = {k: i for i, k in enumerate(schemas.event_kinds(model))}
    patient_loc = cohort.patients["location"].astype(np.uint32)
    entries = [(c, e) for c in model.components for e in c.logs]
    names = [e.name for _, e in entries]
    first_trigger = len(names)
    names += [*model.triggers, "severity", "duration_hours"]
    code = {name: i for i, name in enumerate(names)}
    no_patient, no_attack = n, onset_day.size  # index of the null entry of each table

    # fixed-time kinds: values as (days, k) contiguous arrays, k rows a day
    everyone = np.arange(n, dtype=np.uint32)
    fixed = {}
    for component, entry in entries:
        if entry.per_location:
            values = component.location_values(cohort.shared[component.name])[entry.column]
            n_loc = values.shape[0] if weather_events else 0
            fixed[entry.kind] = (np.ascontiguousarray(values.T[:, :n_loc]),
                                 np.full(n_loc, no_patient, np.uint32),
                                 np.arange(n_loc, dtype=np.uint32), code[entry.name])
            continue
        values = (cohort.columns[entry.column] if entry.column is not None
                  else entry.value(cohort.columns))
        fixed[entry.kind] = (np.ascontiguousarray(values.T), everyone, patient_loc,
                             code[entry.name])
    # active triggers, in (day, patient, trigger) order
    k_total = len(model.risk_factors)
    active = np.zeros((days, n, max(k_total, 1)), dtype=bool)
    for k in range(k_total):
        active[:, :, k] = unpack(cohort.codes, model.fields[k]).T
    flat = np.flatnonzero(active[:, :, :k_total] if k_total else active[:, :, :0])
    t_day, rest = np.divmod(flat, n * max(k_total, 1))
    t_patient, t_trigger = np.divmod(rest, max(k_total, 1))
    t_per_day = np.bincount(t_day, minlength=days)
    t_start = np.concatenate([[0], np.cumsum(t_per_day)])

    # attack events: onsets, feedback edits, ends; sorted among themselves
    edits, kinds = cohort.edits.columns()
    m = edits["patient"].size
    kind_name = np.empty(len(kinds), dtype=np.uint32)
    labels = [f"{rule}:{column}" for rule, column in kinds]
    for kind in sorted(range(len(labels)), key=labels.__getitem__):
        kind_name[kind] = len(names)
        names.append(labels[kind])
    e_patient = edits["patient"]
    e_attack = np.searchsorted(onset_patient * days + onset_day,
                               e_patient * days + edits["onset_day"])
    a = onset_day.size
    rows = np.arange(a, dtype=np.uint32)
    a_time = np.concatenate([onset_ms, onset_ms[e_attack], end_ms])
    a_kind = np.concatenate([np.full(a, kind_code["migraine_onset"], np.uint8),
                             np.full(m, kind_code["feedback"], np.uint8),
                             np.full(a, kind_code["migraine_end"], np.uint8)])
    a_patient = np.concatenate([onset_patient, e_patient, onset_patient]).astype(np.uint32)
    order = np.lexsort((a_patient, a_kind, a_time))
    attack_rows = {
        "time": a_time[order], "patient": a_patient[order], "kind": a_kind[order],
        "name": np.concatenate([np.full(a, code["severity"], np.uint32),
                                kind_name[edits["kind"]],
                                np.full(a, code["duration_hours"], np.uint32)])[order],
        "value": np.concatenate([severity.astype(np.float64),
                                 edits["delta"],
                                 duration.astype(np.float64)])[order],
        "attack": np.concatenate([rows, e_attack.astype(np.uint32), rows])[order],
        "target": np.concatenate([np.full(a, -1, np.int32),
                                  edits["day"].astype(np.int32),
                                  np.full(a, -1, np.int32)])[order],
    }
    attack_rows["location"] = patient_loc[attack_rows["patient"]]
    a_day = attack_rows["time"] // MS_PER_DAY
    a_slot = np.minimum(a_day * slots_per_day + gap_slot(attack_rows["time"]
                                                          - a_day * MS_PER_DAY, fixed_order),
                        days * slots_per_day)  # ends after the last day go last
    a_start = np.searchsorted(a_slot, np.arange(days * slots_per_day + 1))

    # the runs of the log, slot by slot: (kind or None for attack events, day, first, last)
    runs: list[tuple[str | None, int, int, int]] = []
    for d in range(days):
        for i, (kind, _hour) in enumerate(fixed_order):
            size = t_per_day[d] if kind == "trigger" else fixed[kind][0].shape[1]
            if size:
                runs.append((kind, d, int(t_start[d]), int(t_start[d]) + int(size)))
            slot = d * slots_per_day + 2 * i + 1
            if a_start[slot + 1] > a_start[slot]:
                runs.append((None, d, int(a_start[slot]), int(a_start[slot + 1])))
    last = days * slots_per_day
    if a_start[last + 1 - 1] < a_slot.size:
        runs.append((None, days, int(a_start[last]), int(a_slot.size)))
    tables = {
        "patient": schemas.with_null(patient_ids), "location": schemas.with_null(location_ids),
        "name": schemas.with_null(pl.Series(names)), "attack": schemas.with_null(attack_ids),
    }
    kind_names = schemas.event_kinds(model)
    kinds = pl.Series(list(kind_names), dtype=pl.Enum(list(kind_names)))
    start_day = np.datetime64(cohort.calendar.start, "D")
    trigger_name = (first_trigger + t_trigger).astype(np.uint32)

    def frame_of(chunk: list[tuple[str | None, int, int, int]]) -> pl.DataFrame:
        """The rows of a run of consecutive runs, as a frame."""
        lengths = np.array([r[3] - r[2] for r in chunk], dtype=np.int64)
        attack_run = np.array([r[0] is None for r in chunk])
        trigger_run = np.array([r[0] == "trigger" for r in chunk])
        at_attack = np.flatnonzero(np.repeat(attack_run, lengths))
        at_trigger = np.flatnonzero(np.repeat(trigger_run, lengths))
        a_rows = [r for r in chunk if r[0] is None]
        a_span = slice(a_rows[0][2], a_rows[-1][3]) if a_rows else slice(0, 0)
        t_rows = [r for r in chunk if r[0] == "trigger"]
        t_span = slice(t_rows[0][2], t_rows[-1][3]) if t_rows else slice(0, 0)

        def per_run(values: list, dtype: type, attack_column: str,
                    trigger_values: np.ndarray | None = None) -> np.ndarray:
            out = np.repeat(np.array(values, dtype=dtype), lengths)
            out[at_attack] = attack_rows[attack_column][a_span]
            if trigger_values is not None:
                out[at_trigger] = trigger_values[t_span]
            return out

        def pieces(fixed_piece, trigger_piece, attack_column: str) -> np.ndarray:
            parts = []
            for kind, d, first, end in chunk:
                if kind is None:
                    parts.append(attack_rows[attack_column][first:end])
                elif kind == "trigger":
                    parts.append(trigger_piece(first, end))
                else:
                    parts.append(fixed_piece(kind, d))
            return np.concatenate(parts)

        kind_of = [kind_code[r[0]] if r[0] else 0 for r in chunk]
        time_of = [r[1] * MS_PER_DAY + log_hour[r[0]] * MS_PER_HOUR if r[0] else 0
                   for r in chunk]
        name_of = [fixed[r[0]][3] if r[0] in fixed else 0 for r in chunk]
        target = per_run([-1] * len(chunk), np.int32, "target")
        return pl.DataFrame({
            "time": pl.Series(per_run(time_of, np.int64, "time") + start_ms)
            .cast(pl.Datetime("ms")),
            "patient_id": _gather(tables["patient"], pieces(
                lambda k, d: fixed[k][1], lambda a, b: t_patient[a:b].astype(np.uint32),
                "patient")),
            "location_id": _gather(tables["location"], pieces(
                lambda k, d: fixed[k][2], lambda a, b: patient_loc[t_patient[a:b]],
                "location")),
            "event": kinds.gather(pl.Series(per_run(kind_of, np.uint8, "kind"))),
            "name": _gather(tables["name"], per_run(name_of, np.uint32, "name", trigger_name)),
            "value": pl.Series(pieces(lambda k, d: fixed[k][0][d].astype(np.float64),
                                      lambda a, b: np.full(b - a, np.nan), "value"))
            .fill_nan(None),
            "attack_id": _gather(tables["attack"],
                                 per_run([no_attack] * len(chunk), np.uint32, "attack")),
            "target_date": np.where(target < 0, np.datetime64("NaT", "D"),
                                    start_day + target.astype("timedelta64[D]")),
        })

    # a chunk of days at a time bounds the memory of the temporaries; chunks are independent and
    # their work is NumPy's and Polars', which runs without the interpreter lock: two at once
    pieces: list[list[tuple[str | None, int, int, int]]] = []
    first = 0
    for i in range(1, len(runs) + 1):
        if i == len(runs) or (runs[i][1] != runs[i - 1][1] and runs[i][1] % DAYS_PER_CHUNK == 0):
            pieces.append(runs[first:i])
            first = i
    with ThreadPoolExecutor(max_workers=2 if len(pieces) > 1 else 1) as pool:
        chunks = list(pool.map(frame_of, pieces))
    frame = pl.concat(chunks, rechunk=False) if chunks else frame_of([])
    return frame.select([pl.col(c).cast(t)
                         for c, t in schemas.schema("events", model).items()])


def _gather(categories: pl.Series, index: np.ndarray) -> pl.Series:
    return categories.gather(pl.Series(index, dtype=pl.UInt32))
