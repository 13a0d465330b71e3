"""Feedback rules: callbacks on the ``Attack`` event that change a patient's future.

A rule is any callable taking the attack (SimPy's callback contract); it changes the future through
the patient's editing methods (:meth:`abm.patient.Patient.raise_stress`,
:meth:`abm.patient.Patient.lengthen_sleep`), which keep the trigger codes and onset probabilities
of the edited days up to date and record the edit for the ``events`` log. Pass your own rules to
:func:`abm.simulate` with ``feedback_rules=[...]``; each built-in rule has an ``enabled`` switch.

Built in:

- :class:`StressAfterAttack` (on): the day after an attack starts, stress rises by 1-2 points
  (the required loop; no published effect size, Stubberud 2021, so it is kept small). The rise
  can make a stress trigger and so a next attack: the loop.
- :class:`SleepAfterAttack` (off): the night of the onset day is 7.3 min longer (Vgontzas 2020).

An onset is marked ``caused_by_feedback`` when, with the same random draws, it would not have
happened that day on the unedited series: the feedback edits are its proximate cause.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from abm.config import Config

if TYPE_CHECKING:
    from abm.attacks import Attack


class FeedbackRule(Protocol):
    """What a feedback rule is: a name and a callback on the attack event."""

    name: str

    def __call__(self, attack: Attack) -> None:
        """Edit the attacked patient's future."""


class StressAfterAttack:
    """Raise the next day's stress by ``feedback.stress.points`` (drawn per day, whole points)."""

    name = "stress_after_attack"

    def __init__(self, config: Config) -> None:
        lo, hi = config.feedback.stress.points
        self.low = lo
        self.choices = hi - lo + 1

    def __call__(self, attack: Attack) -> None:
        patient = attack.patient
        points = patient.feedback_points(attack.day, self.low, self.choices)
        if points:
            patient.raise_stress(attack.day + 1, points, self.name, attack)


class SleepAfterAttack:
    """Lengthen the night that starts on the onset day by ``feedback.sleep.extra_hours``."""

    name = "sleep_after_attack"

    def __init__(self, config: Config) -> None:
        self.extra_hours = config.feedback.sleep.extra_hours

    def __call__(self, attack: Attack) -> None:
        attack.patient.lengthen_sleep(attack.day, self.extra_hours, self.name, attack)


def default_rules(config: Config) -> list[FeedbackRule]:
    """The built-in rules that the configuration switches on."""
    rules: list[FeedbackRule] = []
    if config.feedback.stress.enabled:
        rules.append(StressAfterAttack(config))
    if config.feedback.sleep.enabled:
        rules.append(SleepAfterAttack(config))
    return rules
