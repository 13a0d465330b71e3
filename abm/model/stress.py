"""Daily stress on the integer 1-10 scale of a diary app (SPEC §3).

A patient's baseline (seed: U(2, 5)) plus a weekday pattern (higher on weekdays), an autocorrelated
daily deviation, and occasional spikes of +3 to +5 points, rounded to whole points. Whole points
make the stress trigger (a rise of >= 3 points from the previous day) exact for anyone who
recomputes it. The stress feedback rule (``abm.model.feedback``) raises individual future days
during the run.
"""

from __future__ import annotations

import numpy as np

from abm.config.settings import Config
from abm.engine.calendar import Calendar
from abm.engine.draws import PU, Draws, U, Z
from abm.model.sleep import ar1

MIN_LEVEL, MAX_LEVEL = 1, 10


def make_stress(config: Config, draws: Draws, calendar: Calendar) -> np.ndarray:
    """``stress_level`` ``(n, days)`` as int8 in 1-10."""
    s = config.stress
    lo, hi = s.baseline
    baseline = (lo + draws.profile_u[:, PU.STRESS_BASELINE] * (hi - lo))[:, None]
    week = np.where(calendar.is_weekend_day, s.weekend_extra, s.weekday_extra)
    latent = baseline + week + s.daily_sd * ar1(draws.z(Z.STRESS), s.persistence)
    spike_lo, spike_hi = s.spike_points
    size = spike_lo + np.floor(draws.u(U.STRESS_SPIKE_POINTS) * (spike_hi - spike_lo + 1))
    spike = np.where(draws.u(U.STRESS_SPIKE) < s.spike_probability, size, 0.0)
    level = np.clip(np.round(latent) + spike, MIN_LEVEL, MAX_LEVEL)
    return level.astype(np.int8)
