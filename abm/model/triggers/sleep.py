"""The sleep trigger: total_sleep_hours < 5 or > 9."""

from __future__ import annotations

from typing import Any

from abm.model.component import Values
from abm.model.triggers.seed import SeedTrigger


class SleepTrigger(SeedTrigger):
    """A night shorter than ``triggers.short_sleep_hours`` or longer than
    ``triggers.long_sleep_hours``."""

    name = "sleep_trigger"
    trigger = "sleep"
    inputs = (("total_sleep_hours", 0),)
    meaning = "total_sleep_hours < 5 or > 9"
    source = "seed: a night under 5 h or over 9 h"

    def flag(self, v: Values, config: Any) -> Any:
        rules = self.settings(config)
        return (v["total_sleep_hours", 0] < rules.short_sleep_hours) | (
            v["total_sleep_hours", 0] > rules.long_sleep_hours)

    def parameters(self, config: Any) -> dict[str, Any]:
        rules = self.settings(config)
        return {"short_sleep_hours": rules.short_sleep_hours,
                "long_sleep_hours": rules.long_sleep_hours,
                "responder_share": rules.sleep_responder_share, "effect": rules.sleep_effect}
