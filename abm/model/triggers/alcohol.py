"""The alcohol trigger: 5 or more alcoholic drinks in a day.

In a prospective diary study of 98 adults with episodic migraine, 5 or more servings of alcohol
on a day were followed by higher odds of a headache the next day (Mostofsky 2020: OR 2.08), while
1-4 servings were not. The flag of day d is on when ``alcohol_drinks`` of day d is at least
``triggers.alcohol.min_drinks``; it raises the onset probability of day d+1.

The effect is the slope of ``1 + effect * susceptibility`` (mean susceptibility 0.55): the
default 2.0 gives a patient of mean susceptibility a ratio of 2.1 and the cohort about 1.9-2.0
(measured), near the published 2.08.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from abm.config.fields import Section, setting
from abm.model.component import RiskFactor, Values


@dataclass(frozen=True)
class AlcoholSettings(Section):
    """The alcohol trigger: a day of heavy drinking."""

    _path = "triggers.alcohol"
    enabled: bool = setting(True, source="on: Mostofsky 2020 (>= 5 drinks, OR 2.08)")
    min_drinks: int = setting(5, 1, 20, source="Mostofsky 2020: >= 5 servings; 1-4 showed no "
                              "effect")
    effect: float = setting(2.0, 0, 20, source="Mostofsky 2020: OR 2.08 the next day; 2.0 gives "
                            "a cohort risk ratio of about 1.9-2.0 (measured)")


class AlcoholTrigger(RiskFactor):
    """At least ``min_drinks`` alcoholic drinks on the day."""

    name = "alcohol_trigger"
    trigger = "alcohol"
    section = AlcoholSettings
    inputs = (("alcohol_drinks", 0),)
    meaning = "alcohol_drinks >= 5"
    source = "Mostofsky 2020: >= 5 drinks, OR 2.08 for a headache the next day"

    def flag(self, v: Values, config: Any) -> Any:
        return v["alcohol_drinks", 0] >= self.settings(config).min_drinks

    def effect(self, config: Any) -> float:
        return self.settings(config).effect
