"""Daily stress on the integer 1-10 scale of a diary app.

A patient's baseline (seed: U(2, 5)) plus a weekday pattern (higher on weekdays), an autocorrelated
daily deviation, and occasional spikes of +3 to +5 points, rounded to whole points. Whole points
make the stress trigger (a rise of >= 3 points from the previous day) exact for anyone who
recomputes it. The level is kept as a latent value and rounded when logged, so couplings and
feedback edits (the stress after an attack) add to it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from abm.config.fields import Section, setting
from abm.engine.block import Block
from abm.model.component import Column, Component, LogEntry
from abm.model.processes import ar1

MIN_LEVEL, MAX_LEVEL = 1, 10
#: how far outside the scale a latent level may lie: less than half a point, so that it still
#: rounds to the scale's end and whole-point edits move the logged level by whole points
LATENT_MARGIN = 0.49


@dataclass(frozen=True)
class StressSettings(Section):
    """Daily stress on a 1-10 scale: personal baseline, weekday rhythm, spikes."""

    _path = "stress"
    baseline: tuple = setting((2.0, 5.0), 1, 10, source="seed: U(2, 5) per patient")
    weekday_extra: float = setting(1.0, -5, 5, source="seed: U(0, 2) on weekdays")
    weekend_extra: float = setting(-0.25, -5, 5, source="seed: U(-1, 0.5) at weekends")
    daily_sd: float = setting(0.8, 0, 5, source="assumption: day-to-day SD of the latent level")
    persistence: float = setting(0.5, 0, 0.95, source="seed: autocorrelated (0.3 weight)")
    spike_probability: float = setting(0.05, 0, 1, source="seed: 10% spikes; halved because "
                                       "spikes here persist through the autocorrelation")
    spike_points: tuple = setting((3, 5), 1, 9, source="seed: spikes of +3 to +5 points")


def round_level(latent: Any) -> Any:
    """The logged level: whole points within 1-10 (arrays, or one number on an edit's hot path,
    where plain Python is ten times faster than NumPy's scalar functions)."""
    if isinstance(latent, np.ndarray):
        return np.clip(np.round(latent), MIN_LEVEL, MAX_LEVEL)
    return min(MAX_LEVEL, max(MIN_LEVEL, round(latent)))


class Stress(Component):
    """The day's stress level."""

    name = "stress"
    section = StressSettings
    purposes = ("baseline", "daily", "spike", "spike_points")
    columns = (
        Column("stress_level", pl.Int8, "1-10", "self-reported daily stress, whole points",
               finalize=round_level, range=(MIN_LEVEL, MAX_LEVEL)),
    )
    logs = (LogEntry("stress_log", 20, "stress_level", "stress_level"),)
    seed_file = "stress_diet_data.csv"
    source = "seed: baseline U(2, 5), weekday pattern, spikes of +3 to +5 points"

    def draw(self, block: Block) -> dict[str, np.ndarray]:
        s = self.settings(block.config)
        baseline = block.between(self, "baseline", s.baseline)[:, None]
        week = np.where(block.calendar.is_weekend_day, s.weekend_extra, s.weekday_extra)
        latent = baseline + week + s.daily_sd * ar1(block.normal(self, "daily", daily=True),
                                                    s.persistence)
        spike_lo, spike_hi = s.spike_points
        size = spike_lo + np.floor(block.uniform(self, "spike_points", daily=True)
                                   * (spike_hi - spike_lo + 1))
        spike = np.where(block.uniform(self, "spike", daily=True) < s.spike_probability, size, 0.0)
        # Whole spike points: rounding the sum is the rounded level plus the spike. A level
        # beyond the scale counts as its end (kept just inside the rounding range), so an edit of
        # +1 point on a day at the floor logs one point more, as a diary would.
        return {"stress_level": np.clip(latent + spike, MIN_LEVEL - LATENT_MARGIN,
                                        MAX_LEVEL + LATENT_MARGIN)}
