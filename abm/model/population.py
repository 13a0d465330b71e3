"""Who the patients are: demographics, migraine type and target frequency.

Each attribute comes from a random stream of its own (``abm.engine.streams``), so a patient's
profile depends on no other patient and on no order of generation. The cohort is the user's
design: a clinic-like cohort with 15% chronic patients (targets U(15, 25) migraine days a month)
and episodic ones at U(1, 14).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from abm.config.fields import Section, setting
from abm.engine.block import Block
from abm.model.component import Column, Component


@dataclass(frozen=True)
class PopulationSettings(Section):
    """Who the patients are: cohort size, chronic and aura shares, sex, age, migraine
    frequency, trigger susceptibility."""

    _path = "population"
    num_patients: int = setting(1000, 1, 10_000_000_000, source="seed: 1000 patients")
    num_locations: int = setting(20, 1, 100_000, source="seed: up to 20 weather patterns")
    chronic_ratio: float = setting(0.15, 0, 1, source="seed: 15% chronic (a clinic-like cohort; "
                                   "population studies give 7-9%, Buse 2012, Adams 2015)")
    aura_ratio: float = setting(0.30, 0, 1, source="seed: 30% with aura (Le 2012: about 33%)")
    female_ratio: float = setting(0.70, 0, 1, source="seed: 70% female (AMPP: 80%, Buse 2020)")
    age_years: tuple = setting((18, 64), 0, 120, source="seed: randint(18, 65)")
    chronic_days_per_month: tuple = setting((15.0, 25.0), 15, 30, source="seed: U(15, 25)")
    episodic_days_per_month: tuple = setting((1.0, 14.0), 0, 15, hi_open=True, source="seed: U(1, "
                                             "14)")
    susceptibility: tuple = setting((0.1, 1.0), 0, 1, source="seed: U(0.1, 1.0) for each trigger")


class Population(Component):
    """The patients' profiles: the first component of every model."""

    name = "population"
    section = PopulationSettings
    purposes = ("location", "age", "sex", "chronic", "aura", "target_days")
    columns = (
        Column("age", pl.Int16, "years", "age at the start", frame="patients"),
        Column("sex", pl.String, "", "F or M", frame="patients"),
        Column("is_chronic", pl.Boolean, "", "label: chronic migraine (target ≥ 15 days a month)",
               frame="patients"),
        Column("with_aura", pl.Boolean, "", "has attacks with aura", frame="patients"),
        Column("target_migraine_days_per_month", pl.Float64, "days/30 days",
               "calibration target", frame="patients"),
    )
    source = "seed: the user's design document"

    def draw(self, block: Block) -> dict[str, np.ndarray]:
        pop = self.settings(block.config)
        n_loc = pop.num_locations
        location = np.minimum((block.uniform(self, "location") * n_loc).astype(np.int32),
                              n_loc - 1)
        age_lo, age_hi = pop.age_years
        age = np.minimum(age_lo + (block.uniform(self, "age") * (age_hi - age_lo + 1))
                         .astype(np.int64), age_hi)
        chronic = block.uniform(self, "chronic") < pop.chronic_ratio
        u_target = block.uniform(self, "target_days")
        target = np.where(chronic, _between(u_target, pop.chronic_days_per_month),
                          _between(u_target, pop.episodic_days_per_month))
        female = block.uniform(self, "sex") < pop.female_ratio
        return {
            "location": location,
            "female": female,
            "age": age.astype(np.int16),
            "sex": np.where(female, "F", "M"),
            "is_chronic": chronic,
            "with_aura": block.uniform(self, "aura") < pop.aura_ratio,
            "target_migraine_days_per_month": target,
        }

    def parameters(self, config: Any) -> dict[str, Any]:
        return {}


def _between(u: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    lo, hi = bounds
    return lo + u * (hi - lo)
