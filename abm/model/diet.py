"""Daily diet flags and water.

Each patient has personal probabilities of alcohol, caffeine, chocolate and processed food on a
day (the seed's ranges), alcohol more likely on Friday and Saturday; water is a personal mean plus
daily noise. The diet trigger counts alcohol, caffeine and chocolate (``abm.model.triggers.diet``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from abm.config.fields import Section, setting
from abm.engine.block import Block
from abm.model.component import Column, Component, LogEntry

#: the items a diet diary counts (the diet trigger and the ``diet_log`` event)
DIET_ITEMS = ("alcohol_consumed", "caffeine_consumed", "chocolate_consumed")
#: every daily item, with its setting of personal probabilities
ITEMS = {"alcohol_consumed": "alcohol_probability", "caffeine_consumed": "caffeine_probability",
         "chocolate_consumed": "chocolate_probability",
         "processed_food_consumed": "processed_food_probability"}


@dataclass(frozen=True)
class DietSettings(Section):
    """Daily alcohol, caffeine, chocolate and processed food (chances per day) and water."""

    _path = "diet"
    alcohol_probability: tuple = setting((0.05, 0.30), 0, 1, source="seed: U(0.05, 0.3) per "
                                         "patient")
    alcohol_weekend_extra: float = setting(0.20, 0, 1, source="seed: +0.2 at weekends (Fri, Sat)")
    caffeine_probability: tuple = setting((0.30, 0.90), 0, 1, source="seed: U(0.3, 0.9)")
    chocolate_probability: tuple = setting((0.10, 0.40), 0, 1, source="seed: U(0.1, 0.4)")
    processed_food_probability: tuple = setting((0.30, 0.70), 0, 1, source="seed: U(0.3, 0.7)")
    water_liters: tuple = setting((1.0, 2.5), 0, 10, source="seed: U(0.5, 3.0) a day; here a "
                                  "personal mean from this range")
    water_daily_sd_liters: float = setting(0.4, 0, 5, source="assumption")


def items_eaten(columns: dict[str, np.ndarray]) -> np.ndarray:
    """How many of :data:`DIET_ITEMS` a day had (the ``diet_log`` event's value)."""
    return sum(columns[name].astype(np.int8) for name in DIET_ITEMS)


class Diet(Component):
    """What a patient ate and drank."""

    name = "diet"
    section = DietSettings
    purposes = tuple(f"personal_{item}" for item in ITEMS) + tuple(ITEMS) + (
        "personal_water", "water")
    columns = (
        Column("alcohol_consumed", pl.Boolean, "", "any alcohol that day"),
        Column("caffeine_consumed", pl.Boolean, "", "any caffeine that day"),
        Column("chocolate_consumed", pl.Boolean, "", "any chocolate that day"),
        Column("processed_food_consumed", pl.Boolean, "", "any processed food that day"),
        Column("water_consumed_liters", pl.Float32, "L", "water drunk that day", range=(0, 10)),
    )
    logs = (LogEntry("diet_log", 20, "diet_items", value=items_eaten, dtype=pl.Int8),)
    seed_file = "stress_diet_data.csv"
    source = "seed: personal probabilities per item, more alcohol at weekends"

    def draw(self, block: Block) -> dict[str, np.ndarray]:
        d = self.settings(block.config)
        out: dict[str, np.ndarray] = {}
        for item, setting_name in ITEMS.items():
            p = block.between(self, f"personal_{item}", getattr(d, setting_name))[:, None]
            if item == "alcohol_consumed":
                p = p + d.alcohol_weekend_extra * block.calendar.is_weekend_night
            out[item] = block.uniform(self, item, daily=True) < p
        water_mean = block.between(self, "personal_water", d.water_liters)[:, None]
        water = water_mean + d.water_daily_sd_liters * block.normal(self, "water", daily=True)
        out["water_consumed_liters"] = np.round(np.clip(water, 0.2, 6.0), 1).astype(np.float32)
        return out
