"""The fixed layout of each patient's random numbers, drawn in blocks.

Every patient draws, from its own stream (``abm.engine.rng``), in this order and always in these
shapes:

1. ``PROFILE_UNIFORMS`` uniforms and ``PROFILE_NORMALS`` standard normals (who the patient is);
2. a ``(len(U), days)`` block of uniforms and a ``(len(Z), days)`` block of standard normals, one
   column per day, one row per purpose (:class:`U`, :class:`Z`).

The layout never depends on configuration values, so two configurations with the same seed draw
the same numbers for the same purpose (common random numbers), and every transformation of draws
into values lives in the module of its modality. New purposes are appended, never inserted.
Drawing whole blocks is what keeps the per-patient-day Python work near zero (DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from abm.engine.rng import patient_stream

PROFILE_UNIFORMS = 24
PROFILE_NORMALS = 8


class PU(IntEnum):
    """Profile uniforms."""

    LOCATION = 0
    AGE = 1
    SEX = 2
    CHRONIC = 3
    AURA = 4
    TARGET_DAYS = 5
    SUSCEPTIBILITY_WEATHER = 6
    SUSCEPTIBILITY_SLEEP = 7
    SUSCEPTIBILITY_STRESS = 8
    SUSCEPTIBILITY_DIET = 9
    OFFSET_TEMPERATURE = 10
    OFFSET_HUMIDITY = 11
    OFFSET_PRESSURE = 12
    STRESS_BASELINE = 13
    ALCOHOL = 14
    CAFFEINE = 15
    CHOCOLATE = 16
    PROCESSED_FOOD = 17
    WATER = 18


class PZ(IntEnum):
    """Profile normals."""

    SLEEP_MEAN = 0


class U(IntEnum):
    """Daily uniform rows."""

    SLEEP_DISRUPTION = 0
    SLEEP_DISRUPTION_HOURS = 1
    STRESS_SPIKE = 2
    STRESS_SPIKE_POINTS = 3
    ALCOHOL = 4
    CAFFEINE = 5
    CHOCOLATE = 6
    PROCESSED_FOOD = 7
    ONSET = 8
    ONSET_HOUR = 9
    AURA = 10
    FEEDBACK_STRESS = 11


class Z(IntEnum):
    """Daily normal rows."""

    SLEEP = 0
    DEEP_SLEEP = 1
    REM_SLEEP = 2
    AWAKE = 3
    STRESS = 4
    WATER = 5
    DURATION = 6
    ONSET_HOUR = 7
    SEVERITY = 8


@dataclass
class Draws:
    """The draws of patients ``first … first + n - 1``; arrays have the patient as first axis."""

    first: int
    profile_u: np.ndarray  # (n, PROFILE_UNIFORMS)
    profile_z: np.ndarray  # (n, PROFILE_NORMALS)
    daily_u: np.ndarray    # (n, len(U), days)
    daily_z: np.ndarray    # (n, len(Z), days)

    def u(self, row: U) -> np.ndarray:
        """The ``(n, days)`` uniforms of one purpose."""
        return self.daily_u[:, row, :]

    def z(self, row: Z) -> np.ndarray:
        """The ``(n, days)`` normals of one purpose."""
        return self.daily_z[:, row, :]


def draw_patients(seed: int, first: int, count: int, days: int) -> Draws:
    """Draw the blocks of ``count`` patients starting at index ``first``."""
    profile_u = np.empty((count, PROFILE_UNIFORMS))
    profile_z = np.empty((count, PROFILE_NORMALS))
    daily_u = np.empty((count, len(U), days))
    daily_z = np.empty((count, len(Z), days))
    for k in range(count):
        gen = patient_stream(seed, first + k)
        gen.random(out=profile_u[k])
        gen.standard_normal(out=profile_z[k])
        gen.random(out=daily_u[k])
        gen.standard_normal(out=daily_z[k])
    return Draws(first, profile_u, profile_z, daily_u, daily_z)
