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
   declared lags; the code that does it is compiled per model, ``abm.engine.compiled``) and
   marks the onset probabilities of changed days stale;
4. the patient resumes, skips the days its attack covers, refreshes the stale days that are still
   ahead, and repeats.

Python work is spent per attack and per edit, not per day, which is what makes a cohort of agents
fast. An edit re-derives one day with the same functions and the same stored values as the
vectorized draw (``abm.engine.derive``), so the final series, flags and probabilities equal a
from-scratch computation on the edited inputs, which the tests check.

A patient reads and writes its rows of the cohort's arrays through ``memoryview`` objects: typed
windows onto the arrays themselves, so an edit is stored in the column's own dtype (float32
rounding included) with no copy to make or write back, and indexing one gives a plain Python
number at the cost of a list look-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from abm.engine.states import StateChange
from abm.model.attacks import DRIFT_COLUMN, STATE_COLUMN, Attack

if TYPE_CHECKING:
    from abm.engine.cohort import Cohort


def state_rows(code_bytes: int) -> tuple[str, ...]:
    """The byte rows at the head of a patient's packed state, one byte per day each, in order."""
    return ("would_start", *(f"codes.{b}" for b in range(code_bytes)), "span_days")


def _regions(cohort: Cohort) -> list[tuple[str, np.ndarray]]:
    """The arrays packed after the byte rows: the current values and the latent values of each
    column the rules edit, and each changing delta of a rule's planned edits, by name."""
    out = []
    for column in cohort.edited_columns:
        out += [(f"values.{column}", cohort.columns[column]),
                (f"latent.{column}", cohort.latent[column])]
        if column in cohort.termsums:
            out.append((f"terms.{column}", cohort.termsums[column]))
    for rule in cohort.fast_rules:
        for j, (_, _, delta) in enumerate(cohort.planned[rule.name]):
            if isinstance(delta, np.ndarray):
                out.append((f"planned.{rule.name}.{j}", delta))
    return out


def pack_states(cohort: Cohort) -> list[bytearray]:
    """Everything an attack of a patient reads and edits, in one ``bytearray`` a patient.

    A cohort's arrays keep each series apart, so one attack would touch a cache line in each of
    them, scattered over tens of megabytes, and the run would be bound by memory latency. Packed,
    a patient's data sit together: the byte rows of :func:`state_rows`, then the rows of the
    edited columns (values and latent values, each in its own dtype) and of the rules' planned
    changes, read through typed ``memoryview`` windows (:attr:`Patient.layout`).
    """
    n, days = cohort.would_start.shape
    rows = [cohort.would_start, *cohort.codes, cohort.attacks.span_days]
    regions = _regions(cohort)
    def aligned(size: int, to: int = 4) -> int:
        return -(-size // to) * to

    head = aligned(len(rows) * days)
    width = aligned(head + sum(aligned(a.dtype.itemsize * days) for _, a in regions), 8)
    packed = np.zeros((n, width), dtype=np.uint8)
    for k, values in enumerate(rows):
        # small by construction (flags, bits, at most a few days); checked because NumPy would
        # wrap a larger value around silently
        if values.size and (values.min() < 0 or values.max() > 255):
            raise ValueError(f"state row {k} does not fit in a byte: "
                             f"{values.min()}..{values.max()}")
        packed[:, k * days:(k + 1) * days] = values
    layout = {}
    at = head  # every region starts on 4 bytes, so one float32 view of the state reaches all
    for name, values in regions:
        size = values.dtype.itemsize * days
        packed[:, at:at + size].view(values.dtype)[:] = values
        layout[name] = (at, size, values.dtype.char)
        at += aligned(size)
    cohort.layout = layout
    return [bytearray(row) for row in packed]


def unpack_states(cohort: Cohort, states: list[bytearray]) -> None:
    """Write the edited flags, values and latent values back into the cohort's arrays.

    The onset flags stay the patients' own working copy: ``cohort.would_start`` keeps the flags
    of the unedited series (the recorder recomputes onset probabilities from the final series).
    """
    days = cohort.days
    packed = np.frombuffer(b"".join(states), dtype=np.uint8).reshape(len(states), -1)
    for b in range(cohort.codes.shape[0]):
        cohort.codes[b] = packed[:, (1 + b) * days:(2 + b) * days]
    for name, values in _regions(cohort):
        if not name.startswith("planned."):
            at, size, _ = cohort.layout[name]
            values[:] = packed[:, at:at + size].view(values.dtype)


class Patient:
    """One patient of a :class:`~abm.engine.cohort.Cohort`, by row ``index``.

    During the run the patient's per-day bytes live in its packed ``state`` (see
    :func:`pack_states`), returned to the cohort by :func:`unpack_states` when the run is over;
    the series it reads and edits are windows onto the cohort's rows (made on first use).
    """

    __slots__ = ("index", "cohort", "location", "onsets", "days", "_stale", "_state", "_log",
                 "_views", "_rows", "_today", "_plans", "_code_rows", "_pf", "_pb", "states")

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
        #: column -> this patient's row of it (a memoryview onto the cohort's array)
        self._views: dict[str, memoryview] = {}
        #: editable column -> (row, latent row, terms row): the latent row holds the edits too
        self._rows: dict[str, tuple] = {}
        self._today = 0
        self._plans = cohort.model.edit_plans
        self._code_rows = [(1 + b) * self.days for b in range(len(cohort.codes))]
        #: the packed state as float32 and as int8 (``abm.engine.compiled`` reads its regions)
        self._pf = memoryview(state).cast("f") if len(state) % 4 == 0 else None
        self._pb = memoryview(state).cast("b")
        for column in cohort.edited_columns:  # the packed columns are read from the state
            self._editable_rows(column)
        #: the patient's slow states (``abm.engine.states.PatientStates``), if any is on
        self.states: Any = None

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

    def live_with_states(self, env: simpy.Environment):
        """SimPy process of a patient with slow states: as :meth:`live`, and the patient also
        wakes on the day its state machine asks for (a threshold crossed), changes state, and
        refreshes its onset flags from the day the change takes effect. A process of its own
        rather than branches in :meth:`live`: a run without slow states keeps the loop that runs
        once per attack free of them."""
        state = self._state
        days = self.days
        spans = (len(self.cohort.codes) + 1) * days
        rules = self.cohort.callbacks
        onsets = self.onsets
        stale = self._stale
        machine = self.states
        free = 0
        while True:
            wake = machine.wake_day
            stop = min(days, wake)
            day = state.find(1, free, stop) if free < stop else -1
            if day < 0:
                if wake >= days:
                    machine.close()
                    return
                at = max(wake, int(env.now))
                yield StateChange(env, at)
                changed = machine.wake(at)
                if changed < days:
                    self._refresh_from(max(free, changed))
                continue
            onsets.append(day)
            self._today = day
            yield Attack(env, self, day, rules.copy())
            changed = machine.attack(self, day)
            free = day + state[spans + day]
            if stale:
                self._refresh(free)
            if changed < days:
                self._refresh_from(max(free, changed))

    def span_of(self, day: int) -> int:
        """The calendar days the attack starting on ``day`` covers, as the run has it."""
        return self._state[(len(self.cohort.codes) + 1) * self.days + day]

    def set_span(self, day: int, span: int) -> None:
        """Change the span of the attack starting on ``day`` (an attack the patient does not
        treat after all runs longer)."""
        self._state[(len(self.cohort.codes) + 1) * self.days + day] = span

    # --- editing the future (called by feedback rules at the ONSET phase) ---------------------

    def edit(self, column: str, day: int, delta: float, cause: str) -> float:
        """Add ``delta`` to ``column`` on ``day``, re-derive what depends on it, and log the edit
        with its ``cause`` (the rule's name). Returns the change of the logged value (rounding
        and the column's range may make it smaller than ``delta``, or zero). Days before the
        current attack's are left alone: the past does not change."""
        if day >= self.days or day < self._today:
            return 0.0
        if column not in self._plans:
            raise ValueError(f"{column!r} is not an editable column; editable: "
                             f"{', '.join(self._plans)}")
        return self._edit(column, day, delta, cause)

    def _edit(self, column: str, day: int, delta: float, cause: str) -> float:
        change = self.cohort.compiled.add[column](self, day, delta)
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

    def series(self, column: str) -> memoryview:
        """The patient's row of a daily column, as stored (numbers; flags as booleans)."""
        values = self._views.get(column)
        if values is None:
            values = self._views[column] = memoryview(self.cohort.columns[column][self.index])
        return values

    def _editable_rows(self, column: str) -> tuple[memoryview, memoryview, memoryview | None]:
        """(values, latent values, sum of the terms) of an editable column: windows onto the
        packed state where the column is packed, else onto the cohort's arrays."""
        cohort = self.cohort
        if f"values.{column}" in cohort.layout:
            values = self._views[column] = self._packed(f"values.{column}")
            terms = self._packed(f"terms.{column}") if f"terms.{column}" in cohort.layout \
                else None
            rows = (values, self._packed(f"latent.{column}"), terms)
        else:
            terms = (memoryview(cohort.termsums[column][self.index])
                     if column in cohort.termsums else None)
            rows = (self.series(column), memoryview(cohort.latent[column][self.index]), terms)
        self._rows[column] = rows
        return rows

    def _packed(self, name: str) -> memoryview:
        """A typed window onto a region of the packed state (:func:`pack_states`)."""
        at, size, fmt = self.cohort.layout[name]
        return memoryview(self._state)[at:at + size].cast(fmt)

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
        drift = cohort.columns[DRIFT_COLUMN][row]
        multiplier = cohort.columns[STATE_COLUMN][row] if self.states is not None else None
        for day in self._stale:
            if free <= day < days:
                factor = 1.0
                for b, table in enumerate(tables):
                    factor = factor * table[state[(1 + b) * days + day - 1]]
                # as ``abm.engine.hazard.onset_probability``: (baseline x drift) x factors, with
                # the state multiplier after the drift where there is one
                if multiplier is None:
                    p = (baseline * float(drift[day])) * factor
                else:
                    p = ((baseline * float(drift[day])) * float(multiplier[day])) * factor
                if p > cap:
                    p = cap
                state[day] = 1 if uniform[day] < p else 0
        self._stale.clear()

    def _refresh_from(self, start: int) -> None:
        """Recompute the "would start" flags of every day from ``start`` on (a state change
        multiplied the baseline from there): vectorized, with the numbers and the order of
        :meth:`_refresh`."""
        cohort = self.cohort
        row = self.index
        days = self.days
        if start >= days:
            return
        state = np.frombuffer(self._state, dtype=np.uint8)
        prev = np.arange(start - 1, days - 1)
        factor = None
        for b, table in enumerate(cohort.factor_tables):
            codes = state[(1 + b) * days:(2 + b) * days]
            # day 0 has no past: code 0, every factor off
            values = table[row][np.where(prev >= 0, codes[np.maximum(prev, 0)], 0)]
            factor = values if factor is None else factor * values
        scale = (cohort.baseline[row] * cohort.columns[DRIFT_COLUMN][row, start:].astype(np.float64)
                 * cohort.columns[STATE_COLUMN][row, start:].astype(np.float64))
        p = np.minimum(cohort.cap, scale * factor)
        flags = (cohort.onset_uniform[row, start:] < p).astype(np.uint8)
        self._state[start:days] = flags.tobytes()
