"""Post-attack sleep: the night after an attack starts is a little longer."""

from __future__ import annotations

from typing import Any

from abm.engine.block import Block
from abm.model.component import FeedbackRule, PlannedEdit
from abm.model.feedback.settings import SleepFeedback

#: what an attack starting on day t edits: the night that starts on the evening of day t
EDIT = ("total_sleep_hours", 0)


class SleepAfterAttack(FeedbackRule):
    """Lengthen the night that starts on the onset day by ``feedback.sleep.extra_hours``."""

    name = "sleep_after_attack"
    section = SleepFeedback
    inputs = (("migraine_onset", 0),)
    source = "Vgontzas 2020: +7.3 min (1.5-13.0) the night after an attack"

    def edits_declared(self, config: Any) -> tuple[tuple[str, int], ...]:
        return (EDIT,)

    def planned(self, block: Block) -> list[PlannedEdit]:
        return [PlannedEdit(*EDIT, self.settings(block.config).extra_hours)]
