"""What an attack is: its timing, length, severity and aura, and the ``Attack`` event.

The characteristics an attack would have if it started on day t are drawn for every day from the
patient's streams (``abm.engine.streams``), so an attack that starts on the same day in two variants
of a configuration is the same attack (common random numbers). Defaults and sources:

- onset hour: a morning peak (60% around 7 am, SD 2.5 h; Fox & Davis 1998), the rest uniform;
- duration: lognormal with median 24 h (Dodick 2018), clipped to 4-72 h (ICHD-3);
- severity: whole points 1-10, mean 6 (moderate to severe);
- aura: only for patients ``with_aura``, on 70% of their attacks.

An attack covers the calendar days from its onset to its end; ``span_days`` counts them. The
next onset needs the attack to be over at the start of a day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import simpy

from abm.config.fields import Section, setting
from abm.engine.block import Block
from abm.engine.clock import Phase
from abm.model.component import Component

HOURS_PER_DAY = 24.0
_ONSET = int(Phase.ONSET)
#: the random purposes of attacks (owner ``attacks``)
PURPOSES = ("onset", "onset_hour", "morning_hour", "duration", "severity", "aura")


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


@dataclass
class AttackDraws:
    """For every patient and day: the attack that would start that day. Arrays ``(n, days)``."""

    onset_hour: np.ndarray     # float64 hours after midnight, whole minutes
    duration_hours: np.ndarray  # float64, one decimal
    span_days: np.ndarray      # int16 calendar days covered, >= 1
    severity: np.ndarray       # int8 1-10
    aura: np.ndarray           # bool


class Attacks(Component):
    """What an attack would be like on each day: drawn for every day, so an attack that starts
    on the same day in two variants of a configuration is the same attack. The engine reads
    these draws (:func:`make_attack_draws`); the component writes no column of its own."""

    name = "attacks"
    kind = "outcome"
    section = AttacksSettings
    purposes = PURPOSES
    source = "Dodick 2018 (duration), Fox & Davis 1998 (onset hour), ICHD-3 (4-72 h)"


#: the owner of the attacks' random purposes
AttackStreams = Attacks()


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
    duration = np.exp(np.log(a.duration_median_hours)
                      + a.duration_log_sd * block.normal(owner, "duration", daily=True))
    duration = np.round(np.clip(duration, lo, hi), 1)
    span = np.ceil((hour + duration) / HOURS_PER_DAY - 1e-9).astype(np.int16)
    severity = np.clip(np.round(a.severity_mean
                                + a.severity_sd * block.normal(owner, "severity", daily=True)),
                       1, 10)
    aura = block.patients["with_aura"][:, None] & (
        block.uniform(owner, "aura", daily=True) < a.aura_attack_share)
    return AttackDraws(hour, duration, np.maximum(span, 1), severity.astype(np.int8), aura)


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
