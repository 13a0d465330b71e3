"""Location weather, its ``LocationWeather`` agent, and the weather each patient lives in.

Weather is exogenous: nothing a patient does changes it, so each location's whole series is drawn
once per run (:meth:`Weather.prepare`) from the location's streams, and its agent publishes one
day of it at the ``WEATHER`` phase of every day. Patients at a location see its weather plus a
small fixed personal offset (the seed's per-patient variation); a 24 h pressure change is the same
for everyone at a location.

Pressure is a mean-reverting anomaly driven by autocorrelated daily changes whose spread is larger
in winter than in summer, matched to London Heathrow 1979-2020 (change SD 7.5-7.9 hPa in winter,
4.4-4.6 in summer; a >= 5 hPa drop on 24-25% of winter and 12-13% of summer days). A burn-in
before the start date lets the series settle and gives day 0 a real 24 h change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import simpy

from abm.config.fields import Section, setting
from abm.engine import streams
from abm.engine.block import Block
from abm.engine.calendar import Calendar, winter_weight
from abm.engine.clock import Phase, tick
from abm.model.component import Column, Component, LogEntry

BURN_IN_DAYS = 60


@dataclass(frozen=True)
class WeatherSettings(Section):
    """Weather of each location: seasonal temperature, humidity, pressure systems, and each
    patient's offsets from their location."""

    _path = "weather"
    temperature_mean_c: float = setting(15.0, -50, 50, source="seed: 15 + 15 sin(...)")
    temperature_amplitude_c: float = setting(15.0, 0, 40, source="seed: seasonal amplitude 15 C")
    temperature_anomaly_sd_c: float = setting(3.0, 0, 20, source="assumption: day-to-day anomaly "
                                              "SD, AR(1) with persistence 0.7")
    location_temperature_spread_c: float = setting(3.0, 0, 30, source="assumption: locations' "
                                                   "mean temperature U(-3, 3) C around the mean")
    humidity_mean_pct: float = setting(60.0, 20, 100, source="seed: 60 + N(0, 15)")
    humidity_sd_pct: float = setting(15.0, 0, 50, source="seed: N(0, 15)")
    pressure_mean_hpa: float = setting(1013.0, 900, 1100, source="seed: around 1013 hPa")
    pressure_change_sd_winter_hpa: float = setting(7.3, 0, 30, source="fitted: with the two "
                                                   "settings below, daily changes have SD 7.3 hPa "
                                                   "and a >= 5 hPa drop on 25% of winter days "
                                                   "(London Heathrow 1979-2020: 7.5-7.9 hPa, "
                                                   "24-25%)")
    pressure_change_sd_summer_hpa: float = setting(4.2, 0, 30, source="fitted: SD 4.4 hPa, drops "
                                                   "on 13% of summer days (Heathrow: 4.4-4.6, "
                                                   "12-13%)")
    pressure_reversion: float = setting(0.25, 0, 1, lo_open=True, source="fitted: share of the "
                                        "anomaly that decays per day; pressure SD 11 hPa "
                                        "(Heathrow: 10.5)")
    pressure_change_persistence: float = setting(0.3, 0, 0.95, source="fitted: lag-1 "
                                                 "autocorrelation of daily changes 0.14 "
                                                 "(Heathrow: 0.15)")
    volatility: float = setting(1.0, 0, 5, source="1.0 = Heathrow-like; scales every location's "
                                "pressure changes (calm < 1 < stormy)")
    patient_offset_temperature_c: float = setting(2.0, 0, 20, source="seed: U(-2, 2) per patient")
    patient_offset_humidity_pct: float = setting(5.0, 0, 50, source="seed: U(-5, 5) per patient")
    patient_offset_pressure_hpa: float = setting(1.0, 0, 20, source="seed: U(-1, 1) per patient")


@dataclass
class LocationSeries:
    """Daily weather of every location over the run's days: arrays ``(locations, days)``."""

    temperature_c: np.ndarray
    humidity_pct: np.ndarray
    pressure_hpa: np.ndarray
    pressure_change_hpa: np.ndarray


def simulate_locations(config: Any, calendar_with_burn_in: Calendar) -> LocationSeries:
    """Draw and shape the weather of every location (rounded as a station would report it)."""
    wx = config.weather
    n_loc = config.population.num_locations
    cal = calendar_with_burn_in
    n_days = len(cal.all_dates)
    burn = n_days - cal.days

    def location_draw(purpose: str, days: int | None, normal: bool) -> np.ndarray:
        return streams.draw(config.run.seed, streams.LOCATION_DOMAIN, Weather.name, purpose, 0,
                            n_loc, days, normal)

    z_pressure = location_draw("pressure", n_days, True)
    z_temperature = location_draw("temperature", n_days, True)
    z_humidity = location_draw("humidity", n_days, True)
    u_mean = location_draw("mean_temperature", None, False)
    winter = winter_weight(cal.all_day_of_year)
    change_sd = wx.volatility * (wx.pressure_change_sd_summer_hpa + winter * (
        wx.pressure_change_sd_winter_hpa - wx.pressure_change_sd_summer_hpa))
    # A change process that is persistent (rho) yet has the wanted SD: scale the innovation.
    rho = wx.pressure_change_persistence
    innovation = z_pressure * change_sd * np.sqrt(1 - rho * rho)
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
    a = z_temperature[:, 0] * wx.temperature_anomaly_sd_c
    shock = z_temperature * wx.temperature_anomaly_sd_c * np.sqrt(1 - phi * phi)
    for d in range(n_days):
        if d:
            a = phi * a + shock[:, d]
        temp_anom[:, d] = a
    local_mean = (wx.temperature_mean_c
                  + (2 * u_mean[:, None] - 1) * wx.location_temperature_spread_c)
    temperature = np.round(local_mean + wx.temperature_amplitude_c * 0.5 * (season + 1)
                           - wx.temperature_amplitude_c * 0.5 + temp_anom, 1)
    humidity = np.round(np.clip(wx.humidity_mean_pct + wx.humidity_sd_pct * z_humidity
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


class Weather(Component):
    """Weather at the patients: the location's series plus a personal offset."""

    name = "weather"
    section = WeatherSettings
    purposes = ("offset_temperature", "offset_humidity", "offset_pressure")
    columns = (
        Column("temperature", pl.Float32, "°C", "daily mean air temperature at the patient"),
        Column("humidity", pl.Float32, "%", "relative humidity, 20-100", range=(20, 100)),
        Column("pressure", pl.Float32, "hPa", "barometric pressure"),
        Column("pressure_change_24h", pl.Float32, "hPa", "pressure minus the previous day's"),
    )
    #: the ``weather`` frame: one row per location and day
    location_columns = (
        Column("temperature", pl.Float32, "°C", "daily mean air temperature", frame="weather"),
        Column("humidity", pl.Float32, "%", "relative humidity", frame="weather",
               range=(20, 100)),
        Column("pressure", pl.Float32, "hPa", "barometric pressure", frame="weather"),
        Column("pressure_change_24h", pl.Float32, "hPa", "pressure minus the previous day's",
               frame="weather"),
    )
    logs = (LogEntry("weather", 0, "pressure", "pressure", per_location=True),)
    seed_file = "weather_data.csv"
    source = "fitted to London Heathrow 1979-2020 pressure; seed: temperature and humidity"

    def prepare(self, config: Any, calendar: Calendar) -> LocationSeries:
        """The locations' series of the whole run (drawn once, shared by every block)."""
        return simulate_locations(config, Calendar(calendar.start, calendar.days, BURN_IN_DAYS))

    def location_values(self, series: LocationSeries) -> dict[str, np.ndarray]:
        """The ``weather`` frame's columns as ``(locations, days)`` arrays."""
        return {"temperature": series.temperature_c, "humidity": series.humidity_pct,
                "pressure": series.pressure_hpa, "pressure_change_24h": series.pressure_change_hpa}

    def draw(self, block: Block) -> dict[str, np.ndarray]:
        wx = self.settings(block.config)
        series: LocationSeries = block.shared[self.name]
        at = block.patients["location"]

        def at_patient(values: np.ndarray, purpose: str, spread: float) -> np.ndarray:
            offset = (2 * block.uniform(self, purpose) - 1) * spread
            return np.round(values.astype(np.float64)[at] + offset[:, None], 1).astype(np.float32)

        return {
            "temperature": at_patient(series.temperature_c, "offset_temperature",
                                      wx.patient_offset_temperature_c),
            "humidity": np.clip(at_patient(series.humidity_pct, "offset_humidity",
                                           wx.patient_offset_humidity_pct), 20, 100),
            "pressure": at_patient(series.pressure_hpa, "offset_pressure",
                                   wx.patient_offset_pressure_hpa),
            "pressure_change_24h": series.pressure_change_hpa.astype(np.float32)[at],
        }
