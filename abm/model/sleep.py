"""Nightly sleep: the night that starts on the evening of a date is logged as that date.

Total sleep is a patient's habitual duration plus an autocorrelated nightly deviation, longer on
Friday and Saturday nights (Scott 2025: +20-35 min) and in winter (Scott 2025: winter nights 15-20
min longer than summer ones, a cosine of the day of year), with occasional disrupted nights that
are either short (3-5 h) or long (9-11 h). Stages split the time asleep; awake time is lognormal;
quality (0-100) falls with less deep and REM sleep, with wakefulness and with an unusual duration
(a term of the duration, so a changed night changes its quality). Sleep efficiency (time asleep
over time in bed, as a diary reports it) is a personal mean plus a nightly deviation. Values are
rounded as a wearable
would report them; the sleep trigger is computed from these rounded values only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from abm.config.fields import Section, setting
from abm.engine.block import Block
from abm.engine.calendar import winter_weight
from abm.model.component import Column, Component, LogEntry, Term
from abm.model.processes import ar1

MIN_HOURS, MAX_HOURS = 2.0, 14.0
#: quality points lost per hour away from this duration (assumption)
QUALITY_BEST_HOURS, QUALITY_POINTS_PER_HOUR = 7.5, 8.0


@dataclass(frozen=True)
class SleepSettings(Section):
    """Nightly sleep: duration, night-to-night persistence, disrupted nights, stages."""

    _path = "sleep"
    mean_hours: float = setting(7.0, 3, 12, source="seed: N(7, 1.5); Vgontzas 2020: 7.3 +- 1.2 h")
    between_patient_sd_hours: float = setting(0.5, 0, 3, source="assumption: habitual sleep "
                                              "varies by person; with the nightly SD gives total "
                                              "SD about 1.2")
    nightly_sd_hours: float = setting(1.0, 0, 5, source="assumption: within-person night-to-night "
                                      "SD")
    persistence: float = setting(0.3, 0, 0.95, source="seed: 0.3 weight on the previous night")
    weekend_extra_hours: float = setting(0.45, -3, 3, source="Scott 2025: weekend nights 20-35 "
                                         "min longer (27 min)")
    winter_extra_minutes: float = setting(18.0, -120, 120, source="Scott 2025: nights 15-20 min "
                                          "longer in the northern winter than in summer; a "
                                          "cosine of the day of year, longest in mid-January, "
                                          "the year's mean unchanged")
    disruption_probability: float = setting(0.05, 0, 1, source="assumption: about one disrupted "
                                            "night in 20 (the seed's 15% gave too many)")
    short_night_hours: tuple = setting((3.0, 5.0), 2, 14, source="seed: U(3, 5) short nights")
    long_night_hours: tuple = setting((9.0, 11.0), 2, 14, source="seed: U(9, 12) long nights")
    deep_fraction: float = setting(0.18, 0.05, 0.35, source="seed: U(0.1, 0.3), mean 0.2")
    rem_fraction: float = setting(0.22, 0.10, 0.35, source="seed: U(0.15, 0.25), mean 0.2")
    awake_median_minutes: float = setting(20.0, 0, 240, lo_open=True, source="seed: U(10, 60)")
    efficiency_mean: float = setting(0.87, 0.5, 1, source="assumption: diary sleep efficiency "
                                     "(time asleep / time in bed) of adults, about 0.85-0.88; "
                                     "Bertisch 2020 analyses diary efficiency")
    efficiency_between_patient_sd: float = setting(0.03, 0, 0.2, source="assumption: habitual "
                                                   "efficiency varies by person")
    efficiency_nightly_sd: float = setting(0.04, 0, 0.2, source="assumption: night-to-night SD; "
                                           "with the personal SD, about 8% of nights below 0.80")


def rounded(value: Any, low: float, high: float, decimals: int) -> Any:
    """``value`` clipped to [low, high] and rounded to ``decimals``, as NumPy's ``round`` does
    it (scale, round half to even, unscale), on arrays or on one number: the edit path rounds
    single numbers, where plain Python is many times faster than NumPy's scalar functions and
    gives the same float."""
    scale = 10.0 ** decimals
    if isinstance(value, np.ndarray):
        return np.round(np.clip(value, low, high), decimals)
    return round(min(high, max(low, float(value))) * scale) / scale


def round_hours(hours: Any) -> Any:
    """Sleep hours as logged: two decimals, within [2, 14]."""
    return rounded(hours, MIN_HOURS, MAX_HOURS, 2)


def round_efficiency(fraction: Any) -> Any:
    """Efficiency as logged: three decimals, within [0, 1]."""
    return rounded(fraction, 0.0, 1.0, 3)


def round_quality(score: Any) -> Any:
    """Quality as logged: one decimal, within [0, 100]."""
    return rounded(score, 0.0, 100.0, 1)


def duration_penalty(v: Any) -> Any:
    """Quality lost to an unusual night's length (elementwise)."""
    return -QUALITY_POINTS_PER_HOUR * abs(v["total_sleep_hours", 0] - QUALITY_BEST_HOURS)


class Sleep(Component):
    """The night's duration, stages, wakefulness and quality."""

    name = "sleep"
    section = SleepSettings
    purposes = ("habitual", "nightly", "disruption", "disruption_hours", "deep", "rem", "awake",
                "habitual_efficiency", "efficiency")
    columns = (
        Column("total_sleep_hours", pl.Float32, "h", "sleep of the night starting that evening, "
               "2-14", finalize=round_hours, range=(MIN_HOURS, MAX_HOURS)),
        Column("deep_sleep_pct", pl.Float32, "fraction", "share of sleep in deep stage",
               range=(0, 1)),
        Column("rem_sleep_pct", pl.Float32, "fraction", "share of sleep in REM", range=(0, 1)),
        Column("light_sleep_pct", pl.Float32, "fraction",
               "share in light stage; the three sum to 1", range=(0, 1)),
        Column("awake_time_mins", pl.Float32, "min", "time awake during the night",
               range=(0, 24 * 60)),
        Column("sleep_quality", pl.Float32, "0-100", "sleep quality score",
               finalize=round_quality, range=(0, 100)),
        Column("sleep_efficiency", pl.Float32, "fraction", "time asleep / time in bed (diary "
               "sleep efficiency), 3 decimals", finalize=round_efficiency, range=(0, 1)),
    )
    logs = (LogEntry("sleep", 22, "total_sleep_hours", "total_sleep_hours"),)
    seed_file = "sleep_data.csv"
    source = "seed: N(7, 1.5) h; Scott 2025: longer weekend nights"

    def problems(self, columns: Mapping[str, np.ndarray]) -> list[str]:
        """The three stage shares must sum to 1 on every night."""
        total = sum(columns[name].astype(np.float64)
                    for name in ("deep_sleep_pct", "rem_sleep_pct", "light_sleep_pct"))
        return ["sleep percentages do not sum to 1"] if np.abs(total - 1).max(initial=0) > 1e-6 \
            else []

    def terms(self, config: Any) -> tuple[Term, ...]:
        return (Term("sleep_quality", (("total_sleep_hours", 0),), duration_penalty, self.name),)

    def draw(self, block: Block) -> dict[str, np.ndarray]:
        s = self.settings(block.config)
        habitual = s.mean_hours + s.between_patient_sd_hours * block.normal(self, "habitual")
        deviation = s.nightly_sd_hours * ar1(block.normal(self, "nightly", daily=True),
                                             s.persistence)
        weekend = s.weekend_extra_hours * block.calendar.is_weekend_night
        # winter_weight is 1 in mid-January and 0 in mid-July: centred, so the year's mean holds
        season = s.winter_extra_minutes / 60 * (winter_weight(block.calendar.day_of_year) - 0.5)
        hours = habitual[:, None] + deviation + weekend + season
        disrupted = block.uniform(self, "disruption", daily=True) < s.disruption_probability
        v = block.uniform(self, "disruption_hours", daily=True)
        short_lo, short_hi = s.short_night_hours
        long_lo, long_hi = s.long_night_hours
        short = short_lo + 2 * v * (short_hi - short_lo)
        long_ = long_lo + (2 * v - 1) * (long_hi - long_lo)
        # a night beyond the device's range counts as its end, so an edit moves what is logged
        hours = np.clip(np.where(disrupted, np.where(v < 0.5, short, long_), hours),
                        MIN_HOURS, MAX_HOURS)

        deep = np.round(np.clip(s.deep_fraction + 0.04 * block.normal(self, "deep", daily=True),
                                0.05, 0.40), 3)
        rem = np.round(np.clip(s.rem_fraction + 0.04 * block.normal(self, "rem", daily=True),
                               0.05, 0.40), 3)
        light = 1.0 - deep - rem
        awake = np.round(np.clip(s.awake_median_minutes
                                 * np.exp(0.5 * block.normal(self, "awake", daily=True)), 1, 240),
                         1)
        # the duration's share of the quality is a term (``duration_penalty``), added by the engine
        quality = (75 + 150 * (deep - s.deep_fraction) + 100 * (rem - s.rem_fraction)
                   - 0.4 * (awake - s.awake_median_minutes))
        efficiency = (s.efficiency_mean
                      + s.efficiency_between_patient_sd
                      * block.normal(self, "habitual_efficiency")[:, None]
                      + s.efficiency_nightly_sd * block.normal(self, "efficiency", daily=True))
        return {
            "total_sleep_hours": hours,
            "deep_sleep_pct": deep.astype(np.float32),
            "rem_sleep_pct": rem.astype(np.float32),
            "light_sleep_pct": light.astype(np.float32),
            "awake_time_mins": awake.astype(np.float32),
            "sleep_quality": quality,
            # latent: couplings add to it (alcohol), the logged value is rounded and clipped
            "sleep_efficiency": np.clip(efficiency, 0.0, 1.0),
        }
