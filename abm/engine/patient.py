"""The ``Patient`` agent: lives from attack to attack on the shared clock.

A patient's daily series are drawn in blocks before the run (``abm.engine.simulation``); what
makes the patient an agent is its SimPy process, :meth:`Patient.live`:

1. from the first free day on, find the next day whose pre-drawn uniform falls below that day's
   onset probability (a byte search over the patient's "would start" flags);
2. create the :class:`~abm.model.attacks.Attack` event for that day, with the feedback rules as
   its callbacks, and wait for it (``yield``): the clock processes it at the ``ONSET`` phase of
   the day;
3. the rules run first and edit the future through :meth:`Patient.edit`, which re-derives what
   depends on the edited column (the model's terms and risk-factor flags, day by day along the
   declared lags) and marks the onset probabilities of changed days stale;
4. the patient resumes, skips the days its attack covers, refreshes the stale days that are still
   ahead, and repeats.

Python work is spent per attack and per edit, not per day, which is what makes a cohort of agents
fast. An edit re-derives one day with the same functions and the same stored values as the
vectorized draw (``abm.engine.derive``), so the final series, flags and probabilities equal a
from-scratch computation on the edited inputs, which the tests check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from abm.engine.derive import storage_dtype
from abm.model.attacks import Attack

if TYPE_CHECKING:
    from abm.engine.cohort import Cohort


def state_rows(code_bytes: int) -> tuple[str, ...]:
    """The rows of a patient's packed state, one byte per day each, in order."""
    return ("would_start", *(f"codes.{b}" for b in range(code_bytes)), "span_days")


def pack_states(cohort: Cohort) -> list[bytearray]:
    """Each patient's per-day bytes that attacks read and edit, in one ``bytearray`` a patient.

    A cohort's arrays keep each series apart, so one attack would touch a cache line in each of
    them, scattered over tens of megabytes, and the run would be bound by memory latency. Packed,
    the bytes of a patient sit together (:func:`state_rows`) and are read without view objects.
    """
    n, days = cohort.would_start.shape
    rows = [cohort.would_start, *cohort.codes, cohort.attacks.span_days]
    packed = np.empty((n, len(rows), days), dtype=np.uint8)
    for k, values in enumerate(rows):
        # small by construction (flags, bits, at most a few days); checked because NumPy would
        # wrap a larger value around silently
        if values.size and (values.min() < 0 or values.max() > 255):
            raise ValueError(f"state row {k} does not fit in a byte: "
                             f"{values.min()}..{values.max()}")
        packed[:, k] = values
    return [bytearray(row) for row in packed.reshape(n, -1)]


def unpack_states(cohort: Cohort, states: list[bytearray]) -> None:
    """Write the edited flags back into the cohort's codes.

    The onset flags stay the patients' own working copy: ``cohort.would_start`` keeps the flags
    of the unedited series (the recorder recomputes onset probabilities from the final series).
    """
    code_bytes = cohort.codes.shape[0]
    packed = np.frombuffer(b"".join(states), dtype=np.uint8).reshape(
        len(states), code_bytes + 2, cohort.days)
    for b in range(code_bytes):
        cohort.codes[b] = packed[:, 1 + b]


def _caster(dtype: type) -> Any:
    """One value as stored in ``dtype``, as a plain Python number."""
    if dtype is np.float32:
        return lambda x: float(np.float32(x))
    if dtype is np.bool_:
        return bool
    if np.issubdtype(dtype, np.integer):
        return int
    return float


class Patient:
    """One patient of a :class:`~abm.engine.cohort.Cohort`, by row ``index``.

    During the run the patient's per-day bytes live in its packed ``state`` (see
    :func:`pack_states`) and the series it edits in plain lists (made on the first edit);
    :meth:`write_back` and :func:`unpack_states` return them to the cohort when the run is over.
    """

    __slots__ = ("index", "cohort", "location", "onsets", "days", "_stale", "_state", "_log",
                 "_values", "_latent", "_added", "_today", "_model", "_config", "_casts")

    def __init__(self, index: int, cohort: Cohort, location: object,
                 state: bytearray) -> None:
        self.index = index
        self.cohort = cohort
        self.location = location
        self.onsets: list[int] = []
        self.days = cohort.days
        self._stale: list[int] = []
        self._log = cohort.edits.append
        self._state = state
        self._values: dict[str, list] = {}
        self._latent: dict[str, list] = {}
        self._added: dict[str, list] = {}
        self._today = 0
        self._model = cohort.model
        self._config = cohort.config
        self._casts = cohort.casts

    def live(self, env: simpy.Environment):
        """SimPy process: one wake-up per attack."""
        state = self._state
        days = self.days
        spans = (len(self.cohort.codes) + 1) * days
        rules = self.cohort.callbacks
        onsets = self.onsets
        stale = self._stale
        free = 0
        while True:
            day = state.find(1, free, days)
            if day < 0:
                return
            onsets.append(day)
            self._today = day
            yield Attack(env, self, day, rules.copy())
            free = day + state[spans + day]
            if stale:
                self._refresh(free)

    # --- editing the future (called by feedback rules at the ONSET phase) ---------------------

    def edit(self, column: str, day: int, delta: float, cause: str) -> float:
        """Add ``delta`` to ``column`` on ``day``, re-derive what depends on it, and log the edit
        with its ``cause`` (the rule's name). Returns the change of the logged value (rounding
        and the column's range may make it smaller than ``delta``, or zero). Days before the
        current attack's are left alone: the past does not change."""
        if day >= self.days or day < self._today:
            return 0.0
        added = self._added.get(column)
        if added is None:
            if column not in self._model.editable:
                raise ValueError(f"{column!r} is not an editable column; editable: "
                                 f"{', '.join(self._model.editable)}")
            added = self._added[column] = [0.0] * self.days
        added[day] += delta
        change = self._rederive(column, day)
        self._log((self.index, day, cause, column, change, self._today))
        return change

    def apply_planned(self, rule: Any, attack: Attack) -> None:
        """Make ``rule``'s planned edits for an attack starting on ``attack.day``."""
        day = attack.day
        for column, offset, delta in self.cohort.planned[rule.name]:
            value = delta[self.index, day] if isinstance(delta, np.ndarray) else delta
            if value:
                self.edit(column, day + offset, float(value), rule.name)

    def raise_stress(self, day: int, points: int, rule: str, attack: Attack) -> None:
        """Add ``points`` (negative lowers) to the stress of ``day``; same as
        ``edit("stress_level", day, points, rule)``."""
        self.edit("stress_level", day, points, rule)

    def lengthen_sleep(self, day: int, extra_hours: float, rule: str, attack: Attack) -> None:
        """Add ``extra_hours`` to the night starting on ``day``; same as
        ``edit("total_sleep_hours", day, extra_hours, rule)``."""
        self.edit("total_sleep_hours", day, extra_hours, rule)

    def series(self, column: str) -> list:
        """The patient's working copy of a daily column (as stored: numbers, 0/1 flags)."""
        values = self._values.get(column)
        if values is None:
            values = self._values[column] = self.cohort.columns[column][self.index].tolist()
        return values

    def _rederive(self, column: str, day: int) -> float:
        """Recompute ``column`` on ``day`` from its latent value, terms and edits; follow the
        change to its dependants. Returns the change."""
        latent = self._latent.get(column)
        if latent is None:
            latent = self._latent[column] = self.cohort.latent[column][self.index].tolist()
        total = latent[day]
        added = self._added.get(column)
        if added is not None:
            total += added[day]
        for term in self._model.terms_of[column]:
            if all(day - lag >= 0 for _, lag in term.inputs):
                total += term.fn({(c, lag): self.series(c)[day - lag] for c, lag in term.inputs})
        column_spec = self._model.columns[column]
        new = self._casts[column](column_spec.finalize(total))
        values = self.series(column)
        old = values[day]
        if new == old:
            return 0.0
        values[day] = new
        days = self.days
        for dependant in self._model.dependants[column]:
            at = day + dependant.lag
            if at >= days:
                continue
            if dependant.term is not None:
                self._rederive(dependant.term.column, at)
            else:
                self._reflag(dependant.risk_factor, at)
        return new - old

    def _reflag(self, k: int, day: int) -> None:
        """Recompute risk factor ``k``'s flag of ``day``; a change makes day + 1 stale."""
        rf = self._model.risk_factors[k]
        if day < rf.max_lag:
            on = False
        else:
            on = bool(rf.flag({(c, lag): self.series(c)[day - lag] for c, lag in rf.inputs},
                              self._config))
        byte, bit = divmod(k, 8)
        at = (1 + byte) * self.days + day
        state = self._state
        code = state[at]
        new = (code | (1 << bit)) if on else (code & ~(1 << bit))
        if new != code:
            state[at] = new
            self._stale.append(day + 1)

    def _refresh(self, free: int) -> None:
        """Recompute the "would start" flag of stale days from ``free`` on."""
        cohort = self.cohort
        row = self.index
        tables = [table[row] for table in cohort.factor_tables]
        baseline = cohort.baseline[row]
        cap = cohort.cap
        state = self._state
        days = self.days
        uniform = cohort.onset_uniform[row]
        for day in self._stale:
            if free <= day < days:
                factor = 1.0
                for b, table in enumerate(tables):
                    factor = factor * table[state[(1 + b) * days + day - 1]]
                p = baseline * factor
                if p > cap:
                    p = cap
                state[day] = 1 if uniform[day] < p else 0
        self._stale.clear()

    def write_back(self) -> None:
        """Return the edited series (and those re-derived from them) to the cohort's arrays."""
        editable = self._model.editable
        for column, values in self._values.items():
            if column in editable:
                self.cohort.columns[column][self.index] = values


def casts(cohort_model: Any) -> dict[str, Any]:
    """For each editable column, the cast of one value to how it is stored."""
    return {name: _caster(storage_dtype(col)) for name, col in cohort_model.editable.items()}
