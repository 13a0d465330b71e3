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
from abm.errors import ConfigError
from abm.model.component import Column, Component

#: targets (migraine days a month) within AMPP's episodic bins 0-3, 4-7 and 8-14, kept away
#: from the bins' edges so that chance in the realized frequency carries few patients across
#: them (at 180 days a target of 3 days a month realizes 4 or more for about 1 patient in 8)
BIN_TARGETS = ((0.3, 2.4), (4.9, 6.6), (8.9, 13.2))


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
    preset: str = setting("clinic", choices=("clinic", "population", "evidence"),
                          source="seed: the user's clinic-like cohort; 'population' is AMPP "
                          "(Buse 2020), 'evidence' adds the literature's risk factors")
    age_years: tuple = setting((18, 64), 0, 120, source="seed: randint(18, 65)")
    age_distribution: str = setting("uniform", choices=("uniform", "normal"), source="seed: "
                                    "uniform over age_years; 'normal': age_mean_years, "
                                    "age_sd_years, kept within age_years")
    age_mean_years: float = setting(46.0, 0, 120, source="Buse 2020 (AMPP): mean 46 (used by "
                                    "age_distribution = normal)")
    age_sd_years: float = setting(13.7, 0, 100, source="Buse 2020 (AMPP): SD 13.7")
    chronic_days_per_month: tuple = setting((15.0, 25.0), 15, 30, source="seed: U(15, 25)")
    episodic_days_per_month: tuple = setting((1.0, 14.0), 0, 15, hi_open=True, source="seed: U(1, "
                                             "14)")
    episodic_frequency: str = setting("uniform", choices=("uniform", "bins"), source="seed: "
                                      "uniform over episodic_days_per_month; 'bins': AMPP's "
                                      "bins of monthly migraine days (episodic_bin_shares)")
    episodic_bin_shares: tuple = setting((0.677, 0.177, 0.078), 0, 1, source="Buse 2020 "
                                         "(AMPP): 0-3 days 67.7%, 4-7 17.7%, 8-14 7.8% (the "
                                         "rest, 6.8%, chronic); divided by their sum")
    susceptibility: tuple = setting((0.1, 1.0), 0, 1, source="seed: U(0.1, 1.0) for each trigger")

    def _check(self) -> None:
        if sum(self.episodic_bin_shares) <= 0:
            raise ConfigError("population.episodic_bin_shares must not all be 0, got "
                              f"{list(self.episodic_bin_shares)}")


class Population(Component):
    """The patients' profiles: the first component of every model."""

    name = "population"
    section = PopulationSettings
    purposes = ("location", "age", "sex", "chronic", "aura", "target_days", "age_normal",
                "frequency_bin")
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
        if pop.age_distribution == "normal":
            age = np.clip(np.round(pop.age_mean_years + pop.age_sd_years
                                   * block.normal(self, "age_normal")), age_lo, age_hi
                          ).astype(np.int64)
        else:
            age = np.minimum(age_lo + (block.uniform(self, "age") * (age_hi - age_lo + 1))
                             .astype(np.int64), age_hi)
        chronic = block.uniform(self, "chronic") < pop.chronic_ratio
        u_target = block.uniform(self, "target_days")
        if pop.episodic_frequency == "bins":
            shares = np.asarray(pop.episodic_bin_shares) / sum(pop.episodic_bin_shares)
            which = np.searchsorted(np.cumsum(shares), block.uniform(self, "frequency_bin"),
                                    side="right").clip(0, len(BIN_TARGETS) - 1)
            lows, highs = (np.array(side)[which] for side in zip(*BIN_TARGETS, strict=True))
            episodic = lows + u_target * (highs - lows)
        else:
            episodic = _between(u_target, pop.episodic_days_per_month)
        target = np.where(chronic, _between(u_target, pop.chronic_days_per_month), episodic)
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
