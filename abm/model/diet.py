"""Daily diet flags and water (SPEC §3).

Each patient has personal probabilities of alcohol, caffeine, chocolate and processed food on a
day (seed's ranges), alcohol more likely on Friday and Saturday; water is a personal mean plus
daily noise. The diet trigger counts alcohol, caffeine and chocolate (``abm.model.triggers``).
"""

from __future__ import annotations

import numpy as np

from abm.config.settings import Config
from abm.engine.calendar import Calendar
from abm.engine.draws import PU, Draws, U, Z


def _personal(draws: Draws, row: PU, bounds: tuple[float, float]) -> np.ndarray:
    lo, hi = bounds
    return (lo + draws.profile_u[:, row] * (hi - lo))[:, None]


def make_diet(config: Config, draws: Draws, calendar: Calendar) -> dict[str, np.ndarray]:
    """Diet columns ``(n, days)``: four boolean flags and ``water_consumed_liters``."""
    d = config.diet
    p_alcohol = _personal(draws, PU.ALCOHOL, d.alcohol_probability) + (
        d.alcohol_weekend_extra * calendar.is_weekend_night)
    water_mean = _personal(draws, PU.WATER, d.water_liters)
    water = np.round(np.clip(water_mean + d.water_daily_sd_liters * draws.z(Z.WATER), 0.2, 6.0), 1)
    return {
        "alcohol_consumed": draws.u(U.ALCOHOL) < p_alcohol,
        "caffeine_consumed": draws.u(U.CAFFEINE) < _personal(draws, PU.CAFFEINE,
                                                              d.caffeine_probability),
        "chocolate_consumed": draws.u(U.CHOCOLATE) < _personal(draws, PU.CHOCOLATE,
                                                                d.chocolate_probability),
        "processed_food_consumed": draws.u(U.PROCESSED_FOOD) < _personal(
            draws, PU.PROCESSED_FOOD, d.processed_food_probability),
        "water_consumed_liters": water,
    }
