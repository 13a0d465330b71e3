"""The stress loop: an attack raises the next day's stress."""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.engine.block import Block
from abm.model.component import FeedbackRule, PlannedEdit
from abm.model.feedback.settings import StressFeedback

#: what an attack starting on day t edits: the stress of day t + 1
EDIT = ("stress_level", 1)


class StressAfterAttack(FeedbackRule):
    """Raise the next day's stress by ``feedback.stress.points``: whole points drawn per day, so
    an attack on the same day in two variants raises stress by the same amount."""

    name = "stress_after_attack"
    section = StressFeedback
    purposes = ("points",)
    inputs = (("migraine_onset", 0),)
    source = "the user's design; no published size (Stubberud 2021), so kept small"

    def edits_declared(self, config: Any) -> tuple[tuple[str, int], ...]:
        return (EDIT,)

    def planned(self, block: Block) -> list[PlannedEdit]:
        lo, hi = self.settings(block.config).points
        u = block.uniform(self, "points", daily=True)
        points = lo + np.floor(u * (hi - lo + 1))
        return [PlannedEdit(*EDIT, points)]
