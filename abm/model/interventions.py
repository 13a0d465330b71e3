"""Interventions an experiment can vary: a preventive treatment, a medication limit, trigger
avoidance. All are off by default.

- **Preventive treatment** (``preventive_start_day``, ``preventive_factor``,
  ``preventive_share``): from its start day, a share of the patients take a preventive that
  multiplies their baseline onset probability by ``preventive_factor`` (assumption 0.6: about
  40% fewer attacks, the order of the reductions in preventive trials). It enters the
  ``state_multiplier`` column (``abm.model.feedback.state``).
- **Medication limit** (``medication_limit_days``, ``medication_limit_start_day``): from its
  start day, a patient does not treat an attack when they already had this many medication days
  in the last 30 (advice below the overuse thresholds of ICHD-3: 10 days for triptans and
  opioids). The attack then runs its untreated course.
- **Trigger avoidance** (``avoid_triggers``, ``avoidance_share``): a share of the patients avoid
  the named risk factors throughout the run: their susceptibility to them is 0 (the patients
  frame shows it), while the exposure columns stay as drawn, so variants compare the same days.

Calibration does not see interventions: an experiment pins each patient's baseline to the
reference run's, and the intervention's effect shows as fewer migraine days.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from abm.config.fields import Section, setting
from abm.model.component import Component


@dataclass(frozen=True)
class InterventionsSettings(Section):
    """Interventions: a preventive treatment, a medication limit, trigger avoidance."""

    _path = "interventions"
    preventive_start_day: int = setting(-1, -1, 100_000, source="off (-1); the run's day the "
                                        "preventive starts")
    preventive_factor: float = setting(0.6, 0, 10, source="assumption: about 40% fewer attacks "
                                       "on a preventive")
    preventive_share: float = setting(1.0, 0, 1, source="assumption: every patient takes it")
    medication_limit_days: int = setting(0, 0, 30, source="off (0); a cap on medication days in "
                                         "30, below ICHD-3's overuse thresholds (10 or 15)")
    medication_limit_start_day: int = setting(0, 0, 100_000, source="the run's day the limit "
                                              "starts")
    avoid_triggers: tuple = setting((), names=True, source="none; names of risk factors "
                                    "(weather, sleep, stress, diet, ...) that patients avoid")
    avoidance_share: float = setting(0.5, 0, 1, source="assumption: half of the patients manage "
                                     "to avoid the named triggers")


def active(config: Any) -> bool:
    """Whether any intervention is on: a preventive, a medication limit, trigger avoidance."""
    iv = config.interventions
    return iv.preventive_start_day >= 0 or iv.medication_limit_days > 0 or bool(
        iv.avoid_triggers)


class Interventions(Component):
    """The interventions' settings and random purposes (who takes the preventive, who avoids
    the triggers); the engine applies them (``abm.model.feedback.state``, the patients' state
    machines, the susceptibilities)."""

    name = "interventions"
    kind = "intervention"
    section = InterventionsSettings
    purposes = ("preventive", "avoidance")
    source = "assumption (see the settings)"

    def enabled(self, config: Any) -> bool:
        return active(config)


#: the owner of the interventions' random purposes (who takes the preventive, who avoids)
InterventionStreams = Interventions()
