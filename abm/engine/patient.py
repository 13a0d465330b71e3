"""The ``Patient`` agent: lives from attack to attack on the shared clock (SPEC §1, §4).

A patient's daily series (sleep, stress, diet, weather exposure) are drawn in blocks before the run
(``abm.engine.simulation``); what makes the patient an agent is its SimPy process,
:meth:`Patient.live`:

1. from the first free day on, find the next day whose pre-drawn uniform falls below that day's
   onset probability (a byte search over the patient's "would start" flags);
2. create the :class:`~abm.model.attacks.Attack` event for that day, with the feedback rules as its
   callbacks, and wait for it (``yield``): the clock processes it at the ``ONSET`` phase of the day;
3. the rules run first and edit the future (``raise_stress``, ``lengthen_sleep``), which updates
   the trigger codes of the edited days and marks their onset probabilities stale;
4. the patient resumes, skips the days its attack covers, refreshes the stale days that are still
   ahead, and repeats.

Python work is spent per attack and per edit, not per day, which is what makes a cohort of agents
fast. The flags and probabilities after every edit are exactly what a fresh vectorized computation
on the final series gives (same factor table, same operations), which the tests check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import simpy

from abm.model.attacks import Attack
from abm.model.sleep import round_hours
from abm.model.stress import MAX_LEVEL, MIN_LEVEL
from abm.model.triggers import SLEEP, STRESS, sleep_disrupted

if TYPE_CHECKING:
    from abm.engine.cohort import Cohort


#: the rows of a patient's packed state, one byte per day each, in this order
STATE_ROWS = ("would_start", "stress_level", "codes", "span_days", "stress_points")
_FLAGS, _STRESS, _CODES, _SPANS, _POINTS = range(len(STATE_ROWS))


def pack_states(cohort: Cohort) -> list[bytearray]:
    """Each patient's per-day bytes that attacks read and edit, in one ``bytearray`` a patient.

    A cohort's arrays keep each series apart (a row of stress, a row of codes, ...), so one attack
    would touch a cache line in each of them, scattered over tens of megabytes, and the run would
    be bound by memory latency. Packed, the bytes of a patient sit together (``STATE_ROWS``, one
    byte per day each: every value fits a byte) and are read without any view objects.
    """
    n, days = cohort.codes.shape
    packed = np.empty((n, len(STATE_ROWS), days), dtype=np.uint8)
    for k, values in enumerate((cohort.would_start, cohort.stress_level, cohort.codes,
                                cohort.attacks.span_days, cohort.stress_points)):
        # small by construction (flags, 1-10, 4 bits, at most 11 days, 0-9 points); checked
        # because NumPy would wrap a larger value around silently
        if values.size and (values.min() < 0 or values.max() > 255):
            raise ValueError(f"{STATE_ROWS[k]} does not fit in a byte: "
                             f"{values.min()}..{values.max()}")
        packed[:, k] = values
    return [bytearray(row) for row in packed.reshape(n, -1)]


def unpack_states(cohort: Cohort, states: list[bytearray]) -> None:
    """Write the edited stress levels and trigger codes back into the cohort's arrays.

    The onset flags stay the patients' own working copy: ``cohort.would_start`` keeps the flags
    of the unedited series (the recorder recomputes onset probabilities from the final series).
    """
    packed = np.frombuffer(b"".join(states), dtype=np.uint8).reshape(
        len(states), len(STATE_ROWS), cohort.days)
    cohort.stress_level[:] = packed[:, _STRESS]
    cohort.codes[:] = packed[:, _CODES]


class Patient:
    """One patient of a :class:`~abm.engine.simulation.Cohort`, by row ``index``.

    During the run the patient's per-day bytes live in its packed ``state`` (see
    :func:`pack_states`); :func:`unpack_states` writes them back into the cohort when the run is
    over. Rows are reached by offset (``row * days + day``), which gives plain Python integers and
    keeps the per-attack work small.
    """

    __slots__ = ("index", "cohort", "location", "onsets", "days", "_stale", "_state", "_rise",
                 "_edit", "_points")

    def __init__(self, index: int, cohort: Cohort, location: object,
                 state: bytearray) -> None:
        self.index = index
        self.cohort = cohort
        self.location = location
        self.onsets: list[int] = []
        self.days = cohort.codes.shape[1]
        self._stale: list[int] = []
        self._rise = cohort.config.triggers.stress_rise_points
        self._edit = cohort.edits.append
        self._state = state
        self._points = cohort.packed_points

    def live(self, env: simpy.Environment):
        """SimPy process: one wake-up per attack."""
        state = self._state
        days = self.days
        spans = _SPANS * days
        rules = self.cohort.rules
        onsets = self.onsets
        stale = self._stale
        free = 0
        while True:
            day = state.find(1, free, days)
            if day < 0:
                return
            onsets.append(day)
            yield Attack(env, self, day, rules.copy())
            free = day + state[spans + day]
            if stale:
                self._refresh(free)

    # --- editing the future (called by feedback rules at the ONSET phase) ---------------------

    def feedback_points(self, day: int, low: int, choices: int) -> int:
        """Whole points for a feedback rule, from the patient's pre-drawn uniform of ``day``:
        ``low + floor(u * choices)``."""
        if day >= 0 and (low, choices) == self._points:
            return self._state[_POINTS * self.days + day]
        return low + int(self.cohort.feedback_uniform[self.index, day] * choices)

    def raise_stress(self, day: int, points: int, rule: str, attack: Attack) -> None:
        """Add ``points`` (negative lowers) to the stress of ``day``, kept within 1-10, and log
        the edit."""
        days = self.days
        if day >= days or day < attack.day:
            return
        state = self._state
        at = _STRESS * days + day
        old = state[at]
        new = old + points
        if new > MAX_LEVEL:
            new = MAX_LEVEL
        elif new < MIN_LEVEL:
            new = MIN_LEVEL
        self._edit((self.index, day, rule, "stress_level", new - old, attack.day))
        if new == old:
            return
        state[at] = new
        # The edited day's trigger compares it with the day before; the next day's, with it.
        # (``_set_bit`` written out twice: this runs once per attack.)
        code_at = _CODES * days + day
        rise = self._rise
        if day >= 1:
            code = state[code_at]
            edited = (code | STRESS) if new - state[at - 1] >= rise else (code & ~STRESS)
            if edited != code:
                state[code_at] = edited
                self._stale.append(day + 1)
        if day + 1 < days:
            code = state[code_at + 1]
            edited = (code | STRESS) if state[at + 1] - new >= rise else (code & ~STRESS)
            if edited != code:
                state[code_at + 1] = edited
                self._stale.append(day + 2)

    def lengthen_sleep(self, day: int, extra_hours: float, rule: str, attack: Attack) -> None:
        """Add ``extra_hours`` to the night starting on ``day`` and log the edit."""
        cohort = self.cohort
        if day >= cohort.days or day < attack.day:
            return
        row = self.index
        hours = cohort.sleep["total_sleep_hours"]
        old = float(hours[row, day])
        new = hours.dtype.type(round_hours(np.float64(old + extra_hours)))
        self._edit((row, day, rule, "total_sleep_hours", float(new) - old, attack.day))
        hours[row, day] = new
        self._set_bit(day, SLEEP, sleep_disrupted(float(new), cohort.config.triggers))

    def _set_bit(self, day: int, bit: int, on: bool) -> None:
        state = self._state
        at = _CODES * self.days + day
        old = state[at]
        new = (old | bit) if on else (old & ~bit)
        if new != old:
            state[at] = new
            self._stale.append(day + 1)

    def _refresh(self, free: int) -> None:
        """Recompute the "would start" flag of stale days from ``free`` on."""
        cohort = self.cohort
        row = self.index
        table = cohort.factor_table[row]
        baseline = cohort.baseline[row]
        cap = cohort.cap
        state = self._state
        days = self.days
        codes = _CODES * days - 1  # offset of the code of the day before
        uniform = cohort.onset_uniform[row]
        for day in self._stale:
            if free <= day < days:
                p = baseline * table[state[codes + day]]
                if p > cap:
                    p = cap
                state[day] = 1 if uniform[day] < p else 0
        self._stale.clear()
