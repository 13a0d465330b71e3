"""The caffeine-withdrawal trigger: a day with much less caffeine than the week before.

Caffeine-withdrawal headache follows the abrupt cessation or reduction of regular caffeine use
(ICHD-3 8.3.1), and in a diary study of 98 adults with episodic migraine a drop in caffeine
raised the next day's headache risk (Holsteen 2020 reports the direction without a size usable
here). The patient's habit must be recomputable from logged columns, so it is the mean of the
previous ``WINDOW_DAYS`` (7) days' ``caffeine_servings`` (the window is an assumption); the flag
of day d is on when that day's servings are at least ``triggers.caffeine_withdrawal.drop_servings``
(2) below it, and off on the first 7 days. In whole numbers, so that every recomputation agrees:
``7 * servings_d <= (servings of days d-1 ... d-7) - 7 * drop``.

The effect is an assumption kept moderate: 0.75 gives a patient of mean susceptibility (0.55) a
ratio of 1.41 and the cohort about 1.3 (measured: 1.31 with 3000 patients; the cohort's ratio is
lower than a typical patient's, as for every trigger, since calibration gives the more
susceptible lower baselines).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from abm.config.fields import Section, setting
from abm.model.component import RiskFactor, Values

#: the days whose mean is the habit (assumption)
WINDOW_DAYS = 7


@dataclass(frozen=True)
class CaffeineWithdrawalSettings(Section):
    """The caffeine-withdrawal trigger: servings well below the past week's mean."""

    _path = "triggers.caffeine_withdrawal"
    enabled: bool = setting(True, source="on: ICHD-3 8.3.1 (withdrawal after regular use); "
                            "Holsteen 2020 (a drop raises next-day risk)")
    drop_servings: int = setting(2, 1, 20, source="assumption: 2 servings below the mean of the "
                                 "previous 7 days")
    effect: float = setting(0.75, 0, 20, source="assumption: Holsteen 2020 gives no usable size; "
                            "0.75 gives a cohort risk ratio of about 1.3 (measured)")


class CaffeineWithdrawalTrigger(RiskFactor):
    """``caffeine_servings`` at least ``drop_servings`` below the mean of the previous 7 days."""

    name = "caffeine_withdrawal_trigger"
    trigger = "caffeine_withdrawal"
    section = CaffeineWithdrawalSettings
    inputs = (("caffeine_servings", 0),) + tuple(
        ("caffeine_servings", lag) for lag in range(1, WINDOW_DAYS + 1))
    meaning = ("caffeine_servings >= 2 below the mean of the previous 7 days' (off on the first "
               "7 days)")
    source = ("ICHD-3 8.3.1 (caffeine withdrawal); Holsteen 2020 (a drop raises next-day risk); "
              "size: assumption")

    def flag(self, v: Values, config: Any) -> Any:
        drop = self.settings(config).drop_servings
        week = sum(v["caffeine_servings", lag] for lag in range(1, WINDOW_DAYS + 1))
        return WINDOW_DAYS * v["caffeine_servings", 0] <= week - WINDOW_DAYS * drop
