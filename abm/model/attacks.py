"""What an attack is: its timing, length, severity and aura, and the ``Attack`` event.

The characteristics an attack would have if it started on day t are drawn for every day from the
patient's streams (``abm.engine.streams``), so an attack that starts on the same day in two variants
of a configuration is the same attack (common random numbers). Defaults and sources:

- onset hour: a morning peak (60% around 7 am, SD 2.5 h; Fox & Davis 1998), the rest uniform;
- duration: lognormal with median 24 h (Dodick 2018), clipped to 4-72 h (ICHD-3);
- severity: whole points 1-10, mean 6 (moderate to severe);
- aura: only for patients ``with_aura``, on 70% of their attacks;
- menstrual attacks: an attack starting on cycle days -2..+3 (day 0 the first day of menses:
  ``days_to_menses`` 0-2 or ``cycle_day`` 0-3) is *menstrual*, longer (duration x
  ``menstrual_duration_factor``, 1.45: Vetvik 2015, about 10.7 h longer than other attacks) and
  more severe (``menstrual_severity_extra`` points, +1.2: about 3 times the odds of severity 8 or
  more, MacGregor 2004: 3.4 times likelier severe on days 1-3); applied to the pre-drawn
  characteristics of those days, so the draws stay common random numbers;
- recurrence: an attack starting within ``recurrence_window_hours`` (48) of the end of the
  patient's previous attack is a *recurrence* (the ``attacks`` frame's ``recurrence``): the
  acute-treatment trial convention (IHS guidelines) counts it as the same attack, and a new
  attack needs a headache-free interval first. The engine keeps it as an attack of its own;
  ``count_recurrences`` says how metrics count attacks: ``separate`` (every onset, the default)
  or ``merged`` (a recurrence belongs to the previous attack);
- frequency drift: each patient's baseline onset probability is multiplied by a slow drift,
  ``exp(drift_sd x_m - drift_sd^2 / 2)`` over 30-day months m, ``x`` an AR(1) with correlation
  ``drift_month_correlation`` between consecutive months (CaMEO, Serrano 2017: 73% of people
  chronic at baseline were episodic in at least one 3-monthly wave; month-to-month variability,
  Dumkrieger 2024). The drift of each day is logged (``frequency_drift``, ground truth) and
  calibration includes it, so a patient still reaches the target over the run on average.
  ``drift_sd = 0`` switches it off.

An attack covers the calendar days from its onset to its end; ``span_days`` counts them. The
next onset needs the attack to be over at the start of a day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import simpy

from abm.config.fields import Section, setting
from abm.engine.block import Block
from abm.engine.clock import Phase
from abm.errors import ConfigError
from abm.model.component import Column, Component
from abm.model.medication import Medication

HOURS_PER_DAY = 24.0
_ONSET = int(Phase.ONSET)
#: the random purposes of attacks (owner ``attacks``)
PURPOSES = ("onset", "onset_hour", "morning_hour", "duration", "severity", "aura", "drift")
#: the days of a month of the frequency drift
DRIFT_MONTH_DAYS = 30
#: a menstrual attack starts this many days before the first day of menses (``days_to_menses``)
#: up to this many days after it (``cycle_day``): cycle days -2..+3
MENSTRUAL_DAYS = (2, 3)
#: how metrics may count an attack that recurs within the recurrence window
COUNTING = ("separate", "merged")

#: the daily column that multiplies each patient's baseline onset probability (the drift of its
#: frequency); the engine, the recorder and validation read it by this name
DRIFT_COLUMN = "frequency_drift"
#: the daily column of the patient's slow state multipliers of the baseline (medication-overuse
#: headache, chronic migraine, preventive treatment: ``abm.model.feedback.state``), present when
#: any is switched on
STATE_COLUMN = "state_multiplier"

@dataclass(frozen=True)
class AttacksSettings(Section):
    """What an attack looks like once it starts: duration, onset hour, severity, aura."""

    _path = "attacks"
    duration_median_hours: float = setting(24.0, 4, 72, source="Dodick 2018: median pain duration "
                                           "about 24 h untreated")
    duration_log_sd: float = setting(0.6, 0, 3, source="assumption: lognormal spread so that 4-72 "
                                     "h (ICHD-3) covers about 99% before clipping")
    duration_hours: tuple = setting((4.0, 72.0), 0, 240, lo_open=True, source="ICHD-3: 4-72 h")
    morning_onset_share: float = setting(0.6, 0, 1, source="Fox & Davis 1998: onsets peak in the "
                                         "early morning; the rest spread over the day")
    morning_onset_hour: float = setting(7.0, 0, 24, hi_open=True, source="Fox & Davis 1998: 4-9 "
                                        "am")
    severity_mean: float = setting(6.0, 1, 10, source="assumption: moderate to severe on 1-10; "
                                   "AMPP: 54% severe impairment")
    severity_sd: float = setting(1.8, 0, 10, source="assumption")
    aura_attack_share: float = setting(0.7, 0, 1, source="assumption: patients with aura also "
                                       "have attacks without it")
    max_onset_probability: float = setting(0.95, 0, 1, lo_open=True, source="seed: cap at 0.95")
    menstrual_duration_factor: float = setting(1.45, 0.1, 10, source="Vetvik 2015: menstrual "
                                               "attacks last about 10.7 h longer; 1.45 x the 24 h "
                                               "median")
    menstrual_severity_extra: float = setting(1.2, -10, 10, source="MacGregor 2004: attacks on "
                                              "days 1-3 of menses 3.4 times likelier severe; +1.2 "
                                              "points gives about 3 times the odds of 8 or more")
    recurrence_window_hours: float = setting(48.0, 0, 240, source="IHS guidelines for acute "
                                             "treatment trials: a headache returning within 48 h "
                                             "is a recurrence of the same attack")
    count_recurrences: str = setting("separate", source="assumption: every onset is an attack "
                                     "(separate); merged: a recurrence belongs to the previous "
                                     "attack (Sci Rep 2020: a new attack needs a headache-free "
                                     "day first)")
    drift_sd: float = setting(0.15, 0, 3, source="assumption: a moderate month-to-month drift "
                              "of frequency (SD of the log multiplier: about +-15% a month); "
                              "CaMEO (Serrano 2017), Dumkrieger 2024")
    drift_month_correlation: float = setting(0.5, 0, 1, hi_open=True, source="assumption: "
                                             "consecutive months' drifts correlate 0.5")

    def _check(self) -> None:
        if self.count_recurrences not in COUNTING:
            raise ConfigError(f"attacks.count_recurrences must be one of {', '.join(COUNTING)}, "
                              f"got {self.count_recurrences!r}")


@dataclass
class AttackDraws:
    """For every patient and day: the attack that would start that day. Arrays ``(n, days)``."""

    onset_hour: np.ndarray     # float64 hours after midnight, whole minutes
    duration_hours: np.ndarray  # float64, one decimal: as treated (``treated``) or untreated
    span_days: np.ndarray      # int16 calendar days covered, >= 1
    severity: np.ndarray       # int8 1-10
    aura: np.ndarray           # bool
    menstrual: np.ndarray      # bool: starts on cycle days -2..+3
    treated: np.ndarray        # bool: acute medication taken (``abm.model.medication``)
    treatment_hour: np.ndarray  # float64 hours after the onset day's midnight (nan: untreated)
    untreated_duration_hours: np.ndarray  # float64: the duration without treatment


class Attacks(Component):
    """What an attack would be like on each day: drawn for every day, so an attack that starts
    on the same day in two variants of a configuration is the same attack. The engine reads
    these draws (:func:`make_attack_draws`); the component's one column is the drift of each
    patient's frequency."""

    name = "attacks"
    kind = "outcome"
    section = AttacksSettings
    purposes = PURPOSES
    columns = (Column(DRIFT_COLUMN, pl.Float32, "x", "ground truth: the slow multiplier of "
                      "the patient's baseline onset probability that day (1 without drift)",
                      range=(0, 1000), feature=False),)
    source = ("Dodick 2018 (duration), Fox & Davis 1998 (onset hour), ICHD-3 (4-72 h), Vetvik "
              "2015 and MacGregor 2004 (menstrual attacks), Serrano 2017 (drift)")

    def draw(self, block: Block) -> dict[str, np.ndarray]:
        return {DRIFT_COLUMN: drift(block)}


def drift(block: Block) -> np.ndarray:
    """Each patient's frequency drift of every day ``(n, days)`` float32: constant within a
    30-day month, its log an AR(1) over months (the normal of month m is that of the stream's
    day 30 m, so a longer run continues a shorter one's months)."""
    a = block.config.attacks
    shape = (block.count, block.days)
    if a.drift_sd <= 0:
        return np.ones(shape, dtype=np.float32)
    z = block.normal(AttackStreams, "drift", daily=True)[:, ::DRIFT_MONTH_DAYS]
    rho = a.drift_month_correlation
    x = np.empty_like(z)
    x[:, 0] = z[:, 0]
    for m in range(1, z.shape[1]):  # a few months: one step each, every patient at once
        x[:, m] = rho * x[:, m - 1] + np.sqrt(1 - rho * rho) * z[:, m]
    monthly = np.exp(a.drift_sd * x - a.drift_sd ** 2 / 2)
    return np.repeat(monthly, DRIFT_MONTH_DAYS, axis=1)[:, :block.days].astype(np.float32)


def menstrual_days(block: Block) -> np.ndarray:
    """Whether an attack starting on each day would be menstrual (cycle days -2..+3); all false
    without the cycle's columns (the cycle switched off)."""
    if "days_to_menses" not in block.columns or "cycle_day" not in block.columns:
        return np.zeros((block.count, block.days), dtype=bool)
    before, after = MENSTRUAL_DAYS
    left, day = block.columns["days_to_menses"], block.columns["cycle_day"]
    return ((left >= 0) & (left <= before)) | ((day >= 0) & (day <= after))


#: the owner of the attacks' random purposes
AttackStreams = Attacks()
#: the owner of the treatment's random purposes
MedicationStreams = Medication()


def make_attack_draws(block: Block) -> AttackDraws:
    """Shape the per-day attack draws of a block of patients."""
    a = block.config.attacks
    owner = AttackStreams
    u_hour = block.uniform(owner, "onset_hour", daily=True)
    w = a.morning_onset_share
    morning = np.mod(a.morning_onset_hour + 2.5 * block.normal(owner, "morning_hour", daily=True),
                     HOURS_PER_DAY)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.where(w < 1, HOURS_PER_DAY * (u_hour - w) / (1 - w), 0.0)
    hour = np.where(u_hour < w, morning, spread)
    hour = np.minimum(np.round(hour * 60) / 60, HOURS_PER_DAY - 1 / 60)
    lo, hi = a.duration_hours
    menstrual = menstrual_days(block)
    duration = np.exp(np.log(a.duration_median_hours)
                      + a.duration_log_sd * block.normal(owner, "duration", daily=True))
    duration = np.where(menstrual, duration * a.menstrual_duration_factor, duration)
    untreated = np.round(np.clip(duration, lo, hi), 1)
    if "treatment_share" in block.patients:  # acute medication: treated attacks are shorter
        treatment = MedicationStreams.treatment(block, hour, untreated)
        treated, treatment_hour, duration = (treatment.treated, treatment.treatment_hour,
                                             treatment.duration_hours)
    else:
        treated = np.zeros(untreated.shape, dtype=bool)
        treatment_hour, duration = np.full(untreated.shape, np.nan), untreated
    span = span_days(hour, duration)
    severity = (a.severity_mean + a.severity_sd * block.normal(owner, "severity", daily=True)
                + np.where(menstrual, a.menstrual_severity_extra, 0.0))
    severity = np.clip(np.round(severity), 1, 10)
    aura = block.patients["with_aura"][:, None] & (
        block.uniform(owner, "aura", daily=True) < a.aura_attack_share)
    return AttackDraws(hour, duration, span, severity.astype(np.int8), aura, menstrual,
                       treated, treatment_hour, untreated)


def span_days(onset_hour: Any, duration_hours: Any) -> Any:
    """The calendar days an attack covers (at least 1), elementwise on arrays or one number."""
    if isinstance(onset_hour, np.ndarray):
        span = np.ceil((onset_hour + duration_hours) / HOURS_PER_DAY - 1e-9).astype(np.int16)
        return np.maximum(span, 1)
    return max(1, math.ceil((onset_hour + duration_hours) / HOURS_PER_DAY - 1e-9))


def onset_uniforms(block: Block) -> np.ndarray:
    """The uniform of each day that decides an onset (below the day's probability: an attack)."""
    return block.uniform(AttackStreams, "onset", daily=True)


class Attack(simpy.Event):
    """A migraine attack of one patient, as a SimPy event processed at ``ONSET`` of its day.

    Callbacks registered on it (feedback rules, then the patient's own process) receive the attack
    as their one argument, as SimPy's callback contract says; they may change the patient's
    future, never the past.
    """

    def __init__(self, env: simpy.Environment, patient: object, day: int,
                 callbacks: list) -> None:
        # No reference from the event to itself (such as ``_value = self``): a cycle per attack
        # leaves every attack to the cyclic garbage collector and doubles the cost of a run.
        self.env = env
        self.callbacks = callbacks
        self._ok = True
        self._value = None
        self.patient = patient
        self.day = day
        env.schedule(self, _ONSET, day - env._now)
