"""Who the patients are (SPEC §2): demographics, migraine type, target frequency, susceptibility.

Each attribute comes from one profile uniform of the patient's own stream (``abm.engine.draws.PU``),
so a patient's profile does not depend on any other patient or on the order of generation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from abm.config.settings import Config
from abm.engine.draws import PU, PZ, Draws

TRIGGERS = ("weather", "sleep", "stress", "diet")


@dataclass
class Profiles:
    """Per-patient attributes of a block of patients (arrays of length n)."""

    location: np.ndarray          # int32 location index
    age: np.ndarray               # int16 years
    female: np.ndarray            # bool
    chronic: np.ndarray           # bool, the label
    aura: np.ndarray              # bool, has attacks with aura
    target_days_per_month: np.ndarray  # float64, per 30 days
    susceptibility: np.ndarray    # (n, 4) float64 in TRIGGERS order
    offset_temperature_c: np.ndarray
    offset_humidity_pct: np.ndarray
    offset_pressure_hpa: np.ndarray


def _between(u: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    lo, hi = bounds
    return lo + u * (hi - lo)


def make_profiles(config: Config, draws: Draws) -> Profiles:
    """Turn profile draws into attributes."""
    pop = config.population
    wx = config.weather
    u = draws.profile_u
    location = np.minimum((u[:, PU.LOCATION] * pop.num_locations).astype(np.int32),
                          pop.num_locations - 1)
    age_lo, age_hi = pop.age_years
    age = np.minimum(age_lo + (u[:, PU.AGE] * (age_hi - age_lo + 1)).astype(np.int64), age_hi)
    chronic = u[:, PU.CHRONIC] < pop.chronic_ratio
    target = np.where(chronic, _between(u[:, PU.TARGET_DAYS], pop.chronic_days_per_month),
                      _between(u[:, PU.TARGET_DAYS], pop.episodic_days_per_month))
    first_susceptibility = PU.SUSCEPTIBILITY_WEATHER
    susceptibility = _between(u[:, first_susceptibility:first_susceptibility + 4],
                              pop.susceptibility)
    return Profiles(
        location=location,
        age=age.astype(np.int16),
        female=u[:, PU.SEX] < pop.female_ratio,
        chronic=chronic,
        aura=u[:, PU.AURA] < pop.aura_ratio,
        target_days_per_month=target,
        susceptibility=susceptibility,
        offset_temperature_c=(2 * u[:, PU.OFFSET_TEMPERATURE] - 1)
        * wx.patient_offset_temperature_c,
        offset_humidity_pct=(2 * u[:, PU.OFFSET_HUMIDITY] - 1) * wx.patient_offset_humidity_pct,
        offset_pressure_hpa=(2 * u[:, PU.OFFSET_PRESSURE] - 1) * wx.patient_offset_pressure_hpa,
    )


def habitual_sleep_hours(config: Config, draws: Draws) -> np.ndarray:
    """Each patient's habitual nightly sleep (hours)."""
    s = config.sleep
    return s.mean_hours + s.between_patient_sd_hours * draws.profile_z[:, PZ.SLEEP_MEAN]
