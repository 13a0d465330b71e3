"""The weather trigger: pressure_change_24h <= -5."""

from __future__ import annotations

from typing import Any

from abm.model.component import Values
from abm.model.triggers.seed import SeedTrigger


class WeatherTrigger(SeedTrigger):
    """A 24 h pressure drop of at least ``triggers.pressure_drop_hpa``."""

    name = "weather_trigger"
    trigger = "weather"
    inputs = (("pressure_change_24h", 0),)
    meaning = "pressure_change_24h <= -5"
    source = "seed: a drop of 5 hPa or more in 24 h"

    def flag(self, v: Values, config: Any) -> Any:
        rules = self.settings(config)
        return v["pressure_change_24h", 0] <= -rules.pressure_drop_hpa

    def parameters(self, config: Any) -> dict[str, Any]:
        rules = self.settings(config)
        return {"pressure_drop_hpa": rules.pressure_drop_hpa, "effect": rules.weather_effect}
