"""Dates of the simulated days: day index, weekday and season, computed once per run."""

from __future__ import annotations

import datetime as dt

import numpy as np

#: ``numpy.datetime64`` weekday of 1970-01-01 was a Thursday (3 with Monday = 0).
_EPOCH_WEEKDAY = 3


class Calendar:
    """The run's days ``0 … days-1`` starting at ``start``; arrays are indexed by day."""

    def __init__(self, start: dt.date, days: int, burn_in_days: int = 0) -> None:
        self.start = start
        self.days = days
        first = np.datetime64(start, "D") - np.timedelta64(burn_in_days, "D")
        #: dates including ``burn_in_days`` before the start (weather needs a past).
        self.all_dates = first + np.arange(days + burn_in_days, dtype="timedelta64[D]")
        self.dates = self.all_dates[burn_in_days:]
        epoch_days = self.all_dates.astype(np.int64)
        self.all_weekday = ((epoch_days + _EPOCH_WEEKDAY) % 7).astype(np.int8)
        years = self.all_dates.astype("datetime64[Y]")
        self.all_day_of_year = (self.all_dates - years).astype(np.int64) + 1
        self.weekday = self.all_weekday[burn_in_days:]
        self.day_of_year = self.all_day_of_year[burn_in_days:]

    @property
    def is_weekend_day(self) -> np.ndarray:
        """Saturday and Sunday (stress is lower)."""
        return self.weekday >= 5

    @property
    def is_weekend_night(self) -> np.ndarray:
        """Nights starting on Friday or Saturday evening (longer sleep, more alcohol)."""
        return (self.weekday == 4) | (self.weekday == 5)


def winter_weight(day_of_year: np.ndarray) -> np.ndarray:
    """1 in mid-January, 0 in mid-July (northern hemisphere), a cosine in between."""
    return 0.5 + 0.5 * np.cos(2 * np.pi * (day_of_year - 15) / 365.25)
