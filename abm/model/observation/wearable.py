"""The wearable: the night's sleep as a device measures it, on the nights it is worn.

A night is not recorded with probability ``not_worn_share`` (a personal share: its log-odds
vary by ``not_worn_sd`` between patients). A recorded night carries the device's error: total
sleep ``+ N(0, total_error_hours)``, each of the deep and REM shares ``+ N(0, stage_error)`` (light
sleep is the rest, so the three still sum to 1), awake time ``+ N(0, awake_error_minutes)``,
quality ``+ N(0, quality_error_points)`` and efficiency ``+ N(0, efficiency_error)``, each within
its column's range and rounded as the truth is. The night that starts on a date's evening is
synced the morning after (``wearable_time``: ``wake_hour`` ``+ N(0, wake_sd_hours)``, within
04:00-11:59).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from abm.config.fields import Section, setting
from abm.model.observation import MINUTES_PER_DAY, Observer, Record, expit, logit

if TYPE_CHECKING:
    from abm.engine.block import Block

SLEEP_COLUMNS = ("total_sleep_hours", "deep_sleep_pct", "rem_sleep_pct", "light_sleep_pct",
                 "awake_time_mins", "sleep_quality", "sleep_efficiency")
EARLIEST_MINUTE, LATEST_MINUTE = 4 * 60, 12 * 60 - 1


@dataclass(frozen=True)
class WearableSettings(Section):
    """The sleep wearable: nights not worn, device error, sync time."""

    _path = "observation.wearable"
    not_worn_share: float = setting(0.15, 0, 1, hi_open=True, source="assumption: a wearable "
                                    "is not worn (or not charged) on 10-20% of nights")
    not_worn_sd: float = setting(0.7, 0, 5, source="assumption: some patients wear it more "
                                 "regularly than others (SD of the log-odds)")
    total_error_hours: float = setting(0.25, 0, 3, source="assumption: consumer sleep trackers "
                                       "are off by about a quarter of an hour a night")
    stage_error: float = setting(0.03, 0, 0.2, source="assumption: stage shares carry a device "
                                 "error of a few percentage points")
    awake_error_minutes: float = setting(5.0, 0, 120, source="assumption: small device error")
    quality_error_points: float = setting(3.0, 0, 50, source="assumption: small device error")
    efficiency_error: float = setting(0.02, 0, 0.2, source="assumption: small device error")
    wake_hour: float = setting(7.0, 4, 11.99, source="assumption: the night is synced when the "
                               "patient wakes")
    wake_sd_hours: float = setting(0.75, 0, 6, source="assumption: spread of the sync time")


class Wearable(Observer):
    """The wearable: every sleep column, synced the morning after (``wearable_time``)."""

    name = "wearable"
    section = WearableSettings
    observes = SLEEP_COLUMNS
    time_column = "wearable_time"
    perfect_hour = 22
    time_meaning = ("when the night that starts that evening was synced from the wearable (the "
                    "morning after); null: not worn")
    purposes = ("wear", "worn", "total_error", "deep_error", "rem_error", "awake_error",
                "quality_error", "efficiency_error", "wake_time")
    source = "assumptions: nights not worn, small device errors"

    def observe(self, block: Block, names: list[str], attack_days: np.ndarray) -> Record:
        s = self.settings(block.config)
        n, days = block.count, block.days
        if s.not_worn_share > 0:
            log_odds = logit(s.not_worn_share) + s.not_worn_sd * block.normal(self, "wear")
            recorded = block.uniform(self, "worn", daily=True) >= expit(log_odds)[:, None]
        else:
            recorded = np.ones((n, days), dtype=bool)
        cols = block.columns
        values: dict[str, np.ndarray] = {}

        def noisy(name: str, purpose: str, sd: float, lo: float, hi: float,
                  decimals: int) -> np.ndarray:
            truth = cols[name].astype(np.float64)
            if sd > 0:
                truth = truth + sd * block.normal(self, purpose, daily=True)
            return np.round(np.clip(truth, lo, hi), decimals)

        if "total_sleep_hours" in names:
            values["total_sleep_hours"] = noisy("total_sleep_hours", "total_error",
                                                s.total_error_hours, 2, 14, 2)
        if {"deep_sleep_pct", "rem_sleep_pct", "light_sleep_pct"} <= set(names):
            deep = noisy("deep_sleep_pct", "deep_error", s.stage_error, 0.02, 0.6, 3)
            rem = noisy("rem_sleep_pct", "rem_error", s.stage_error, 0.02, 0.6, 3)
            values["deep_sleep_pct"], values["rem_sleep_pct"] = deep, rem
            values["light_sleep_pct"] = np.round(1.0 - deep - rem, 3)
        if "awake_time_mins" in names:
            values["awake_time_mins"] = noisy("awake_time_mins", "awake_error",
                                              s.awake_error_minutes, 0, 24 * 60, 1)
        if "sleep_quality" in names:
            values["sleep_quality"] = noisy("sleep_quality", "quality_error",
                                            s.quality_error_points, 0, 100, 1)
        if "sleep_efficiency" in names:
            values["sleep_efficiency"] = noisy("sleep_efficiency", "efficiency_error",
                                               s.efficiency_error, 0, 1, 3)
        for name in names:
            values[name] = values[name].astype(cols[name].dtype) if name in values \
                else cols[name]
        wake = np.clip(np.round(60 * s.wake_hour + 60 * s.wake_sd_hours
                                * block.normal(self, "wake_time", daily=True)),
                       EARLIEST_MINUTE, LATEST_MINUTE).astype(np.int64)
        minutes = (np.arange(1, days + 1, dtype=np.int64) * MINUTES_PER_DAY)[None, :] + wake
        return Record(recorded, values, minutes)
