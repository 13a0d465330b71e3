"""Prediction samples in the input layout of FuseMoE's MIMIC-IV loader.

FuseMoE (Han et al., "FuseMoE: Mixture-of-Experts Transformers for Fleximodal Fusion", NeurIPS
2024; code at github.com/aaronhan223/FuseMoE) reads ``{file_path}/{mode}_{task}_stays.pkl``
for ``mode`` in ``train``, ``val``, ``test`` in ``src/preprocessing/data_mimiciv.py``
(``load_data``, ``TSNote_Irg``, ``F_impute``, ``TextTSIrgcollate_fn``): each file is a pickled
list of dicts, one per sample, with

- ``name``: the sample id, here ``<patient_id>_<label date>`` (e.g. ``P0012_2024-02-03``);
- ``ts_tt``: float64 array (T,): observation times in hours from the window start, each
  ``< tt_max = 24 * window_days`` (the loader divides by ``tt_max``);
- ``irg_ts``: float32 array (T, 30): the values observed at those times, z-scored with the
  training split's statistics, 0 where not observed; the loader hard-codes 30 features
  (``orig_d_ts=30``), so the columns past :data:`FEATURES` are padding, never observed;
- ``irg_ts_mask``: int32 array (T, 30): 1 where observed, else 0;
- ``reg_ts``: ``None``. FuseMoE reads the key and replaces its value: with ``--reg_ts`` by
  ``F_impute`` of ``irg_ts`` (its own hourly grid), else by ``None``. With
  ``Layout(hourly_grid=True)`` it is the float32 array (tt_max, 60): the observations on the
  regular hourly grid, values (columns 0-29) then mask (30-59); a value is carried forward from
  its last observation in the window (0 before the first), the mask is 1 only in the hour of an
  observation;
- ``label``: 1 if an attack starts on the day after the window (the label day), else 0;
- with ``Layout(diary_vectors=True)``, the diary as FuseMoE's CXR modality (model type
  ``TS_CXR``, whose ``MULTCrossModel`` holds the mixture-of-experts fusion): ``cxr_feats`` float32
  (k, 1024), one row per window day with a diary entry (:func:`diary_entries`), ``cxr_time``
  float32 (k,), the entries' times as a fraction of the window (FuseMoE does not rescale this
  key), and ``cxr_missing`` 1 when k = 0.

Samples: one per patient and label day ``L`` in ``window_days … days-1``; the window is the
``window_days`` days before ``L``, starting at midnight. A label day with an attack already under
way at its start is not at risk of an onset and its sample is dropped, as in the risk set of
``abm validate``'s trigger effects; the counts of dropped samples are in ``fusemoe.json``.

Features and their times of day follow from the components (:func:`features`): every daily
column declared a feature, observed when the component logs it in the event log
(``abm.output.events.observed``: for the built-in model weather at 00:00, stress and diet at
20:00, the night's sleep at 22:00, the day's triggers at 23:00; a component that logs nothing at
23:00, the end of the day its values describe), and an attack's severity and aura at its onset.
Observations at the same instant share a row of ``irg_ts``. An export of a folder uses the model
its manifest records, so the user's own components' columns are features too.

Split: patients (not samples) are shuffled with ``numpy.random.default_rng(seed)`` and cut
70/15/15, so no patient is in two splits. Standardization: each feature's mean and standard
deviation (ddof 0) over the training patients only: every day of the run for daily features,
every attack for the attack features; a constant feature gets SD 1. ``fusemoe.json`` records the
features, their statistics, the split's patients and the counts.

Each file is one pickled list, written as it is made (see :func:`dump_list`), so the export
holds one batch of samples in memory, not the cohort's gigabytes. Arrays are pickled as
``numpy.ndarray(shape, dtype, bytearray(data))`` (:class:`_Pickler`), which NumPy 1.x and 2.x
both load; NumPy 2's own pickles name ``numpy._core``, which NumPy < 1.26 cannot import. The size
is estimated before writing (:meth:`Plan.estimate_bytes`) and an export above ``max_gb`` is
refused unless ``force``.
"""

from __future__ import annotations

import io
import json
import pickle
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import polars as pl

from abm import wording
from abm.errors import ConfigError, InputError, OutputError
from abm.exports import atomic
from abm.output import files, schemas
from abm.output.events import observed

TASK = "ihm-migraine"
WINDOW_DAYS = 2
#: FuseMoE's ``orig_d_ts``: columns of ``irg_ts`` (``reg_ts`` has twice as many)
COLUMNS = 30
SPLITS = ("train", "val", "test")
SPLIT_SHARES = (0.70, 0.15, 0.15)
META = "fusemoe.json"
MINUTES_PER_DAY = 24 * 60
#: samples whose hourly grid is built at a time (bounds temporary memory)
GRID_BATCH = 2048
#: pickled samples written at a time
APPEND_BATCH = 256
#: length of FuseMoE's CXR feature vectors (``MULTCrossModel.orig_d_cxr``), which carry the diary
CXR_DIM = 1024
#: modalities not written in a diary (fetched or measured by a device); the others are
DEVICE_MODALITIES = ("weather", "sleep")
#: the export refuses to write more than this many gigabytes (10**9 bytes, estimated) without
#: ``force``
MAX_GB = 1.0


@dataclass(frozen=True)
class Feature:
    """One column of ``irg_ts``: where its values come from and when they are observed."""

    index: int
    name: str
    frame: str  # daily or attacks
    column: str
    modality: str
    hour: int | None  # hour of day it is logged at; None: at the attack's onset


#: the attacks frame's columns observed at an attack's onset (the engine's, not a component's)
ATTACK_FEATURES = (("migraine_severity", "severity"), ("migraine_aura", "with_aura"))


def features(model: Any = None) -> tuple[Feature, ...]:
    """The columns of ``irg_ts`` for ``model``'s frames (default: the built-in model).

    Every daily column the components declare a feature (``Column.feature``), in the order they
    are observed in a day (``abm.output.events.observed``: the hour of the component's log entry,
    ties in the order of the ``daily`` frame), then the attack's severity and aura at its onset.
    For the built-in model this is the documented table: a new risk factor adds its flag after
    the others and moves only the attack features; a new modality adds its columns at their hour.
    """
    model = model if model is not None else schemas.default_model()
    out = [Feature(0, o.column.name, "daily", o.column.name, o.modality, o.hour)
           for o in observed(model) if o.column.feature]
    out += [Feature(0, name, "attacks", column, "attack", None)
            for name, column in ATTACK_FEATURES]
    if len(out) > COLUMNS:
        raise ConfigError(f"the model has {len(out)} FuseMoE features, more than the "
                          f"{COLUMNS} columns FuseMoE's loader reads (orig_d_ts); declare some "
                          "columns feature=False")
    return tuple(Feature(i, f.name, f.frame, f.column, f.modality, f.hour)
                 for i, f in enumerate(out))


#: the built-in model's column → feature index mapping of ``irg_ts`` (and of ``reg_ts``: index,
#: and index + 30 for its mask); indices from ``len(FEATURES)`` to 29 are padding, never observed
FEATURES: tuple[Feature, ...] = features()
FEATURE_INDEX: dict[str, int] = {f.name: f.index for f in FEATURES}
TASK_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def markdown_table(model: Any = None) -> str:
    """The column → feature index table of the README (default: the built-in model)."""
    table = features(model)
    lines = ["| index | feature | from | modality | observed at |", "|---|---|---|---|---|"]
    lines += [f"| {f.index} | `{f.name}` | `{f.frame}.{f.column}` | {f.modality} | "
              f"{'the attack onset' if f.hour is None else f'{f.hour:02d}:00 each day'} |"
              for f in table]
    lines.append(f"| {len(table)}–{COLUMNS - 1} | padding | | | never (mask 0) |")
    return "\n".join(lines) + "\n"


def file_name(split: str, task: str) -> str:
    """``<split>_<task>_stays.pkl``, the name FuseMoE's ``load_data`` opens."""
    return f"{split}_{task}_stays.pkl"


def check_options(window_days: int, task: str, seed: int | None) -> None:
    """Refuse options FuseMoE or the export cannot use."""
    if isinstance(window_days, bool) or not isinstance(window_days, int) or window_days < 1:
        raise ConfigError(f"{wording.option('--window-days')} must be a whole number >= 1, "
                          f"got {window_days!r}")
    if not TASK_PATTERN.fullmatch(task):
        raise ConfigError(f"{wording.option('--task')} must be letters, digits, '_', '-' or '.', "
                          f"got {task!r}")
    if "ihm" not in task:
        raise ConfigError(f"{wording.option('--task')} must contain 'ihm': FuseMoE picks its "
                          "binary cross-entropy loss from the task name, and its time-series "
                          f"model knows no other binary task ('los' is refused), got {task!r}")
    if seed is not None and not 0 <= seed < 2**63:
        raise ConfigError(f"{wording.option('--seed')} must be in [0, 2**63), got {seed}")


def split_patients(n: int, seed: int) -> dict[str, np.ndarray]:
    """Rows of ``patients`` in each split: a seeded shuffle cut 70/15/15 (train never empty)."""
    order = np.random.default_rng(seed).permutation(n)
    n_train = min(n, max(1, int(SPLIT_SHARES[0] * n + 0.5)))
    n_val = min(n - n_train, int(SPLIT_SHARES[1] * n + 0.5))
    cuts = (order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:])
    return {name: np.sort(rows) for name, rows in zip(SPLITS, cuts, strict=True)}


# --- the observations, as rows ------------------------------------------------------------

@dataclass
class _Cohort:
    """The frames as arrays indexed by (patient row, day)."""

    features: tuple[Feature, ...]
    ids: list[str]
    dates: list[str]
    daily: np.ndarray  # (n, days, len(daily_features)) float64
    has_migraine: np.ndarray  # (n, days) bool
    onset: np.ndarray  # (n, days) bool
    attack_patient: np.ndarray  # (A,) patient row
    attack_minute: np.ndarray  # (A,) minutes since day 0's midnight
    attack_values: np.ndarray  # (A, len(attack_features)) float64
    #: feature name -> (n, days) minutes since day 0's midnight when its value was entered (NaN:
    #: no entry); features without an entry time are observed at their fixed hour
    times: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return self.onset.shape

    @property
    def daily_features(self) -> tuple[Feature, ...]:
        return tuple(f for f in self.features if f.frame == "daily")

    @property
    def attack_features(self) -> tuple[Feature, ...]:
        return tuple(f for f in self.features if f.frame == "attacks")


def cohort_arrays(frames: dict[str, pl.DataFrame], table: tuple[Feature, ...],
                  entry_times: dict[str, str] | None = None) -> _Cohort:
    """The frames as (patient, day) arrays, patients in ``patients`` order, with the columns
    of the features ``table``; ``entry_times`` maps a feature to the column of ``daily`` that
    holds the datetime it was entered at (``diary_time``, ``wearable_time``)."""
    patients = frames["patients"].select("patient_id").with_row_index("pidx")
    daily = frames["daily"].join(patients, on="patient_id", how="inner").sort(["pidx", "day"])
    n = patients.height
    days = int(daily["day"].max()) + 1 if daily.height else 0  # type: ignore[arg-type]
    if daily.height != n * days or n == 0:
        raise InputError(f"the daily frame has {wording.plural(daily.height, 'row')}, expected "
                         f"one per patient and day ({n} x {days}); not a complete abm output")

    def matrix(columns: list[str]) -> np.ndarray:
        return (daily.select(pl.col(c).cast(pl.Float64) for c in columns).to_numpy()
                .reshape(n, days, len(columns)))

    start = daily["date"][0]
    attacks = frames["attacks"].join(patients, on="patient_id", how="inner").sort(
        ["pidx", "onset"])
    minute = attacks.select((pl.col("onset") - pl.lit(start).cast(pl.Datetime("ms")))
                            .dt.total_minutes()).to_series()
    cohort = _Cohort(
        features=table,
        ids=patients["patient_id"].cast(pl.String).to_list(),
        dates=[d.isoformat() for d in daily["date"][:days].to_list()],
        daily=matrix([f.column for f in table if f.frame == "daily"]),
        has_migraine=matrix(["has_migraine"])[..., 0] > 0,
        onset=matrix(["migraine_onset"])[..., 0] > 0,
        attack_patient=attacks["pidx"].to_numpy().astype(np.int64),
        attack_minute=minute.to_numpy().astype(np.int64),
        attack_values=attacks.select(pl.col(f.column).cast(pl.Float64)
                                     for f in table if f.frame == "attacks").to_numpy())
    times: dict[str, np.ndarray] = {}
    for column in dict.fromkeys((entry_times or {}).values()):
        minutes = daily.select((pl.col(column) - pl.lit(start).cast(pl.Datetime("ms")))
                               .dt.total_minutes().cast(pl.Float64)).to_series()
        times[column] = minutes.to_numpy().reshape(n, days)
    cohort.times = {name: times[column] for name, column in (entry_times or {}).items()
                    if any(f.name == name for f in table)}
    return cohort


def statistics(cohort: _Cohort, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD of every column over the training patients (padding: 0 and 1)."""
    mean, sd = np.zeros(COLUMNS), np.ones(COLUMNS)
    daily = cohort.daily[train].reshape(-1, len(cohort.daily_features))
    attacks = cohort.attack_values[np.isin(cohort.attack_patient, train)]
    for values, group in ((daily, cohort.daily_features), (attacks, cohort.attack_features)):
        if values.shape[0] == 0:
            continue
        index = [f.index for f in group]
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a column with no value at all
            centre = np.nanmean(values, axis=0)   # nulls (no value that day) are left out
            spread = np.nanstd(values, axis=0)
        mean[index] = np.where(np.isfinite(centre), centre, 0.0)
        sd[index] = np.where(np.isfinite(spread) & (spread > 0), spread, 1.0)
    return mean, sd


@dataclass
class _Rows:
    """Every observation row of the cohort, ordered by (patient, day, time of day)."""

    cell: np.ndarray  # patient * days + day
    minute: np.ndarray  # minute of the day
    hours: np.ndarray  # hours since the patient's day-0 midnight
    values: np.ndarray  # (R, COLUMNS) float32, standardized, 0 where unobserved
    mask: np.ndarray  # (R, COLUMNS) int32
    start: np.ndarray  # first row of each cell, and the end after the last


def observation_rows(cohort: _Cohort, mean: np.ndarray, sd: np.ndarray,
                     per_hour: bool = False) -> _Rows:
    """The rows of ``irg_ts``: the daily observations, and each attack's at its onset, rows of
    the same instant (``per_hour``: the same hour) merged into one.

    A feature with an entry time (:attr:`_Cohort.times`: the diary's, the wearable's) is
    observed when it was entered, which may be a later day (a day filled in from memory, the
    night synced the morning after); its source's row exists only where it recorded something.
    Every other feature is observed at its fixed hour of the day it describes (without entry
    times every fixed row exists, observed or not)."""
    n, days = cohort.shape
    cells = n * days
    daily = cohort.daily_features
    timed = {f.name for f in daily if f.name in cohort.times}
    # groups of features observed together: each fixed hour, then each source's entry times
    groups: list[tuple[list[int], np.ndarray | None, int]] = []
    for hour in sorted({f.hour for f in daily if f.name not in timed}):  # type: ignore[type-var]
        groups.append(([j for j, f in enumerate(daily) if f.name not in timed and f.hour == hour],
                       None, hour))
    for times in {id(cohort.times[name]): cohort.times[name] for name in timed}.values():
        groups.append(([j for j, f in enumerate(daily) if cohort.times.get(f.name) is times],
                       times, 0))
    drop_empty = bool(timed)
    cell_minute = (np.arange(cells, dtype=np.int64) % days) * MINUTES_PER_DAY
    patient_of_cell = np.arange(cells, dtype=np.int64) // days
    parts_minute, parts_patient, parts_values, parts_mask = [], [], [], []
    for members, times, hour in groups:
        values = np.zeros((cells, COLUMNS), dtype=np.float32)
        mask = np.zeros((cells, COLUMNS), dtype=np.int32)
        for j in members:
            f = daily[j]
            raw = cohort.daily[..., j].ravel()
            seen = ~np.isnan(raw)  # a null (not recorded, a man's cycle day) is not observed
            values[:, f.index] = np.where(seen, (raw - mean[f.index]) / sd[f.index], 0.0)
            mask[:, f.index] = seen
        if times is None:
            minute = cell_minute + 60 * hour
            keep = mask.any(axis=1) if drop_empty else np.ones(cells, dtype=bool)
        else:
            entered = times.ravel()
            keep = ~np.isnan(entered) & mask.any(axis=1)
            minute = np.where(keep, entered, 0).astype(np.int64)  # since the patient's day 0
            keep &= minute < days * MINUTES_PER_DAY  # synced after the run's last day
        parts_minute.append(minute[keep])
        parts_patient.append(patient_of_cell[keep])
        parts_values.append(values[keep])
        parts_mask.append(mask[keep])
    inside = (cohort.attack_minute >= 0) & (cohort.attack_minute < days * MINUTES_PER_DAY)
    a_values = np.zeros((int(inside.sum()), COLUMNS), dtype=np.float32)
    for j, f in enumerate(cohort.attack_features):
        a_values[:, f.index] = (cohort.attack_values[inside, j] - mean[f.index]) / sd[f.index]
    a_mask = (np.arange(COLUMNS) == np.array([[f.index] for f in cohort.attack_features])).any(0)
    parts_minute.append(cohort.attack_minute[inside])
    parts_patient.append(cohort.attack_patient[inside])
    parts_values.append(a_values)
    parts_mask.append(np.broadcast_to(a_mask.astype(np.int32), a_values.shape))
    minute = np.concatenate(parts_minute)
    if per_hour:
        minute = minute // 60 * 60
    patient = np.concatenate(parts_patient)
    order = np.argsort(patient * (days + 1) * MINUTES_PER_DAY + minute, kind="stable")
    minute, patient = minute[order], patient[order]
    values = np.concatenate(parts_values)[order]
    mask = np.concatenate(parts_mask)[order]
    del parts_values, parts_mask
    # rows of the same instant become one: per feature, the last value observed at it
    same = (patient[1:] == patient[:-1]) & (minute[1:] == minute[:-1])
    if same.any():
        first = np.concatenate([[True], ~same])
        in_group = np.zeros(minute.size, dtype=bool)
        in_group[1:] |= same
        in_group[:-1] |= same
        rows = np.flatnonzero(in_group)
        group = np.cumsum(first)[rows]
        starts = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]]))
        position = np.where(mask[rows] > 0, np.arange(rows.size)[:, None], -1)
        last = np.maximum.reduceat(position, starts, axis=0)
        merged = np.take_along_axis(values[rows], np.maximum(last, 0), axis=0)
        heads = rows[starts]
        values[heads] = np.where(last >= 0, merged, 0.0)
        mask[heads] = (last >= 0).astype(np.int32)
        minute, patient = minute[first], patient[first]
        values, mask = values[first], mask[first]
    day = minute // MINUTES_PER_DAY
    cell = patient * days + day
    of_day = minute - day * MINUTES_PER_DAY
    return _Rows(cell=cell, minute=of_day, hours=day * 24.0 + of_day / 60.0,
                 values=values, mask=mask,
                 start=np.searchsorted(cell, np.arange(cells + 1)))


def hourly_grid(hourly: _Rows, cells: np.ndarray, window_days: int) -> np.ndarray:
    """``reg_ts`` of the windows starting at ``cells`` (patient * days + first day), as
    (len(cells), 24 * window_days, 2 * COLUMNS): values carried forward, then the mask."""
    hours = 24 * window_days
    first, end = hourly.start[cells], hourly.start[cells + window_days]
    counts = end - first
    owner = np.repeat(np.arange(cells.size), counts)
    rows = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) \
        + np.repeat(first, counts)
    hour = (hourly.cell[rows] - cells[owner]) * 24 + hourly.minute[rows] // 60
    grid = np.zeros((cells.size, hours, 2 * COLUMNS), dtype=np.float32)
    grid[owner, hour, :COLUMNS] = hourly.values[rows]
    grid[owner, hour, COLUMNS:] = hourly.mask[rows]
    for h in range(1, hours):  # carry each value forward to the hours that did not observe it
        np.copyto(grid[:, h, :COLUMNS], grid[:, h - 1, :COLUMNS],
                  where=grid[:, h, COLUMNS:] == 0)
    return grid


@dataclass
class _Entries:
    """One diary entry per (patient, day) cell: what the person wrote that day."""

    values: np.ndarray  # (n * days, 2 * COLUMNS) float32: values at the feature index, then mask
    present: np.ndarray  # (n * days,) bool: something was written that day
    hour: np.ndarray  # (n * days,) float64: hour of the day the entry was made


def diary_features(table: tuple[Feature, ...]) -> tuple[Feature, ...]:
    """The daily features a person writes in a diary: all but those of :data:`DEVICE_MODALITIES`
    (weather is fetched, sleep measured by a wearable) and the attack's (at its onset)."""
    return tuple(f for f in table if f.frame == "daily" and f.modality not in DEVICE_MODALITIES)


def entry_features(cohort: _Cohort) -> tuple[Feature, ...]:
    """The features a diary entry holds: the diary's (:func:`diary_features`); with entry times,
    those the diary recorded (a column no source records is observed at its fixed hour, not in
    the entry)."""
    diary = diary_features(cohort.features)
    if any(f.name in cohort.times for f in diary):
        diary = tuple(f for f in diary if f.name in cohort.times)
    return diary


def diary_entries(cohort: _Cohort, mean: np.ndarray, sd: np.ndarray) -> _Entries:
    """Each day's diary entry as a row of ``2 * COLUMNS`` numbers: the diary features' values,
    z-scored, at their ``irg_ts`` index (0 where not written), then their mask at index + 30; an
    entry is made when the diary was written (its entry time, which may be a later day for a
    day filled in from memory) or, without entry times, at the latest hour its features are
    observed at, if any of them was written."""
    n, days = cohort.shape
    diary = entry_features(cohort)
    column = {f.index: j for j, f in enumerate(cohort.daily_features)}
    values = np.zeros((n * days, 2 * COLUMNS), dtype=np.float32)
    for f in diary:
        raw = cohort.daily[..., column[f.index]].ravel()
        seen = ~np.isnan(raw)
        values[:, f.index] = np.where(seen, (raw - mean[f.index]) / sd[f.index], 0.0)
        values[:, COLUMNS + f.index] = seen
    hour = np.full(n * days, float(max((f.hour for f in diary if f.hour is not None),
                                       default=23)))
    timed = [cohort.times[f.name] for f in diary if f.name in cohort.times]
    if timed:
        # when the entry was made (a day filled in from memory: hours after the day's 24)
        minutes = np.fmax.reduce([t.ravel() for t in timed])
        described = np.tile(np.arange(days), n) * 1440.0
        hour = np.where(np.isnan(minutes), hour, (minutes - described) / 60.0)
    return _Entries(values=values, present=values[:, COLUMNS:].any(axis=1), hour=hour)


def array_bytes(sample: dict) -> int:
    """The bytes of a sample's arrays (what its pickle holds besides a fixed overhead)."""
    return sum(v.nbytes for v in sample.values() if isinstance(v, np.ndarray))


# --- samples ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Layout:
    """What each sample holds beyond the time series FuseMoE's TS model reads.

    ``hourly_grid``: ``reg_ts`` is the hourly grid (``24 * window_days`` x 60) instead of
    ``None``, which FuseMoE accepts because it replaces the key's value (``F_impute`` with
    ``--reg_ts``, else ``None``). ``diary_vectors``: the diary entries as FuseMoE's CXR modality
    (``cxr_feats``, ``cxr_time``, ``cxr_missing``), for its model type ``TS_CXR``.
    """

    hourly_grid: bool = False
    diary_vectors: bool = False


@dataclass
class _Selection:
    """The samples of one split: patient row, first window day, label."""

    patient: np.ndarray
    first_day: np.ndarray
    cells: np.ndarray  # patient * days + first_day
    labels: list[int]


@dataclass
class Plan:
    """Everything the samples are cut from: the cohort as arrays, the split, the training
    statistics, the observation rows and, as the layout asks, the hourly rows and the diary."""

    cohort: _Cohort
    window_days: int
    seed: int
    split: dict[str, np.ndarray]
    mean: np.ndarray
    sd: np.ndarray
    rows: _Rows
    hourly: _Rows | None = None
    diary: _Entries | None = None
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def layout(self) -> Layout:
        return Layout(self.hourly is not None, self.diary is not None)

    def samples(self, split: str) -> list[dict]:
        """The samples of one split, in (patient, label day) order."""
        return list(self.iter_samples(split))

    def select(self, split: str) -> _Selection:
        """The at-risk samples of ``split`` (the others are counted in ``dropped``)."""
        c, w = self.cohort, self.window_days
        n, days = c.shape
        patients = self.split[split]
        p = np.repeat(patients, days - w)
        d0 = np.tile(np.arange(days - w), patients.size)
        at_risk = ~c.has_migraine[p, d0 + w] | c.onset[p, d0 + w]
        self.dropped[split] = int((~at_risk).sum())
        p, d0 = p[at_risk], d0[at_risk]
        return _Selection(p, d0, p * days + d0, c.onset[p, d0 + w].astype(int).tolist())

    def iter_samples(self, split: str) -> Iterator[dict]:
        """The samples of one split, made a batch at a time as they are consumed."""
        c, w = self.cohort, self.window_days
        chosen = self.select(split)
        p, d0, cells = chosen.patient, chosen.first_day, chosen.cells
        first, end = self.rows.start[cells], self.rows.start[cells + w]
        for lo in range(0, cells.size, GRID_BATCH):
            batch = cells[lo:lo + GRID_BATCH]
            grid = None if self.hourly is None else hourly_grid(self.hourly, batch, w)
            for b, i in enumerate(range(lo, lo + batch.size)):
                a, z = first[i], end[i]
                sample = {"name": f"{c.ids[p[i]]}_{c.dates[d0[i] + w]}",
                          "ts_tt": self.rows.hours[a:z] - 24.0 * d0[i],
                          "irg_ts": self.rows.values[a:z], "irg_ts_mask": self.rows.mask[a:z],
                          "reg_ts": None if grid is None else grid[b], "label": chosen.labels[i]}
                if self.diary is not None:
                    sample.update(self.diary_sample(cells[i]))
                yield sample

    def diary_sample(self, cell: int) -> dict:
        """The CXR keys of the window starting at ``cell``: one 1024-d row per day with a diary
        entry (the entry's ``2 * COLUMNS`` numbers, then zeros), its time as a fraction of the
        window, and ``cxr_missing`` 1 when no day of the window has an entry."""
        assert self.diary is not None
        w = self.window_days
        hours = 24.0 * np.arange(w) + self.diary.hour[cell:cell + w]
        # the entries of the window's days made before it ends (one filled in later is not)
        day = np.flatnonzero(self.diary.present[cell:cell + w] & (hours < 24.0 * w))
        feats = np.zeros((day.size, CXR_DIM), dtype=np.float32)
        feats[:, :2 * COLUMNS] = self.diary.values[cell + day]
        time = hours[day] / (24.0 * w)
        return {"cxr_feats": feats, "cxr_time": time.astype(np.float32),
                "cxr_missing": int(day.size == 0)}

    def estimate_bytes(self, task: str = TASK) -> int:
        """The size of the files the export would write, from the samples' array sizes and the
        pickle overhead of the first sample of each split (within a few percent)."""
        w, total = self.window_days, 0
        for split in SPLITS:
            chosen = self.select(split)
            if not chosen.cells.size:
                total += 8
                continue
            rows = self.rows.start[chosen.cells + w] - self.rows.start[chosen.cells]
            data = rows.sum() * (8 + 2 * COLUMNS * 4)  # ts_tt, irg_ts, irg_ts_mask
            if self.hourly is not None:
                data += chosen.cells.size * 24 * w * 2 * COLUMNS * 4
            if self.diary is not None:
                present = np.concatenate([[0], np.cumsum(self.diary.present)])
                data += (present[chosen.cells + w] - present[chosen.cells]).sum() \
                    * (CXR_DIM + 1) * 4
            first = next(self.iter_samples(split))
            overhead = len(dumps(first)) - array_bytes(first)
            total += int(data) + chosen.cells.size * (overhead + 2)
        counts = {s: (0, 0) for s in SPLITS}
        return total + len(json.dumps(self.meta(task, counts), indent=1)) + 1

    def meta(self, task: str, counts: dict[str, tuple[int, int]]) -> dict:
        """The content of ``fusemoe.json``; ``counts``: (samples, positive) per split."""
        features = [{"index": f.index, "name": f.name, "source": f"{f.frame}.{f.column}",
                     "modality": f.modality,
                     "observed_at": "onset" if f.hour is None else f"{f.hour:02d}:00",
                     "mean": float(self.mean[f.index]), "sd": float(self.sd[f.index])}
                    for f in self.cohort.features]
        splits = {s: {"patients": [self.cohort.ids[i] for i in self.split[s]],
                      "samples": counts[s][0], "positive": counts[s][1],
                      "not_at_risk_dropped": self.dropped[s]} for s in SPLITS}
        keys = ["name", "ts_tt", "irg_ts", "irg_ts_mask", "reg_ts", "label"]
        if self.diary is not None:
            keys += ["cxr_feats", "cxr_time", "cxr_missing"]
        return {"task": task, "window_days": self.window_days, "tt_max": 24 * self.window_days,
                "seed": self.seed, "columns": COLUMNS, "features": features,
                "padding": list(range(len(self.cohort.features), COLUMNS)),
                "reg_ts": "hourly grid" if self.hourly is not None else None,
                "diary_vectors": None if self.diary is None else {
                    "slot": "cxr", "dim": CXR_DIM,
                    "features": [f.name for f in entry_features(self.cohort)]},
                "keys": keys, "splits": splits,
                "files": [file_name(s, task) for s in SPLITS]}


def plan(frames: dict[str, pl.DataFrame], window_days: int = WINDOW_DAYS,
         seed: int = 42, model: Any = None, layout: Layout = Layout(), truth: bool = False,
         entry_times: bool = True) -> Plan:
    """Prepare the samples of a run's frames (made by ``model``; default: the built-in model):
    split, training statistics, observation rows (and what ``layout`` asks for).

    The values are what the observation layer recorded (the ``observed`` frame: null, so mask
    0, where nothing was recorded), observed at their entry times (``entry_times``; else at the
    fixed hours); with ``truth``, the ``daily`` frame's values at the fixed hours. The labels
    (onsets, the days at risk) and the attack features are the truth either way."""
    model = model if model is not None else schemas.default_model()
    times = None
    if not truth:
        from abm.exports.source import observed_daily

        frames = {**frames, "daily": observed_daily(frames, model)}
        if entry_times:
            from abm.model.observed import observed_columns

            times = {name: when for name, when in observed_columns(model).items()
                     if when is not None}
    cohort = cohort_arrays(frames, features(model), times)
    n, days = cohort.shape
    if window_days >= days:
        raise ConfigError(f"{wording.option('--window-days')} must be less than the run's "
                          f"{wording.plural(days, 'day')} (a window and a label day), got "
                          f"{window_days}")
    split = split_patients(n, seed)
    mean, sd = statistics(cohort, split["train"])
    return Plan(cohort, window_days, seed, split, mean, sd, observation_rows(cohort, mean, sd),
                observation_rows(cohort, mean, sd, True) if layout.hourly_grid else None,
                diary_entries(cohort, mean, sd) if layout.diary_vectors else None)


def build_samples(frames: dict[str, pl.DataFrame], window_days: int = WINDOW_DAYS,
                  seed: int = 42, model: Any = None, layout: Layout = Layout(),
                  truth: bool = False, entry_times: bool = True
                  ) -> tuple[Plan, dict[str, list[dict]]]:
    """Every split's samples (in memory; the export writes one split at a time); ``layout``,
    ``truth`` and ``entry_times`` as in :func:`plan`."""
    prepared = plan(frames, window_days, seed, model, layout, truth, entry_times)
    return prepared, {s: prepared.samples(s) for s in SPLITS}


# --- writing ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Summary:
    """What an export wrote."""

    path: Path
    samples: dict[str, int]
    bytes: int
    estimate: int = 0


def is_export_file(name: str) -> bool:
    """A file this export writes (for any task), which ``--overwrite`` may replace."""
    return name == META or re.fullmatch(r"(train|val|test)_.+_stays\.pkl", name) is not None


class _Pickler(pickle.Pickler):
    """Pickles a NumPy array as ``numpy.ndarray(shape, dtype, bytearray(data))``: names that
    every NumPy since 1.x has (NumPy 2's own pickles name ``numpy._core``, which NumPy < 1.26
    cannot import), and a writable array when loaded."""

    def reducer_override(self, obj: object) -> Any:
        if type(obj) is np.ndarray:
            if obj.dtype.hasobject:
                raise TypeError("object arrays are not exported")
            return np.ndarray, (obj.shape, obj.dtype.str,
                                bytearray(np.ascontiguousarray(obj).tobytes()))
        return NotImplemented


def dumps(item: object) -> bytes:
    """``item`` pickled with protocol 3, its arrays as :class:`_Pickler` writes them."""
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=3).dump(item)
    return buffer.getvalue()


def dump_list(items: Iterable[object], handle: BinaryIO) -> int:
    """Pickle ``items`` to ``handle`` as one list, each item written as soon as it is made, so
    that memory holds one item at a time; return the number of items.

    ``pickle.load`` reads the result as a plain ``list``. The list is written as protocol-3
    opcodes: ``EMPTY_LIST``, then per batch ``MARK``, the items, ``APPENDS``, then ``STOP``. Each
    item is pickled on its own by :func:`dumps` (protocol 3 numbers its memo entries explicitly,
    so every item refers only to its own), without its ``PROTO`` header and ``STOP``.
    """
    handle.write(pickle.PROTO + bytes([3]) + pickle.EMPTY_LIST)
    count = 0
    for item in items:
        if count % APPEND_BATCH == 0:
            handle.write((pickle.APPENDS if count else b"") + pickle.MARK)
        handle.write(memoryview(dumps(item))[2:-1])
        count += 1
    if count:
        handle.write(pickle.APPENDS)
    handle.write(pickle.STOP)
    return count


def _tally(samples: Iterator[dict], labels: list[int]) -> Iterator[dict]:
    for sample in samples:
        labels.append(sample["label"])
        yield sample


def write_samples(folder: Path, prepared: Plan, task: str) -> dict[str, tuple[int, int]]:
    """The three pickles, streamed, then ``fusemoe.json``."""
    counts = {}
    for split in SPLITS:
        labels: list[int] = []
        with open(folder / file_name(split, task), "wb", buffering=1 << 20) as handle:
            dump_list(_tally(prepared.iter_samples(split), labels), handle)
        counts[split] = (len(labels), sum(labels))
    with open(folder / META, "w", encoding="utf-8") as handle:
        json.dump(prepared.meta(task, counts), handle, indent=1)
        handle.write("\n")
    return counts


def size_text(count: float) -> str:
    """``count`` bytes in GB, MB or kB, one decimal."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{int(count)} B"


def check_size(estimate: int, max_gb: float, force: bool) -> None:
    """Refuse an export estimated above ``max_gb`` gigabytes unless ``force``."""
    if estimate > max_gb * 1e9 and not force:
        raise OutputError(f"the export would write about {size_text(estimate)} (estimated), "
                          f"more than {wording.option('--max-gb')} {max_gb:g}; nothing "
                          f"was written: pass {wording.switch('--force')} to write it, or a "
                          f"larger {wording.option('--max-gb')}")


def export_fusemoe(source: Path, to: Path, window_days: int = WINDOW_DAYS, task: str = TASK,
                   seed: int | None = None, overwrite: bool = False,
                   layout: Layout = Layout(), max_gb: float = MAX_GB,
                   force: bool = False, truth: bool = False) -> Summary:
    """Write the FuseMoE samples of the ``abm run`` folder ``source`` into the folder ``to``.

    ``seed`` (default: the run's seed) shuffles the patients into the splits; ``layout`` adds
    the hourly grid or the diary vectors. The values are what was observed (the ``observed``
    frame, at the entry times), or with ``truth`` the ``daily`` frame's (see :func:`plan`). The
    size is estimated first: above ``max_gb`` gigabytes the export is refused (nothing written)
    unless ``force``.
    """
    source, to = Path(source), Path(to)
    check_options(window_days, task, seed)
    if not max_gb > 0:
        raise ConfigError(f"{wording.option('--max-gb')} must be > 0, got {max_gb:g}")
    atomic.check_outside(to, source, "--to")
    atomic.check_folder_target(to, overwrite, is_export_file, META)
    frames, config, model = atomic.load_run(source)
    prepared = plan(frames, window_days, config.run.seed if seed is None else seed, model,
                    layout, truth, entry_times=bool(config.observation.enabled))
    estimate = prepared.estimate_bytes(task)
    check_size(estimate, max_gb, force)
    counts: dict[str, tuple[int, int]] = {}
    files.write_folder(to, lambda staging: counts.update(write_samples(staging, prepared, task)))
    size = sum(p.stat().st_size for p in to.iterdir())
    return Summary(to, {s: counts[s][0] for s in SPLITS}, size, estimate)
