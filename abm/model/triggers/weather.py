"""The weather trigger: pressure_change_24h <= -5, with a larger effect from -10."""

from __future__ import annotations

from typing import Any

from abm.model.component import Values, exposure_level
from abm.model.triggers.seed import SeedTrigger


class WeatherTrigger(SeedTrigger):
    """A 24 h pressure drop of at least ``triggers.pressure_drop_hpa`` (level 1), or of at least
    ``triggers.large_pressure_drop_hpa`` (level 2, a larger effect)."""

    name = "weather_trigger"
    trigger = "weather"
    inputs = (("pressure_change_24h", 0),)
    doses = (0.8, 1.6)
    meaning = "pressure_change_24h <= -5 (a drop of 10 hPa or more: a larger effect)"
    source = "seed: a drop of 5 hPa or more in 24 h; Kimoto 2011: 64% of patients sensitive"

    def flag(self, v: Values, config: Any) -> Any:
        rules = self.settings(config)
        return exposure_level(-v["pressure_change_24h", 0], rules.pressure_drop_hpa,
                              rules.large_pressure_drop_hpa)

    def parameters(self, config: Any) -> dict[str, Any]:
        rules = self.settings(config)
        return {"pressure_drop_hpa": rules.pressure_drop_hpa,
                "large_pressure_drop_hpa": rules.large_pressure_drop_hpa,
                "doses": list(rules.weather_doses),
                "responder_share": rules.weather_responder_share,
                "effect": rules.weather_effect}
