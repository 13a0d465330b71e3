"""What the user's four seed triggers share: the ``triggers`` section and the validated effect.

Each seed trigger multiplies the next day's onset probability by
``1 + effect * dose * susceptibility`` with ``triggers.<name>_effect`` (0.32 by default, 0.44
for stress: see its source), which gives the cohort-level risk ratio of 1.15-1.20 that the
user's design asks for ("15-20%"); validation checks exactly that. The doses of a larger
exposure and the patients a trigger does not affect (``triggers.<name>_responder_share``) leave
that cohort-level ratio where it is: the mean dose of trigger days and the cohort's mean
susceptibility are kept.
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

    def dose_weights(self, config: Any) -> tuple[float, ...]:
        return tuple(getattr(self.settings(config), f"{self.trigger}_doses", self.doses))

    def responder_share(self, config: Any) -> float:
        return float(getattr(self.settings(config), f"{self.trigger}_responder_share"))

    @property
    def effect_setting(self) -> str:
        return f"triggers.{self.trigger}_effect"

    def target_risk_ratio(self, config: Any
                          ) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """The design's 15-20%, while the trigger's effect is the design's."""
        default = getattr(type(self.settings(config))(), f"{self.trigger}_effect")
        return SEED_RISK_RATIO if self.effect(config) == default else None
