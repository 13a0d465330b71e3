"""Daily diet flags and water.

Each patient has personal probabilities of alcohol, caffeine, chocolate and processed food on a
day (the seed's ranges), alcohol more likely on Friday and Saturday; water is a personal mean plus
daily noise. The diet trigger counts alcohol, caffeine and chocolate (``abm.model.triggers.diet``).

On the days with alcohol or caffeine the diary also counts how much: ``alcohol_drinks`` is 1 plus
a geometric number of further drinks (a personal chance of one more after each: most drinking
days have 1-2 drinks, some patients sometimes 5 or more), ``caffeine_servings`` a personal habit
of 1-4 servings plus a daily variation, at least 1. The counts come from streams of their own, so
the daily flags are the same draws as before the counts existed, and a flag is on exactly when
its count is above 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from abm.config.fields import Section, setting
from abm.engine.block import Block
from abm.model.component import Column, Component, LogEntry

#: the items a diet diary counts (the diet trigger and the ``diet_log`` event)
DIET_ITEMS = ("alcohol_consumed", "caffeine_consumed", "chocolate_consumed")
#: the most drinks and caffeine servings a day logs (assumption: a diary's top count)
MAX_DRINKS, MAX_SERVINGS = 12, 12
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
    extra_drink_chance: tuple = setting((0.0, 0.94), 0, 0.99, source="assumption: after each "
                                        "drink of a drinking day, the chance of one more is a "
                                        "personal habit, most patients near the low end (the "
                                        "range's low end plus its width times the square of a "
                                        "uniform): 4 drinking days in 5 have 1-2 drinks, and "
                                        ">= 5 drinks (that chance to the 4th power) fall on "
                                        "about 2% of patient-days cohort-wide, mostly in a "
                                        "minority of heavy drinkers (Mostofsky 2020: the >= 5 "
                                        "category is uncommon)")
    caffeine_servings: tuple = setting((1.0, 4.0), 1, 20, source="assumption: a personal habit "
                                       "of 1-4 servings (cups) on a day with caffeine")
    caffeine_daily_sd_servings: float = setting(0.7, 0, 5, source="assumption: day-to-day "
                                                "variation around the habit; at least 1 serving "
                                                "on a day with caffeine")


def items_eaten(columns: dict[str, np.ndarray]) -> np.ndarray:
    """How many of :data:`DIET_ITEMS` a day had (the ``diet_log`` event's value)."""
    return sum(columns[name].astype(np.int8) for name in DIET_ITEMS)


class Diet(Component):
    """What a patient ate and drank."""

    name = "diet"
    section = DietSettings
    purposes = tuple(f"personal_{item}" for item in ITEMS) + tuple(ITEMS) + (
        "personal_water", "water", "personal_drinking", "drinks", "personal_caffeine",
        "caffeine_servings")
    columns = (
        # not features: ``alcohol_drinks > 0`` and ``caffeine_servings > 0`` say the same
        Column("alcohol_consumed", pl.Boolean, "", "any alcohol that day (alcohol_drinks > 0)",
               feature=False),
        Column("caffeine_consumed", pl.Boolean, "", "any caffeine that day "
               "(caffeine_servings > 0)", feature=False),
        Column("chocolate_consumed", pl.Boolean, "", "any chocolate that day"),
        Column("processed_food_consumed", pl.Boolean, "", "any processed food that day"),
        Column("water_consumed_liters", pl.Float32, "L", "water drunk that day", range=(0, 10)),
        Column("alcohol_drinks", pl.Int8, "drinks", "alcoholic drinks that day (0 without "
               "alcohol)", range=(0, MAX_DRINKS)),
        Column("caffeine_servings", pl.Int8, "servings", "caffeinated drinks (cups) that day "
               "(0 without caffeine)", range=(0, MAX_SERVINGS)),
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
        # how much, on the days with any: streams of their own, so the flags above are the same
        # draws as without the counts
        lo, hi = d.extra_drink_chance
        chance = lo + (hi - lo) * block.uniform(self, "personal_drinking") ** 2
        extra = extra_drinks(block.uniform(self, "drinks", daily=True), chance[:, None])
        out["alcohol_drinks"] = np.where(out["alcohol_consumed"], 1 + extra, 0).astype(np.int8)
        habit = block.between(self, "personal_caffeine", d.caffeine_servings)[:, None]
        cups = np.round(habit + d.caffeine_daily_sd_servings
                        * block.normal(self, "caffeine_servings", daily=True))
        out["caffeine_servings"] = np.where(out["caffeine_consumed"],
                                            np.clip(cups, 1, MAX_SERVINGS), 0).astype(np.int8)
        return out

    def problems(self, columns: Mapping[str, np.ndarray]) -> list[str]:
        """The counts agree with the flags: a day with any alcohol (caffeine) has a count of at
        least 1, a day without has 0."""
        out = []
        for flag, count in (("alcohol_consumed", "alcohol_drinks"),
                            ("caffeine_consumed", "caffeine_servings")):
            if flag in columns and count in columns and (
                    (columns[count] > 0) != columns[flag].astype(bool)).any():
                out.append(f"{count} does not agree with {flag}")
        return out


def extra_drinks(u: np.ndarray, chance: np.ndarray) -> np.ndarray:
    """Drinks beyond the first: geometric with the personal ``chance`` of one more after each
    (inverse CDF of uniforms ``u``), at most ``MAX_DRINKS - 1``."""
    with np.errstate(divide="ignore"):
        log_chance = np.log(chance)
        extra = np.floor(np.log1p(-u) / np.where(log_chance < 0, log_chance, -np.inf))
    return np.minimum(np.nan_to_num(extra, nan=0.0), MAX_DRINKS - 1)
