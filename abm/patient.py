"""The ``Patient`` agent: lives from attack to attack on the shared clock (SPEC §1, §4).

A patient's daily series (sleep, stress, diet, weather exposure) are drawn in blocks before the run
(``abm.simulation``); what makes the patient an agent is its SimPy process, :meth:`Patient.live`:

1. from the first free day on, find the next day whose pre-drawn uniform falls below that day's
   onset probability (a byte search over the patient's "would start" flags);
2. create the :class:`~abm.attacks.Attack` event for that day, with the feedback rules as its
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

from abm.attacks import Attack
from abm.sleep import round_hours
from abm.stress import MAX_LEVEL
from abm.triggers import SLEEP, STRESS, sleep_disrupted

if TYPE_CHECKING:
    from abm.simulation import Cohort


class Patient:
    """One patient of a :class:`~abm.simulation.Cohort`, by row ``index``.

    Rows of the cohort's arrays are reached through ``memoryview`` objects: they read and write
    the arrays in place, and give plain Python numbers, which keeps the per-attack work small.
    """

    __slots__ = ("index", "cohort", "location", "onsets", "days", "_stale", "_flags",
                 "_stress", "_codes", "_feedback_uniform", "_rise", "_edit")

    def __init__(self, index: int, cohort: Cohort, location: object) -> None:
        self.index = index
        self.cohort = cohort
        self.location = location
        self.onsets: list[int] = []
        self.days = cohort.codes.shape[1]
        self._stale: list[int] = []
        self._rise = cohort.config.triggers.stress_rise_points
        self._edit = cohort.edits.append
        self._flags = bytearray(cohort.would_start[index].tobytes())
        self._stress = memoryview(cohort.stress_level[index])
        self._codes = memoryview(cohort.codes[index])
        self._feedback_uniform = memoryview(cohort.feedback_uniform[index])

    def live(self, env: simpy.Environment):
        """SimPy process: one wake-up per attack."""
        flags = self._flags
        spans = memoryview(self.cohort.attacks.span_days[self.index])
        rules = self.cohort.rules
        onsets = self.onsets
        stale = self._stale
        free = 0
        while True:
            day = flags.find(1, free)
            if day < 0:
                return
            onsets.append(day)
            yield Attack(env, self, day, rules.copy())
            free = day + spans[day]
            if stale:
                self._refresh(free)

    # --- editing the future (called by feedback rules at the ONSET phase) ---------------------

    def feedback_points(self, day: int, low: int, choices: int) -> int:
        """Whole points for a feedback rule, from the patient's pre-drawn uniform of ``day``."""
        return low + int(self._feedback_uniform[day] * choices)

    def raise_stress(self, day: int, points: int, rule: str, attack: Attack) -> None:
        """Add ``points`` to the stress of ``day`` (capped at 10) and log the edit."""
        days = self.days
        if day >= days or day < attack.day:
            return
        stress = self._stress
        old = stress[day]
        new = old + points
        if new > MAX_LEVEL:
            new = MAX_LEVEL
        self._edit((self.index, day, rule, "stress_level", new - old, attack.day))
        if new == old:
            return
        stress[day] = new
        # The edited day's trigger compares it with the day before; the next day's, with it.
        # (``_set_bit`` written out twice: this runs once per attack.)
        codes = self._codes
        rise = self._rise
        if day >= 1:
            code = codes[day]
            edited = (code | STRESS) if new - stress[day - 1] >= rise else (code & ~STRESS)
            if edited != code:
                codes[day] = edited
                self._stale.append(day + 1)
        if day + 1 < days:
            code = codes[day + 1]
            edited = (code | STRESS) if stress[day + 1] - new >= rise else (code & ~STRESS)
            if edited != code:
                codes[day + 1] = edited
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
        codes = self._codes
        old = codes[day]
        new = (old | bit) if on else (old & ~bit)
        if new != old:
            codes[day] = new
            self._stale.append(day + 1)

    def _refresh(self, free: int) -> None:
        """Recompute the "would start" flag of stale days from ``free`` on."""
        cohort = self.cohort
        row = self.index
        table = cohort.factor_table[row]
        baseline = cohort.baseline[row]
        cap = cohort.cap
        flags = self._flags
        codes = self._codes
        uniform = cohort.onset_uniform[row]
        for day in self._stale:
            if free <= day < self.days:
                p = baseline * table[codes[day - 1]]
                if p > cap:
                    p = cap
                flags[day] = 1 if uniform[day] < p else 0
        self._stale.clear()
