"""Chronification: episodic migraine turns chronic, and chronic migraine remits.

About 2.5% of people with episodic migraine have chronic migraine a year later (Bigal 2008). The
risk rises steeply with the frequency of attacks (Katsarava 2004: 5-9 headache days a month OR
6.2, 10-14 days OR 20.1, against 0-4) and with the use of opioids (Bigal 2008: OR 1.98; triptans
and NSAIDs not significant), and medication overuse adds to it. Chronic migraine remits too
(Serrano 2017: 73.4% of people chronic at baseline were episodic in at least one quarter), so a
population's chronic share stays about stable instead of only growing.

**As events.** Each patient has a hazard of changing state: episodic, ``low_frequency_annual_rate``
(as a daily rate) times the odds ratios of their target frequency, their usual medication and
overuse while it lasts; chronic, ``remission_annual_rate``. The hazard is constant between the
events that change it (overuse starting or ending), so the patient's state machine
(``abm.engine.states``) accumulates it and computes the day it will cross a pre-drawn threshold
(an exponential variate per change, from the patient's own stream): the patient wakes on that day
and changes state, with no check on the days between. At most ``MAX_CHANGES`` changes a run.

**What a change does.** The patient's baseline moves to the one calibrated for their *switched
target* (``switched_target_migraine_days_per_month``: a chronic frequency for an episodic patient,
a high episodic one for a chronic patient), as a multiplier in ``state_multiplier`` from the day of
the change; ``chronic_state`` marks the days the patient is chronic (ground truth). Calibration
gives each patient their target as if nothing changed: chronification is what the loop studies.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from abm.engine.block import Block
from abm.model.attacks import STATE_COLUMN
from abm.model.component import Column, Component
from abm.model.feedback.overuse import periods
from abm.model.feedback.settings import ChronificationFeedback
from abm.model.medication import CLASSES

#: the engine's record of each chronic period: ``cohort.state_log[COLUMN]``
COLUMN = "chronic_state"
SWITCHED = "switched_target_migraine_days_per_month"
#: the state changes a patient can make in one run (each has its own pre-drawn threshold;
#: assumption: at the default rates, a fifth change in a few years is rare)
MAX_CHANGES = 4
DAYS_PER_YEAR = 365.25


class Chronification(Component):
    """Episodic to chronic migraine and back, as events."""

    name = "chronification"
    kind = "feedback"
    section = ChronificationFeedback
    purposes = ("switched_target", *(f"change_{k}" for k in range(MAX_CHANGES)))
    columns = (
        Column(SWITCHED, pl.Float64, "days/30 days", "the monthly migraine days the patient's "
               "frequency moves to if they change state (chronic for an episodic patient, high "
               "episodic for a chronic one)", frame="patients"),
        Column(COLUMN, pl.Boolean, "", "ground truth: the patient has chronic migraine that "
               "day (chronic at the start, or chronified, until a remission)", feature=False),
    )
    source = "Bigal 2008 (2.5% a year; opioids), Katsarava 2004 (frequency), Serrano 2017"
    state_edges = (("medication_overuse", COLUMN, 0), (COLUMN, STATE_COLUMN, 0))

    def draw(self, block: Block) -> dict[str, np.ndarray]:
        s = self.settings(block.config)
        u = block.uniform(self, "switched_target")
        chronic = block.patients["is_chronic"]
        lo, hi = np.where(chronic[:, None], s.remission_days_per_month, s.chronic_days_per_month).T
        out = {SWITCHED: lo + u * (hi - lo),
               COLUMN: np.repeat(chronic[:, None], block.days, axis=1)}
        for k in range(MAX_CHANGES):  # engine-only: the thresholds of the state changes
            out[f"_change_threshold_{k}"] = -np.log1p(-block.uniform(self, f"change_{k}"))
        return out

    def after_run(self, block: Block, onsets: np.ndarray) -> dict[str, np.ndarray]:
        changed = periods(block.states.get(COLUMN, []), block.count, block.days)
        return {COLUMN: block.patients["is_chronic"][:, None] ^ changed}


def daily_rates(config: Any, target_days: np.ndarray, medication_class: np.ndarray | None
                ) -> tuple[np.ndarray, float, float]:
    """Per patient, the daily hazard of chronification of an episodic patient without overuse;
    the multiplier of overuse; the daily hazard of remission."""
    s = config.feedback.chronification
    odds = np.ones(target_days.shape)
    for days, ratio in zip(s.frequency_days, s.frequency_odds_ratios, strict=True):
        odds = np.where(target_days >= days, ratio, odds)
    if medication_class is not None:
        odds = odds * np.where(medication_class == CLASSES.index("opioid"), s.opioid_odds_ratio,
                               1.0)
    to_daily = -np.log1p(-s.low_frequency_annual_rate) / DAYS_PER_YEAR
    remission = -np.log1p(-s.remission_annual_rate) / DAYS_PER_YEAR
    return odds * to_daily, float(s.overuse_odds_ratio), float(remission)
