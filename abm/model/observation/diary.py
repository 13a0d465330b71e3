"""The headache diary: what a patient records of the day in the evening, and what they miss.

**Missed days.** A patient misses a day's entry with a probability that is personal, grows over
the run and is higher on attack days. Its log-odds are ``logit(missing_share)`` plus a personal
offset (``N(0, adherence_sd)``), plus ``log(missing_odds_per_month) * day / 30`` (adherence
decays), plus ``log(attack_day_missing_odds)`` on a day an attack is under way (missing not at
random: people in pain log less). With ``dropout = true`` a patient also stops logging for good
on a day drawn so that ``dropout_retention_90_days`` of patients still log on day 90 (an
exponential time to drop-out; Seng 2018: 32.4% of app users still logging at 90 days).

**Recall.** A missed day is filled in the next day, from memory, with probability
``recall_share`` when the patient logs that next day: its ``diary_time`` is the next day's entry
time less 1-10 minutes (yesterday first, then today), and its answers are less accurate.

**Answers.** Stress is reported in whole points; on ``stress_error_share`` of days it is one
point off (up or down, within 1-10). Water is rounded to ``water_rounding_liters``. On a recalled
day stress is one point off on ``recall_error_share`` of days, a drink or serving count is one
off on that share, and an item that was there (chocolate, processed food, a prodrome symptom,
menses) is forgotten on that share; the flags of any alcohol or caffeine follow the reported
counts, so the record stays consistent.

**Entry times.** Each patient has a habitual evening hour (``entry_hour`` plus
``N(0, entry_between_patient_sd_hours)``); a day's entry is made at it plus
``N(0, entry_sd_hours)``, within 17:00-23:59, to the minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from abm.config.fields import Section, setting
from abm.model.observation import MINUTES_PER_DAY, Observer, Record, expit, logit

if TYPE_CHECKING:
    from abm.engine.block import Block

STRESS = "stress_level"
WATER = "water_consumed_liters"
#: counts (one off on a recalled day) and the flags that follow them
COUNTS = {"alcohol_drinks": "alcohol_consumed", "caffeine_servings": "caffeine_consumed"}
#: items a recalled day may forget
ITEMS = ("chocolate_consumed", "processed_food_consumed", "fatigue", "neck_stiffness",
         "food_craving", "menstruating")
EARLIEST_MINUTE, LATEST_MINUTE = 17 * 60, MINUTES_PER_DAY - 1


@dataclass(frozen=True)
class DiarySettings(Section):
    """The headache diary: missed days, drop-out, recall of missed days, answers and entry
    times."""

    _path = "observation.diary"
    missing_share: float = setting(0.093, 0, 1, lo_open=True, hi_open=True,
                                   source="Houle 2017: 9.3% of days missing in a research "
                                   "diary; here the typical patient's share on the first day")
    adherence_sd: float = setting(0.8, 0, 5, source="assumption: patients differ in how "
                                  "regularly they log (SD of the log-odds of a missed day)")
    missing_odds_per_month: float = setting(1.25, 1, 10, source="assumption: adherence decays "
                                            "over a study; the odds of a missed day grow 25% a "
                                            "month (about 9% missing in the first month, 20% "
                                            "in the sixth)")
    attack_day_missing_odds: float = setting(2.0, 1, 20, source="assumption: fewer entries on "
                                             "attack days (missing not at random); odds ratio 2 "
                                             "gives missingness on attack days about 1.7x that "
                                             "on other days")
    dropout: bool = setting(False, source="off: a research diary; on: an app's users, who stop "
                            "logging (Seng 2018)")
    dropout_retention_90_days: float = setting(0.324, 0, 1, lo_open=True, hi_open=True,
                                               source="Seng 2018: 32.4% of app users still "
                                               "logging at 90 days")
    recall_share: float = setting(0.3, 0, 1, source="assumption: about a third of missed days "
                                  "are filled in the next day, from memory")
    recall_error_share: float = setting(0.3, 0, 1, source="assumption: recalled answers are off "
                                        "(stress or a count one off, an item forgotten) on 30% "
                                        "of recalled days, each answer on its own")
    stress_error_share: float = setting(0.15, 0, 1, source="assumption: self-reported stress is "
                                        "one point off on 15% of days")
    water_rounding_liters: float = setting(0.25, 0, 2, source="assumption: water is reported in "
                                           "quarter litres (0: as measured)")
    entry_hour: float = setting(21.0, 17, 23.99, source="assumption: diaries are kept in the "
                                "evening")
    entry_between_patient_sd_hours: float = setting(0.75, 0, 6, source="assumption: habitual "
                                                    "entry hours differ by person")
    entry_sd_hours: float = setting(0.75, 0, 6, source="assumption: day-to-day spread of the "
                                    "entry time")


class Diary(Observer):
    """The diary: stress, diet items, drinks and servings, prodrome symptoms, menses and the cycle
    day a period tracker counts from them, the acute medication taken and the app's count of
    medication days, entered in the evening (``diary_time``)."""

    name = "diary"
    section = DiarySettings
    observes = (STRESS, "alcohol_consumed", "caffeine_consumed", "chocolate_consumed",
                "processed_food_consumed", WATER, "alcohol_drinks", "caffeine_servings",
                "cycle_day", "menstruating", "fatigue", "neck_stiffness", "food_craving",
                "acute_medication", "medication_days_30d")
    time_column = "diary_time"
    perfect_hour = 20
    time_meaning = ("when the diary entry of that day was made (evening; the next day for a "
                    "day filled in from memory); null: no entry")
    purposes = ("adherence", "missing", "dropout", "recall", "recall_delay", "habitual_hour",
                "entry_time", "stress_error", "stress_sign", "recall_stress",
                *(f"recall_{name}" for name in (*COUNTS, *ITEMS)), "recall_sign")
    source = ("Houle 2017: 9.3% of diary days missing; Seng 2018: 32.4% of app users logging "
              "at 90 days; the rest assumptions")

    def observe(self, block: Block, names: list[str], attack_days: np.ndarray) -> Record:
        s = self.settings(block.config)
        n, days = block.count, block.days
        t = np.arange(days)
        log_odds = (logit(s.missing_share) + s.adherence_sd * block.normal(self, "adherence"))
        log_odds = (log_odds[:, None] + np.log(s.missing_odds_per_month) * t[None, :] / 30.0
                    + np.log(s.attack_day_missing_odds) * attack_days)
        missed = block.uniform(self, "missing", daily=True) < expit(log_odds)
        if s.dropout:
            rate = -np.log(s.dropout_retention_90_days) / 90.0
            dropped_on = -np.log1p(-block.uniform(self, "dropout")) / rate
            missed |= t[None, :] >= dropped_on[:, None]
        logs_next = np.zeros((n, days), dtype=bool)
        logs_next[:, :-1] = ~missed[:, 1:]
        recalled = missed & logs_next & (block.uniform(self, "recall", daily=True)
                                         < s.recall_share)
        recorded = ~missed | recalled

        habitual = 60 * (s.entry_hour + s.entry_between_patient_sd_hours
                         * block.normal(self, "habitual_hour"))
        own = np.clip(np.round(habitual[:, None] + 60 * s.entry_sd_hours
                               * block.normal(self, "entry_time", daily=True)),
                      EARLIEST_MINUTE, LATEST_MINUTE).astype(np.int64)
        minutes = t[None, :].astype(np.int64) * MINUTES_PER_DAY + own
        delay = 1 + np.floor(10 * block.uniform(self, "recall_delay", daily=True)).astype(np.int64)
        next_entry = np.empty_like(minutes)
        next_entry[:, :-1] = minutes[:, 1:]
        next_entry[:, -1] = minutes[:, -1] + MINUTES_PER_DAY
        minutes = np.where(recalled, next_entry - delay, minutes)

        values: dict[str, np.ndarray] = {}
        cols = block.columns
        one_off = np.where(block.uniform(self, "recall_sign", daily=True) < 0.5, -1, 1)
        if STRESS in names:
            wrong = np.where(recalled, block.uniform(self, "recall_stress", daily=True)
                             < s.recall_error_share,
                             block.uniform(self, "stress_error", daily=True)
                             < s.stress_error_share)
            sign = np.where(block.uniform(self, "stress_sign", daily=True) < 0.5, -1, 1)
            stress = cols[STRESS].astype(np.int16) + wrong * sign
            # off by one within the scale: at an end of it, the only way is inward
            stress = np.where(stress > 10, 9, np.where(stress < 1, 2, stress))
            values[STRESS] = stress.astype(cols[STRESS].dtype)
        if WATER in names:
            water = cols[WATER].astype(np.float64)
            step = s.water_rounding_liters
            values[WATER] = (np.round(water / step) * step if step > 0 else water).astype(
                cols[WATER].dtype)
        for count, flag in COUNTS.items():
            if count not in names:
                continue
            wrong = recalled & (block.uniform(self, f"recall_{count}", daily=True)
                                < s.recall_error_share)
            reported = np.maximum(cols[count].astype(np.int16) + wrong * one_off, 0)
            values[count] = reported.astype(cols[count].dtype)
            if flag in names:
                values[flag] = reported > 0
        for item in ITEMS:
            if item not in names:
                continue
            forgotten = recalled & (block.uniform(self, f"recall_{item}", daily=True)
                                    < s.recall_error_share)
            values[item] = cols[item].astype(bool) & ~forgotten
        for name in names:
            values.setdefault(name, cols[name])
        return Record(recorded, values, minutes)
