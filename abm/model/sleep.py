"""Nightly sleep (SPEC §3): the night that starts on the evening of a date is logged as that date.

Total sleep is a patient's habitual duration plus an autocorrelated nightly deviation, longer on
Friday and Saturday nights (Scott 2025: +20-35 min), with occasional disrupted nights that are
either short (3-5 h) or long (9-11 h). Stages split the time asleep; awake time is lognormal;
quality (0-100) falls with less deep and REM sleep, with wakefulness and with an unusual duration.
Values are rounded as a wearable would report them; the sleep trigger is computed from these
rounded values only (``abm.model.triggers``).
"""

from __future__ import annotations

import numpy as np

from abm.config.settings import Config
from abm.engine.calendar import Calendar
from abm.engine.draws import Draws, U, Z
from abm.model.population import habitual_sleep_hours

MIN_HOURS, MAX_HOURS = 2.0, 14.0


def ar1(shocks: np.ndarray, persistence: float) -> np.ndarray:
    """Stationary AR(1) along the last axis with unit-variance ``shocks`` (keeps their SD)."""
    out = np.empty_like(shocks)
    scale = np.sqrt(1 - persistence * persistence)
    state = shocks[..., 0]
    out[..., 0] = state
    for d in range(1, shocks.shape[-1]):
        state = persistence * state + scale * shocks[..., d]
        out[..., d] = state
    return out


def round_hours(hours: np.ndarray) -> np.ndarray:
    """Sleep hours as logged: two decimals, within [2, 14]."""
    return np.round(np.clip(hours, MIN_HOURS, MAX_HOURS), 2)


def make_sleep(config: Config, draws: Draws, calendar: Calendar) -> dict[str, np.ndarray]:
    """Sleep columns ``(n, days)`` of a block of patients."""
    s = config.sleep
    habitual = habitual_sleep_hours(config, draws)[:, None]
    deviation = s.nightly_sd_hours * ar1(draws.z(Z.SLEEP), s.persistence)
    hours = habitual + deviation + s.weekend_extra_hours * calendar.is_weekend_night
    disrupted = draws.u(U.SLEEP_DISRUPTION) < s.disruption_probability
    v = draws.u(U.SLEEP_DISRUPTION_HOURS)
    short_lo, short_hi = s.short_night_hours
    long_lo, long_hi = s.long_night_hours
    short = short_lo + 2 * v * (short_hi - short_lo)
    long_ = long_lo + (2 * v - 1) * (long_hi - long_lo)
    hours = np.where(disrupted, np.where(v < 0.5, short, long_), hours)
    hours = round_hours(hours)

    deep = np.round(np.clip(s.deep_fraction + 0.04 * draws.z(Z.DEEP_SLEEP), 0.05, 0.40), 3)
    rem = np.round(np.clip(s.rem_fraction + 0.04 * draws.z(Z.REM_SLEEP), 0.05, 0.40), 3)
    light = 1.0 - deep - rem
    awake = np.round(np.clip(s.awake_median_minutes * np.exp(0.5 * draws.z(Z.AWAKE)), 1, 240), 1)
    quality = (75 + 150 * (deep - s.deep_fraction) + 100 * (rem - s.rem_fraction)
               - 0.4 * (awake - s.awake_median_minutes) - 8 * np.abs(hours - 7.5))
    quality = np.round(np.clip(quality, 0, 100), 1)
    return {
        "total_sleep_hours": hours,
        "deep_sleep_pct": deep,
        "rem_sleep_pct": rem,
        "light_sleep_pct": light,
        "awake_time_mins": awake,
        "sleep_quality": quality,
    }
