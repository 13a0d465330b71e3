"""The let-down trigger: stress falls by >= 3 points from one evening to the next.

Attacks are more likely on the days after stress eases than on days of high stress (the
"let-down" headache): in a diary study of 17 patients over 3 months, a decline of perceived
stress from one evening to the next raised the odds of an attack over the following 6-24 h
(Lipton 2014: OR 1.5-1.9 for the largest declines). The flag of day d is on when the stress of
day d-1 minus that of day d is at least ``triggers.letdown.decline_points``; as for every risk
factor, it raises the onset probability of day d+1.

The effect is the slope of ``1 + effect * susceptibility`` (mean susceptibility 0.55). The
default 1.0 gives a patient of mean susceptibility a multiplier of 1.55; the cohort's
Mantel-Haenszel odds ratio on the default run is about 1.8-1.9, within Lipton 2014's 1.5-1.9
(an odds ratio, which at a daily risk near 20% is well above the risk ratio, about 1.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from abm.config.fields import Section, setting
from abm.model.component import RiskFactor, Values


@dataclass(frozen=True)
class LetdownSettings(Section):
    """The let-down trigger: a decline of stress from one evening to the next."""

    _path = "triggers.letdown"
    enabled: bool = setting(True, source="on: Lipton 2014 (stress decline, OR 1.5-1.9)")
    decline_points: int = setting(3, 1, 9, source="assumption: 3 points of a 1-10 scale, as the "
                                  "seed's stress rise; Lipton 2014 measures the decline in "
                                  "quartiles of a different scale")
    effect: float = setting(1.0, 0, 20, source="Lipton 2014: OR 1.5-1.9 over the next 6-24 h; "
                            "1.0 gives a cohort odds ratio of about 1.8 (risk ratio about 1.5)")


class LetdownTrigger(RiskFactor):
    """The stress of the day before minus today's is at least ``decline_points`` (off on the
    first day)."""

    name = "letdown_trigger"
    trigger = "letdown"
    section = LetdownSettings
    inputs = (("stress_level", 0), ("stress_level", 1))
    meaning = "the previous day's stress_level minus today's >= 3 (stress eases)"
    source = "Lipton 2014: a decline of stress raises the next day's odds of an attack (1.5-1.9)"
    literature_odds_ratio = (1.4, 2.0)
    literature_source = "Lipton 2014: OR 1.5-1.9"

    def flag(self, v: Values, config: Any) -> Any:
        s = self.settings(config)
        return v["stress_level", 1] - v["stress_level", 0] >= s.decline_points
