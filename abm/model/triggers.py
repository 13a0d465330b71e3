"""Trigger rules: pure functions of logged values (SPEC §3), and their codes.

Each rule reads only columns of the ``daily`` frame, so anyone can recompute a trigger from an
export. Comparisons are made in float64 on the stored values, as a user's ``pandas`` or ``polars``
expression would make them. The four triggers of a day are packed into a 4-bit code
(weather 1, sleep 2, stress 4, diet 8); the onset probability of day d is a function of the code of
day d-1 (``abm.engine.hazard``), and a feedback edit only has to recompute the code of the days it
touches.
"""

from __future__ import annotations

import numpy as np

from abm.config.settings import Triggers

NAMES = ("weather", "sleep", "stress", "diet")
WEATHER, SLEEP, STRESS, DIET = 1, 2, 4, 8
BITS = {"weather": WEATHER, "sleep": SLEEP, "stress": STRESS, "diet": DIET}
DIET_ITEMS = ("alcohol_consumed", "caffeine_consumed", "chocolate_consumed")


def weather_trigger(pressure_change_24h: np.ndarray, rules: Triggers) -> np.ndarray:
    """A 24 h pressure drop of at least ``pressure_drop_hpa``."""
    return np.asarray(pressure_change_24h, dtype=np.float64) <= -rules.pressure_drop_hpa


def sleep_trigger(total_sleep_hours: np.ndarray, rules: Triggers) -> np.ndarray:
    """A night shorter than ``short_sleep_hours`` or longer than ``long_sleep_hours``."""
    hours = np.asarray(total_sleep_hours, dtype=np.float64)
    return (hours < rules.short_sleep_hours) | (hours > rules.long_sleep_hours)


def stress_trigger(stress_level: np.ndarray, rules: Triggers) -> np.ndarray:
    """A rise of at least ``stress_rise_points`` from the previous day (false on the first day).

    ``stress_level`` has days on its last axis.
    """
    level = np.asarray(stress_level, dtype=np.int16)
    out = np.zeros(level.shape, dtype=bool)
    out[..., 1:] = (level[..., 1:] - level[..., :-1]) >= rules.stress_rise_points
    return out


def diet_trigger(alcohol: np.ndarray, caffeine: np.ndarray, chocolate: np.ndarray,
                 rules: Triggers) -> np.ndarray:
    """At least ``diet_min_items`` of alcohol, caffeine and chocolate on the day."""
    items = (np.asarray(alcohol, dtype=np.int8) + np.asarray(caffeine, dtype=np.int8)
             + np.asarray(chocolate, dtype=np.int8))
    return items >= rules.diet_min_items


def pack(weather: np.ndarray, sleep: np.ndarray, stress: np.ndarray,
         diet: np.ndarray) -> np.ndarray:
    """The 4-bit trigger code of each day (uint8)."""
    code = weather.astype(np.uint8)
    code |= sleep.astype(np.uint8) << 1
    code |= stress.astype(np.uint8) << 2
    code |= diet.astype(np.uint8) << 3
    return code


def stress_rise(previous_level: int, level: int, rules: Triggers) -> bool:
    """Scalar form of :func:`stress_trigger` for one day, used when feedback edits a day."""
    return level - previous_level >= rules.stress_rise_points


def sleep_disrupted(hours: float, rules: Triggers) -> bool:
    """Scalar form of :func:`sleep_trigger`."""
    return hours < rules.short_sleep_hours or hours > rules.long_sleep_hours


def codes(pressure_change_24h: np.ndarray, total_sleep_hours: np.ndarray,
          stress_level: np.ndarray, alcohol: np.ndarray, caffeine: np.ndarray,
          chocolate: np.ndarray, rules: Triggers) -> np.ndarray:
    """The trigger code of every day from the logged columns (days on the last axis)."""
    return pack(weather_trigger(pressure_change_24h, rules),
                sleep_trigger(total_sleep_hours, rules), stress_trigger(stress_level, rules),
                diet_trigger(alcohol, caffeine, chocolate, rules))
