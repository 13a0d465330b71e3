"""The stress trigger: stress_level minus the previous day's >= 3."""

from __future__ import annotations

from typing import Any

from abm.model.component import Values, exposure_level
from abm.model.triggers.seed import SeedTrigger


class StressTrigger(SeedTrigger):
    """A rise of at least ``triggers.stress_rise_points`` from the previous day (level 1), or
    of at least ``triggers.large_stress_rise_points`` (level 2, a larger effect); off on the
    first day, which has no previous day."""

    name = "stress_trigger"
    trigger = "stress"
    inputs = (("stress_level", 0), ("stress_level", 1))
    doses = (0.8, 1.6)
    meaning = "stress_level minus the previous day's >= 3 (5 or more: a larger effect)"
    source = "seed: a sudden rise of 3-5 points"

    def flag(self, v: Values, config: Any) -> Any:
        rules = self.settings(config)
        return exposure_level(v["stress_level", 0] - v["stress_level", 1],
                              rules.stress_rise_points, rules.large_stress_rise_points)

    def parameters(self, config: Any) -> dict[str, Any]:
        rules = self.settings(config)
        return {"stress_rise_points": rules.stress_rise_points,
                "large_stress_rise_points": rules.large_stress_rise_points,
                "doses": list(rules.stress_doses),
                "responder_share": rules.stress_responder_share,
                "effect": rules.stress_effect}
