"""The diet trigger: >= 2 of alcohol, caffeine, chocolate."""

from __future__ import annotations

from typing import Any

from abm.model.component import Values
from abm.model.diet import DIET_ITEMS
from abm.model.triggers.seed import SeedTrigger


class DietTrigger(SeedTrigger):
    """At least ``triggers.diet_min_items`` of alcohol, caffeine and chocolate on the day."""

    name = "diet_trigger"
    trigger = "diet"
    inputs = tuple((item, 0) for item in DIET_ITEMS)
    meaning = ">= 2 of alcohol, caffeine, chocolate"
    source = "seed: two or more of alcohol, caffeine, chocolate"

    def flag(self, v: Values, config: Any) -> Any:
        rules = self.settings(config)
        return sum(v[item, 0] for item in DIET_ITEMS) >= rules.diet_min_items

    def parameters(self, config: Any) -> dict[str, Any]:
        rules = self.settings(config)
        return {"diet_min_items": rules.diet_min_items,
                "responder_share": rules.diet_responder_share, "effect": rules.diet_effect}
