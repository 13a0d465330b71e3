"""The patients' slow states as event-driven state machines: medication overuse, chronification,
a medication limit.

A :class:`PatientStates` belongs to one patient and is driven by the patient's SimPy process
(:meth:`abm.engine.patient.Patient.live_with_states`) at two kinds of events:

- **an attack** (:meth:`PatientStates.attack`): the attack is treated or not (a medication limit
  may forbid the dose: the attack then runs its untreated course), its medication days are
  added, and overuse starts if the count crosses the threshold;
- **a wake-up** (:meth:`PatientStates.wake`) on the day the machine asked for
  (:attr:`PatientStates.wake_day`): the day overuse would end without more medication, or the day
  the accumulated hazard of a change between episodic and chronic migraine crosses its
  pre-drawn threshold. Nothing is checked on the days between.

A state change multiplies the baseline from its day on: the machine rewrites the patient's row
of ``state_multiplier`` from that day (the product of the preventive's multiplier, drawn before
the run, and its own: medication-overuse headache, the switched frequency), and the patient
refreshes its onset flags from there. Every period is logged in ``cohort.state_log`` as
``(patient, first day, day after the last)``: under ``medication_overuse`` the overuse periods,
under ``chronic_state`` the periods a patient spends in the other state than the one they started
in (chronic for an episodic patient, episodic for a chronic one), from which the post-run steps
write the ``medication_overuse`` and ``chronic_state`` columns.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from abm.engine.clock import Phase
from abm.model.attacks import STATE_COLUMN, span_days
from abm.model.feedback.chronification import COLUMN as CHRONIC
from abm.model.feedback.chronification import MAX_CHANGES, daily_rates
from abm.model.feedback.overuse import COLUMN as OVERUSE
from abm.model.feedback.overuse import (
    expected_medication_days,
    monthly_threshold,
    overuse_on,
)
from abm.model.feedback.state import PREVALENT
from abm.model.medication import HOURS_PER_DAY, WINDOW_DAYS

NEVER = 1 << 40
_ONSET = int(Phase.ONSET)


@dataclass
class StatePlan:
    """What every patient's machine reads, resolved once per run (arrays by patient row)."""

    days: int
    medication: bool
    limit_days: int
    limit_start: int
    overuse: bool
    overuse_count: np.ndarray | None  # medication days in the window that make overuse
    overuse_window: int
    overuse_factor: float
    reversion_days: float
    chronification: bool
    episodic_rate: np.ndarray | None  # daily hazard without overuse
    overuse_odds: float
    remission_rate: float
    switch_factor: np.ndarray | None  # switched baseline / baseline
    thresholds: np.ndarray | None  # (n, MAX_CHANGES) exponential variates
    chronic: np.ndarray | None  # chronic at the start
    prevalent: np.ndarray | None  # overusing at the start
    expected_days: np.ndarray | None  # expected medication days a month (the history's rate)

    @classmethod
    def build(cls, cohort: Any, switch: np.ndarray | None) -> StatePlan:
        """``switch``: each patient's baseline multiplier in the switched state (the ratio of
        the baselines calibrated for the switched target and the target)."""
        config = cohort.config
        fb, iv = config.feedback, config.interventions
        patients = cohort.patients
        med_class = patients.get("medication_class")
        overuse = overuse_on(config)
        count = expected = None
        if overuse:
            count = monthly_threshold(config, med_class) * fb.overuse.months
            expected = expected_medication_days(patients)
        chron = fb.chronification.enabled and switch is not None
        rate = thresholds = None
        odds, remission = 1.0, 0.0
        if chron:
            rate, odds, remission = daily_rates(config, patients["target_migraine_days_per_month"],
                                                med_class)
            thresholds = np.stack([patients[f"_change_threshold_{k}"]
                                   for k in range(MAX_CHANGES)], axis=1)
        overusing = patients.get(PREVALENT) if overuse else None
        return cls(cohort.days, med_class is not None, iv.medication_limit_days,
                   iv.medication_limit_start_day, overuse, count,
                   WINDOW_DAYS * fb.overuse.months, fb.overuse.baseline_factor,
                   fb.overuse.reversion_days, chron, rate, odds, remission, switch, thresholds,
                   patients["is_chronic"] if chron else None, overusing, expected)


class StateChange(simpy.Event):
    """A patient's wake-up for a state change, processed at ``ONSET`` of its day (before any
    onset of that day)."""

    def __init__(self, env: simpy.Environment, day: int) -> None:
        self.env = env
        self.callbacks = []
        self._ok = True
        self._value = None
        self.day = day
        env.schedule(self, _ONSET, day - env._now)


class PatientStates:
    """One patient's medication days, overuse and episodic/chronic state."""

    __slots__ = ("plan", "row", "cohort", "log", "medication_days", "overusing", "overuse_start",
                 "overuse_end", "chronic", "changes", "hazard", "since", "rate", "crossing",
                 "_base", "_overuse_extra", "_switch", "_open")

    def __init__(self, cohort: Any, plan: StatePlan, row: int) -> None:
        self.plan = plan
        self.row = row
        self.cohort = cohort
        self.log = cohort.state_log
        self.medication_days: list[int] = []
        self.overusing = False
        self.overuse_start = self.overuse_end = NEVER
        self.chronic = bool(plan.chronic[row]) if plan.chronification else False
        self.changes = 0
        self.hazard = 0.0
        self.since = 0
        self.rate = 0.0
        self.crossing = NEVER
        #: the multiplier row's parts, made on the first change (most patients never change)
        self._base: np.ndarray | None = None
        self._overuse_extra: np.ndarray | None = None
        self._switch = 1.0
        #: where this patient's open period of the switched state is in the log
        self._open = -1
        if plan.overuse and plan.prevalent is not None and plan.prevalent[row]:
            self._overuse_from_start()
        if plan.chronification:
            self._set_rate(0)

    @property
    def wake_day(self) -> int:
        """The next day the machine must wake on (``NEVER``: none)."""
        return min(self.overuse_end if self.overusing else NEVER, self.crossing)

    # --- events ------------------------------------------------------------------------------

    def attack(self, patient: Any, day: int) -> int:
        """An attack starts on ``day``: decide its treatment, add its medication days, start
        overuse if they cross the threshold. Returns the first day whose multiplier changed
        (``NEVER``: none)."""
        plan = self.plan
        if not plan.medication:
            return NEVER
        draws = self.cohort.attacks
        i = self.row
        med = self.medication_days
        if not draws.treated[i, day]:
            return NEVER
        if plan.limit_days and day >= plan.limit_start and \
                len(med) - bisect_left(med, max(0, day - WINDOW_DAYS + 1)) >= plan.limit_days:
            self._untreat(patient, day)
            return NEVER
        first = day + int(draws.treatment_hour[i, day] // HOURS_PER_DAY)
        last = min(day + patient.span_of(day), plan.days)  # one past the last day covered
        added = range(max(first, med[-1] + 1 if med else first), last)
        med.extend(added)
        if not plan.overuse or not added:
            return NEVER
        need = int(plan.overuse_count[i])
        window = plan.overuse_window
        changed = NEVER
        if self.overusing and self.overuse_end <= added[0]:
            # the overuse ends before the new medication days can hold it up (a late dose)
            changed = self._end_overuse(self.overuse_end)
        if self.overusing:
            self.overuse_end = med[-need] + window + 1
            return changed
        for k in range(len(med) - len(added), len(med)):
            m = med[k]
            if k + 1 - bisect_left(med, m - window + 1) >= need:
                return min(changed, self._start_overuse(m + 1, med[-need] + window + 1))
        return changed

    def wake(self, day: int) -> int:
        """The patient wakes on ``day``: end overuse, change state. Returns the first day whose
        multiplier changed."""
        changed = NEVER
        while True:  # the events due by ``day``, in the order of their days (a change first)
            end = self.overuse_end if self.overusing else NEVER
            if min(end, self.crossing) > day:
                return changed
            if self.crossing <= end:
                changed = min(changed, self._change_state(self.crossing))
            else:
                changed = min(changed, self._end_overuse(end))

    # --- the states ----------------------------------------------------------------------------

    def _untreat(self, patient: Any, day: int) -> None:
        """The limit forbids the dose: the attack runs its untreated course."""
        draws, i = self.cohort.attacks, self.row
        draws.treated[i, day] = False
        draws.treatment_hour[i, day] = np.nan
        duration = float(draws.untreated_duration_hours[i, day])
        draws.duration_hours[i, day] = duration
        span = min(255, span_days(float(draws.onset_hour[i, day]), duration))
        draws.span_days[i, day] = span
        patient.set_span(day, span)

    def _overuse_from_start(self) -> None:
        """Overuse under way at the start: a history of medication days at the patient's
        expected rate before day 0 (the last the day before), and the medication-overuse
        headache already in the multiplier row (``abm.model.feedback.state``)."""
        plan, i = self.plan, self.row
        window = plan.overuse_window
        history = max(int(plan.overuse_count[i]),
                      round(float(plan.expected_days[i]) * window / WINDOW_DAYS))
        self.medication_days = sorted(-1 - (j * window) // history for j in range(history))
        self.overusing = True
        self.overuse_start = 0
        self.overuse_end = self.medication_days[-int(plan.overuse_count[i])] + window + 1
        self._base = (self.cohort.columns[STATE_COLUMN][i].astype(np.float64)
                      / plan.overuse_factor)
        self._overuse_extra = np.full(plan.days, plan.overuse_factor - 1.0)

    def _start_overuse(self, start: int, end: int) -> int:
        self.overusing = True
        self.overuse_start, self.overuse_end = start, end
        parts = self._parts()
        parts[1][start:] = self.plan.overuse_factor - 1.0
        if self.plan.chronification and not self.chronic:
            self._set_rate(start)
        return self._rewrite(start)

    def _end_overuse(self, end: int) -> int:
        plan = self.plan
        self.overusing = False
        self.log.setdefault(OVERUSE, []).append((self.row, self.overuse_start, end))
        extra = self._parts()[1]
        if plan.reversion_days > 0:
            after = np.arange(plan.days - end, dtype=np.float64)
            extra[end:] = (plan.overuse_factor - 1.0) * np.exp(-after / plan.reversion_days)
        else:
            extra[end:] = 0.0
        if plan.chronification and not self.chronic:
            self._set_rate(end)
        return self._rewrite(end)

    def _change_state(self, day: int) -> int:
        self.chronic = not self.chronic
        self.changes += 1
        initially = bool(self.plan.chronic[self.row])
        self._switch = 1.0 if self.chronic == initially else float(
            self.plan.switch_factor[self.row])
        periods = self.log.setdefault(CHRONIC, [])
        if self.chronic != initially:
            self._open = len(periods)
            periods.append((self.row, day, self.plan.days))
        else:  # back to the first state: this patient's open period ends here
            i, start, _ = periods[self._open]
            periods[self._open] = (i, start, day)
        # a fresh threshold: nothing accrued towards it yet
        self.hazard, self.since, self.crossing = 0.0, day, NEVER
        self._set_rate(day)
        return self._rewrite(day)

    def _set_rate(self, day: int) -> None:
        """The hazard changes on ``day``: bank what accrued, recompute the crossing day."""
        plan = self.plan
        if self.crossing <= day:
            return  # a change is due by then: it comes first, and sets the rate afresh
        self.hazard += self.rate * (day - self.since)
        self.since = day
        if self.changes >= MAX_CHANGES:
            self.rate, self.crossing = 0.0, NEVER
            return
        if self.chronic:
            rate = plan.remission_rate
        else:
            rate = float(plan.episodic_rate[self.row])
            if self.overusing:
                rate *= plan.overuse_odds
        self.rate = rate
        left = float(plan.thresholds[self.row, self.changes]) - self.hazard
        if rate <= 0:
            self.crossing = NEVER
        else:
            self.crossing = day + max(1, math.ceil(left / rate)) if left > 0 else day + 1
            if self.crossing >= plan.days:
                self.crossing = NEVER

    def _parts(self) -> tuple[np.ndarray, np.ndarray]:
        if self._base is None:
            self._base = self.cohort.columns[STATE_COLUMN][self.row].astype(np.float64)
            self._overuse_extra = np.zeros(self.plan.days)
        return self._base, self._overuse_extra

    def _rewrite(self, start: int) -> int:
        """Write the multiplier row from ``start`` on; returns ``start``."""
        base, extra = self._parts()
        row = self.cohort.columns[STATE_COLUMN][self.row]
        row[start:] = base[start:] * (1.0 + extra[start:]) * self._switch
        return start

    def close(self) -> None:
        """At the end of the run: log the overuse still under way."""
        if self.overusing:
            self.log.setdefault(OVERUSE, []).append(
                (self.row, self.overuse_start, min(self.overuse_end, self.plan.days)))
