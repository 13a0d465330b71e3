"""Feedback rules: callbacks on the ``Attack`` event that change a patient's future.

Each rule is a :class:`~abm.model.component.FeedbackRule` that declares the edits an attack makes
(``planned``); the engine applies them through ``patient.edit``, which re-derives everything that
depends on the edited column and logs the edit with the rule as its cause. Built in:

- :class:`~abm.model.feedback.stress.StressAfterAttack` (on): the day after an attack starts,
  stress rises by 1-2 points. The rise can make a stress trigger and so a next attack: the loop.
- :class:`~abm.model.feedback.sleep.SleepAfterAttack` (off): the night of the onset day is
  7.3 min longer (Vgontzas 2020).

The slow loops are components of this package too, run by the patients' state machines
(``abm.engine.states``) rather than as rules: medication overuse
(:mod:`~abm.model.feedback.overuse`), chronification (:mod:`~abm.model.feedback.chronification`)
and the state multiplier of the baseline they write (:mod:`~abm.model.feedback.state`).

An onset is marked ``caused_by_feedback`` when, with the same random draws, it would not have
happened that day on the series as drawn before the run: the feedback edits or the slow states
are its proximate cause (``attacks.feedback_chain`` names them: ``abm.output.attribution``).
"""

from typing import Any

from abm.model.feedback.sleep import SleepAfterAttack
from abm.model.feedback.stress import StressAfterAttack


def default_rules(config: Any) -> list[Any]:
    """The built-in rules that the configuration switches on (pass ``default_rules(config) +
    [my_rule]`` as ``abm.simulate(..., feedback_rules=...)`` to add one)."""
    return [rule for rule in (StressAfterAttack(), SleepAfterAttack()) if rule.enabled(config)]
