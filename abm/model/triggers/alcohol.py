"""The alcohol trigger: 5 or more alcoholic drinks in a day.

In a prospective diary study of 98 adults with episodic migraine, 5 or more servings of alcohol
on a day were followed by higher odds of a headache the next day (Mostofsky 2020: OR 2.08), while
1-4 servings were not. The flag of day d is on when ``alcohol_drinks`` of day d is at least
``triggers.alcohol.min_drinks``; it raises the onset probability of day d+1.

More drinks carry a larger effect: a day of 8 or more drinks has the dose 1.3, a day of 5-7
the dose 0.7 (``1 + effect * dose * susceptibility``). The default effect 1.1 gives the cohort
an odds ratio near the published 2.08 (a risk ratio near 1.65: absolute risk 20% -> 33%).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from abm.config.fields import Section, setting
from abm.model.component import RiskFactor, Values, exposure_level


@dataclass(frozen=True)
class AlcoholSettings(Section):
    """The alcohol trigger: a day of heavy drinking."""

    _path = "triggers.alcohol"
    enabled: bool = setting(True, source="on: Mostofsky 2020 (>= 5 drinks, OR 2.08)")
    min_drinks: int = setting(5, 1, 20, source="Mostofsky 2020: >= 5 servings; 1-4 showed no "
                              "effect")
    large_drinks: int = setting(8, 1, 20, source="assumption: a larger dose from 8 drinks "
                                "(below min_drinks every heavy day counts as large)")
    doses: tuple = setting((0.7, 1.3), 0, 20, source="assumption: 8 or more drinks have about "
                           "twice the effect of 5-7; the mean dose of trigger days stays about 1 "
                           "(half the days of 5 or more drinks have 8 or more)")
    effect: float = setting(1.1, 0, 20, source="Mostofsky 2020: OR 2.08 the next day (absolute "
                            "risk 20% -> 33%, a risk ratio of 1.65); 1.1 gives a cohort odds "
                            "ratio of about 2.1")


class AlcoholTrigger(RiskFactor):
    """At least ``min_drinks`` alcoholic drinks on the day."""

    name = "alcohol_trigger"
    trigger = "alcohol"
    section = AlcoholSettings
    inputs = (("alcohol_drinks", 0),)
    doses = (0.7, 1.3)
    meaning = "alcohol_drinks >= 5 (8 or more: a larger effect)"
    literature_odds_ratio = (1.16, 3.73)
    literature_source = "Mostofsky 2020: OR 2.08"
    source = "Mostofsky 2020: >= 5 drinks, OR 2.08 for a headache the next day"

    def flag(self, v: Values, config: Any) -> Any:
        s = self.settings(config)
        return exposure_level(v["alcohol_drinks", 0], s.min_drinks, s.large_drinks)
