"""What the user's four seed triggers share: the ``triggers`` section and the validated effect.

Each seed trigger multiplies the next day's onset probability by ``1 + effect * susceptibility``
with ``triggers.<name>_effect`` (0.32 by default, 0.44 for stress: see its source), which gives
the cohort-level risk ratio of
1.15-1.20 that the user's design asks for ("15-20%"); validation checks exactly that.
"""

from __future__ import annotations

from typing import Any

from abm.model.component import RiskFactor
from abm.model.triggers.settings import TriggersSettings

#: the next-day risk ratio a seed trigger must show: within 1.10-1.25, its 95% interval
#: overlapping the design's 1.15-1.20
SEED_RISK_RATIO = ((1.10, 1.25), (1.15, 1.20))


class SeedTrigger(RiskFactor):
    """A risk factor of the user's design, configured in the ``triggers`` section."""

    section = TriggersSettings

    def effect(self, config: Any) -> float:
        return getattr(self.settings(config), f"{self.trigger}_effect")

    @property
    def effect_setting(self) -> str:
        return f"triggers.{self.trigger}_effect"

    def target_risk_ratio(self, config: Any
                          ) -> tuple[tuple[float, float], tuple[float, float]] | None:
        return SEED_RISK_RATIO
