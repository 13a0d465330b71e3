"""The slow states of a patient that multiply the baseline onset probability.

Three things change how often a patient's attacks come for months at a time, rather than for a
day: medication overuse (``feedback.overuse``: medication-overuse headache), a change between
episodic and chronic migraine (``feedback.chronification``), and a preventive treatment
(``interventions``). Each multiplies the patient's baseline onset probability from the day it
starts; :class:`BaselineState` logs the product of the multipliers of every day,
``state_multiplier`` (ground truth), so that ``p_onset`` stays recomputable from the logged
columns: ``p = min(cap, baseline x frequency_drift x state_multiplier x factors)``.

Before the run the column holds the preventive treatment (a setting, from its start day); the
patients' state machines (``abm.engine.states``) change it from the day a state changes, at
events: an attack that takes medication overuse over its threshold, the day the overuse would
end, the day a patient's accumulated risk of chronification crosses its pre-drawn threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from abm.engine.block import Block
from abm.model.attacks import STATE_COLUMN
from abm.model.component import Column, Component
from abm.model.feedback.overuse import overuse_on, prevalent
from abm.model.interventions import InterventionStreams

#: the engine-only patient array of who overuses from day 0
PREVALENT = "_prevalent_overuse"


def states_enabled(config: Any) -> bool:
    """Whether any slow state is switched on: medication overuse, chronification, a preventive
    treatment or a medication limit."""
    iv = config.interventions
    return (overuse_on(config) or config.feedback.chronification.enabled
            or iv.preventive_start_day >= 0 or iv.medication_limit_days > 0)


class BaselineState(Component):
    """The product of a patient's state multipliers of the baseline, day by day."""

    name = "baseline_state"
    kind = "feedback"
    columns = (Column(STATE_COLUMN, pl.Float32, "x", "ground truth: the product of the "
                      "patient's state multipliers of the baseline onset probability that day "
                      "(medication-overuse headache, a change between episodic and chronic "
                      "migraine, preventive treatment; 1 if none)", range=(0, 1000),
                      feature=False),)
    source = "interventions, feedback.overuse, feedback.chronification"

    def enabled(self, config: Any) -> bool:
        return states_enabled(config)

    def draw(self, block: Block) -> dict[str, np.ndarray]:
        config = block.config
        iv = config.interventions
        out = np.ones((block.count, block.days), dtype=np.float32)
        if iv.preventive_start_day >= 0:
            treated = block.uniform(InterventionStreams, "preventive") < iv.preventive_share
            out[treated, iv.preventive_start_day:] = iv.preventive_factor
        overusing = np.zeros(block.count, dtype=bool)
        if overuse_on(config):
            overusing = prevalent(config, block.patients)
            out[overusing] *= np.float32(config.feedback.overuse.baseline_factor)
        # engine-only: the patients who overuse from day 0 (``abm.engine.states``)
        return {STATE_COLUMN: out, PREVALENT: overusing}

