"""The menstrual cycle, and the perimenstrual days as a migraine trigger.

**Who has a cycle.** Female patients aged ``menstrual.ages`` (12-50 at the start of the run), each
with probability ``menstrual.cycling_share``; everyone else has no cycle, and their cycle columns
are null (``menstruating`` is false).

**The cycle.** Each woman has a personal mean cycle length (``cycle_length_days`` plus a personal
deviation); each cycle's length is that mean plus a cycle-to-cycle deviation, in whole days,
clipped to ``cycle_length_range``. The run starts on a uniformly random day of a first cycle drawn
the same way. The length of the cycle that starts on day d is drawn from the value of day d of
the cycle-length stream, so a longer run continues the cycles of a shorter one exactly. The first
``menses_days`` days of every cycle (a personal whole number) are the menses.

**The trigger.** Attacks of migraine without aura are about twice as likely from two days before
the first day of menses to the day after it (Stewart 2000, day 0 = first day of menses: OR 1.80 on
days -2 and -1, 2.04 on days 0 and +1). As for every risk factor, the flag of day d raises the
onset probability of day d+1, so the flag marks the days d whose next day falls on cycle days
-2..+1: the days from three days before a menses begins to its first day. Those days are known
only from when the *next* menses begins, which ``cycle_day`` (counting up from the last one) does
not say on the day itself, so the cycle also logs ``days_to_menses`` and the flag reads that. The
lower risk around ovulation (Stewart 2000: OR 0.44) is not modeled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from abm.config.fields import Section, setting
from abm.engine.block import Block
from abm.errors import ConfigError
from abm.model.component import Column, Component, RiskFactor, Values

#: the stored value of ``cycle_day`` and ``days_to_menses`` for patients without a cycle (null in
#: the frames)
NO_CYCLE = -1
#: the flag's days: a menses begins within this many days, or began today (cycle days -3..0 of the
#: next menses; the onset one day later falls on -2..+1, Stewart 2000)
LEAD_DAYS = 3


@dataclass(frozen=True)
class MenstrualSettings(Section):
    """Menstrual cycles of female patients, and how much the days around the first day of menses
    raise the onset probability of migraine."""

    _path = "menstrual"
    enabled: bool = setting(True, source="on: menses are the best documented internal trigger "
                            "(Stewart 2000)")
    ages: tuple = setting((12, 50), 0, 120, source="assumption: from menarche (about 12) to the "
                          "years before menopause (about 51)")
    cycling_share: float = setting(1.0, 0, 1, source="assumption: every woman of those ages has a "
                                   "natural cycle (hormonal contraception, pregnancy and "
                                   "amenorrhoea are not modeled)")
    cycle_length_days: float = setting(29.3, 15, 60, source="Bull 2019: mean 29.3 days over "
                                       "612,613 cycles")
    between_patient_sd_days: float = setting(2.0, 0, 10, source="assumption: women's mean cycle "
                                             "lengths differ; with the cycle-to-cycle SD the "
                                             "total SD is 3.4 days (Fehring 2006)")
    cycle_sd_days: float = setting(2.7, 0, 10, source="assumption: a woman's cycle-to-cycle SD; "
                                   "Fehring 2006: SD 3.4 days over all cycles, 95% within 22-36")
    cycle_length_range: tuple = setting((21, 40), 5, 120, source="assumption: shorter or longer "
                                        "cycles are irregular and not modeled")
    menses_days: tuple = setting((4, 6), 1, 14, source="assumption: about 5 days of menses; a "
                                 "personal whole number of days in this range")
    effect: float = setting(1.2, 0, 20, source="Stewart 2000: OR 1.80 (days -2, -1) and 2.04 "
                            "(days 0, +1); 1.2 gives a cohort odds ratio of about 2.0 (risk "
                            "ratio about 1.6)")

    def _check(self) -> None:
        if self.menses_days[1] >= self.cycle_length_range[0]:
            raise ConfigError("menstrual.menses_days must end before the shortest cycle "
                              f"(menstrual.cycle_length_range), got {list(self.menses_days)} "
                              f"and {list(self.cycle_length_range)}")


def cycle_lengths(mean: np.ndarray, z: np.ndarray, settings: MenstrualSettings) -> np.ndarray:
    """Cycle lengths in whole days from personal means and standard normals (elementwise)."""
    lo, hi = settings.cycle_length_range
    return np.clip(np.round(mean + settings.cycle_sd_days * z), lo, hi).astype(np.int64)


class MenstrualCycle(Component):
    """The day of the cycle, the days until the next menses, and the menses days."""

    name = "menstrual_cycle"
    section = MenstrualSettings
    purposes = ("cycling", "personal_length", "first_length", "phase", "cycle_length", "menses")
    columns = (
        Column("cycle_day", pl.Int16, "days", "day of the menstrual cycle: 0 on the first day of "
               "menses, counting up; null without a cycle", null=NO_CYCLE),
        Column("days_to_menses", pl.Int16, "days", "days until a menses begins: 0 on its first "
               "day, else days until the next one (a cycle of L days: L - cycle_day); null "
               "without a cycle", null=NO_CYCLE),
        Column("menstruating", pl.Boolean, "", "a day of menses (false without a cycle)"),
    )
    source = "Bull 2019 (mean cycle 29.3 days), Fehring 2006 (SD 3.4 days)"

    def draw(self, block: Block) -> dict[str, np.ndarray]:
        s = self.settings(block.config)
        n, days = block.count, block.days
        lo_age, hi_age = s.ages
        age = block.patients["age"]
        cycling = (block.patients["female"] & (age >= lo_age) & (age <= hi_age)
                   & (block.uniform(self, "cycling") < s.cycling_share))
        mean = s.cycle_length_days + s.between_patient_sd_days * block.normal(
            self, "personal_length")
        first = cycle_lengths(mean, block.normal(self, "first_length"), s)
        # day 0 is day ``phase`` of the first cycle, which began on day -phase
        began = -np.minimum((block.uniform(self, "phase") * first).astype(np.int64), first - 1)
        z = block.normal(self, "cycle_length", daily=True)
        starts = np.zeros((n, days), dtype=bool)
        starts[:, 0] = began == 0
        following = began + first  # the first day of each patient's next cycle
        rows = np.arange(n)
        while True:
            inside = following < days
            if not inside.any():
                break
            r, d = rows[inside], following[inside]
            starts[r, d] = True
            following[inside] = d + cycle_lengths(mean[r], z[r, d], s)
        day = np.arange(days)
        # the last first day of menses on or before each day, and the first on or after it
        last = np.maximum.accumulate(np.where(starts, day, began[:, None]), axis=1)
        upcoming = np.minimum.accumulate(np.where(starts, day, following[:, None])[:, ::-1],
                                         axis=1)[:, ::-1]
        lo_m, hi_m = s.menses_days
        menses = lo_m + np.minimum((block.uniform(self, "menses") * (hi_m - lo_m + 1))
                                   .astype(np.int64), hi_m - lo_m)
        cycle_day = day - last
        has = cycling[:, None]
        return {
            "cycle_day": np.where(has, cycle_day, NO_CYCLE).astype(np.int16),
            "days_to_menses": np.where(has, upcoming - day, NO_CYCLE).astype(np.int16),
            "menstruating": has & (cycle_day < menses[:, None]),
        }


class MenstrualTrigger(RiskFactor):
    """The days before an onset window around the first day of menses (``LEAD_DAYS``)."""

    name = "menstrual_trigger"
    trigger = "menstrual"
    section = MenstrualSettings
    inputs = (("days_to_menses", 0),)
    meaning = ("days_to_menses 0-3 (off without a cycle): the next day is cycle day -2 to +1, "
               "day 0 being the first day of menses, when attacks are likelier")
    source = "Stewart 2000: OR 1.80 on the 2 days before menses, 2.04 on its first 2 days"
    literature_odds_ratio = (1.6, 2.3)
    literature_source = "Stewart 2000: OR 1.80-2.04"

    def flag(self, v: Values, config: Any) -> Any:
        left = v["days_to_menses", 0]
        return (left >= 0) & (left <= LEAD_DAYS)

    def parameters(self, config: Any) -> dict[str, Any]:
        return {"lead_days": LEAD_DAYS, "effect": self.effect(config)}
