"""What an attack is: its timing, length, severity and aura (SPEC §4), and the ``Attack`` event.

The characteristics an attack would have if it started on day t are drawn for every day from the
patient's stream (``abm.engine.draws``), so an attack that starts on the same day in two variants of
a configuration is the same attack (common random numbers). Defaults and sources:

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

from abm.config.settings import Config
from abm.engine.clock import Phase
from abm.engine.draws import Draws, U, Z

HOURS_PER_DAY = 24.0
_ONSET = int(Phase.ONSET)


@dataclass
class AttackDraws:
    """For every patient and day: the attack that would start that day. Arrays ``(n, days)``."""

    onset_hour: np.ndarray     # float64 hours after midnight, whole minutes
    duration_hours: np.ndarray  # float64, one decimal
    span_days: np.ndarray      # int16 calendar days covered, >= 1
    severity: np.ndarray       # int8 1-10
    aura: np.ndarray           # bool


def make_attack_draws(config: Config, draws: Draws, with_aura: np.ndarray) -> AttackDraws:
    """Shape the per-day attack draws of a block of patients."""
    a = config.attacks
    u_hour = draws.u(U.ONSET_HOUR)
    w = a.morning_onset_share
    morning = np.mod(a.morning_onset_hour + 2.5 * draws.z(Z.ONSET_HOUR), HOURS_PER_DAY)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.where(w < 1, HOURS_PER_DAY * (u_hour - w) / (1 - w), 0.0)
    hour = np.where(u_hour < w, morning, spread)
    hour = np.minimum(np.round(hour * 60) / 60, HOURS_PER_DAY - 1 / 60)
    lo, hi = a.duration_hours
    duration = np.exp(np.log(a.duration_median_hours) + a.duration_log_sd * draws.z(Z.DURATION))
    duration = np.round(np.clip(duration, lo, hi), 1)
    span = np.ceil((hour + duration) / HOURS_PER_DAY - 1e-9).astype(np.int16)
    severity = np.clip(np.round(a.severity_mean + a.severity_sd * draws.z(Z.SEVERITY)), 1, 10)
    aura = with_aura[:, None] & (draws.u(U.AURA) < a.aura_attack_share)
    return AttackDraws(hour, duration, np.maximum(span, 1), severity.astype(np.int8), aura)


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
