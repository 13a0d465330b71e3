"""Location weather and the ``LocationWeather`` agent (SPEC §1, §3).

Weather is exogenous: nothing a patient does changes it, so each location draws its whole series
in one block from its own stream and its agent publishes one day of it at the ``WEATHER`` phase of
every day. Patients at a location see its weather plus a small fixed personal offset (the seed's
per-patient variation); a 24 h pressure change is the same for everyone at a location.

Pressure is a mean-reverting anomaly driven by autocorrelated daily changes whose spread is larger
in winter than in summer, matched to London Heathrow 1979-2020 (LITERATURE.md: change SD 7.5-7.9
hPa in winter, 4.4-4.6 in summer; a >= 5 hPa drop on 24-25% of winter and 12-13% of summer days).
A burn-in before the start date lets the series settle and gives day 0 a real 24 h change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import simpy

from abm.config.settings import Config
from abm.engine.calendar import Calendar, winter_weight
from abm.engine.clock import Phase, tick
from abm.engine.rng import location_stream

BURN_IN_DAYS = 60


@dataclass
class LocationSeries:
    """Daily weather of every location over the run's days: arrays ``(locations, days)``."""

    temperature_c: np.ndarray
    humidity_pct: np.ndarray
    pressure_hpa: np.ndarray
    pressure_change_hpa: np.ndarray


def simulate_locations(config: Config, calendar_with_burn_in: Calendar) -> LocationSeries:
    """Draw and shape the weather of every location (rounded as a station would report it)."""
    wx = config.weather
    n_loc = config.population.num_locations
    cal = calendar_with_burn_in
    n_days = len(cal.all_dates)
    burn = n_days - cal.days
    z = np.empty((n_loc, 3, n_days))
    u = np.empty((n_loc, 2))
    for k in range(n_loc):
        gen = location_stream(config.run.seed, k)
        gen.random(out=u[k])
        gen.standard_normal(out=z[k])
    winter = winter_weight(cal.all_day_of_year)
    change_sd = wx.volatility * (wx.pressure_change_sd_summer_hpa + winter * (
        wx.pressure_change_sd_winter_hpa - wx.pressure_change_sd_summer_hpa))
    # A change process that is persistent (rho) yet has the wanted SD: scale the innovation.
    rho = wx.pressure_change_persistence
    innovation = z[:, 0, :] * change_sd * np.sqrt(1 - rho * rho)
    anomaly = np.empty((n_loc, n_days))
    step = innovation[:, 0] / np.sqrt(1 - rho * rho)
    level = np.zeros(n_loc)
    keep = 1.0 - wx.pressure_reversion
    for d in range(n_days):
        if d:
            step = rho * step + innovation[:, d]
        level = keep * level + step
        anomaly[:, d] = level
    pressure = np.round(wx.pressure_mean_hpa + anomaly, 1)

    season = -np.cos(2 * np.pi * (cal.all_day_of_year - 15) / 365.25)
    temp_anom = np.empty((n_loc, n_days))
    phi = 0.7
    a = z[:, 1, 0] * wx.temperature_anomaly_sd_c
    shock = z[:, 1, :] * wx.temperature_anomaly_sd_c * np.sqrt(1 - phi * phi)
    for d in range(n_days):
        if d:
            a = phi * a + shock[:, d]
        temp_anom[:, d] = a
    local_mean = wx.temperature_mean_c + (2 * u[:, 0:1] - 1) * wx.location_temperature_spread_c
    temperature = np.round(local_mean + wx.temperature_amplitude_c * 0.5 * (season + 1) -
                           wx.temperature_amplitude_c * 0.5 + temp_anom, 1)
    humidity = np.round(np.clip(wx.humidity_mean_pct + wx.humidity_sd_pct * z[:, 2, :]
                                - 0.5 * temp_anom, 20, 100), 1)
    change = np.round(np.diff(pressure, axis=1), 1)
    return LocationSeries(
        temperature_c=temperature[:, burn:],
        humidity_pct=humidity[:, burn:],
        pressure_hpa=pressure[:, burn:],
        pressure_change_hpa=change[:, burn - 1:],
    )


class LocationWeather:
    """The agent of one location: publishes the day's weather at the ``WEATHER`` phase.

    ``published_day`` is the last day whose weather is public; patients deciding an onset on day
    d read exposures of day d-1, which the clock guarantees are published.
    """

    __slots__ = ("index", "series", "published_day")

    def __init__(self, index: int, series: LocationSeries) -> None:
        self.index = index
        self.series = series
        self.published_day = -1

    def live(self, env: simpy.Environment, days: int):
        """SimPy process: one publication a day."""
        for day in range(days):
            yield tick(env, day, Phase.WEATHER)
            self.published_day = day

    def today(self) -> dict[str, float]:
        """The published weather of ``published_day``."""
        d, k, s = self.published_day, self.index, self.series
        return {"temperature_c": float(s.temperature_c[k, d]),
                "humidity_pct": float(s.humidity_pct[k, d]),
                "pressure_hpa": float(s.pressure_hpa[k, d]),
                "pressure_change_hpa": float(s.pressure_change_hpa[k, d])}
