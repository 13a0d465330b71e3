"""The sleep-efficiency trigger: a night of low diary sleep efficiency (off by default).

In a diary and actigraphy study of 98 adults with episodic migraine, nights of low sleep
efficiency were followed by higher odds of a headache on the next day (Bertisch 2020: OR 1.39 on
day 1). The flag of day d is on when the night logged on day d (it starts that evening) has
``sleep_efficiency`` below ``triggers.sleep_efficiency.threshold`` (0.80: assumption, a common
cut-off for poor efficiency); it raises the onset probability of day d+1.

It is switched off by default (``enabled = false``) so that the default model keeps its
validated triggers; the ``evidence`` preset switches it on. The effect 0.3 gives a cohort odds
ratio near the published 1.39: nights of low efficiency often follow drinks, whose own trigger
adds to the ratio measured on the flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from abm.config.fields import Section, setting
from abm.model.component import RiskFactor, Values


@dataclass(frozen=True)
class SleepEfficiencySettings(Section):
    """The sleep-efficiency trigger: a night of low efficiency (off by default)."""

    _path = "triggers.sleep_efficiency"
    enabled: bool = setting(False, source="off by default: for configurations that follow the "
                            "literature (Bertisch 2020)")
    threshold: float = setting(0.80, 0, 1, source="assumption: efficiency below 0.80, a common "
                               "cut-off for poor sleep efficiency")
    effect: float = setting(0.3, 0, 20, source="Bertisch 2020: OR 1.39 (1.06-1.81) on the next "
                            "day for low efficiency; 0.3 gives a cohort odds ratio of about "
                            "1.4 (low nights come with drinks, whose own trigger adds to it)")


class SleepEfficiencyTrigger(RiskFactor):
    """``sleep_efficiency`` below ``threshold``."""

    name = "sleep_efficiency_trigger"
    literature_odds_ratio = (1.06, 1.81)
    literature_source = "Bertisch 2020: OR 1.39"
    trigger = "sleep_efficiency"
    section = SleepEfficiencySettings
    inputs = (("sleep_efficiency", 0),)
    meaning = "sleep_efficiency < 0.80 (off by default)"
    source = "Bertisch 2020: low diary sleep efficiency, OR 1.39 the next day"

    def flag(self, v: Values, config: Any) -> Any:
        return v["sleep_efficiency", 0] < self.settings(config).threshold
