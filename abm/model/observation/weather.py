"""The weather service: the weather of the patient's location, recorded every day.

Weather comes from a weather service's record of the location, not from the patient, so it is
complete by default (``observed`` equals ``daily`` on the weather columns). ``missing_share``
leaves out that share of patient-days (a feed that did not sync), if wanted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from abm.config.fields import Section, setting
from abm.model.observation import Observer, Record

if TYPE_CHECKING:
    from abm.engine.block import Block


@dataclass(frozen=True)
class WeatherRecordSettings(Section):
    """The weather service's record of each patient's location."""

    _path = "observation.weather"
    missing_share: float = setting(0.0, 0, 1, hi_open=True, source="assumption: a weather "
                                   "service's daily record is complete")


class WeatherRecord(Observer):
    """The weather columns, from a weather service (complete by default)."""

    name = "weather_record"
    section = WeatherRecordSettings
    observes = ("temperature", "humidity", "pressure", "pressure_change_24h")
    purposes = ("missing",)
    source = "assumption: complete"

    def observe(self, block: Block, names: list[str], attack_days: np.ndarray) -> Record:
        s = self.settings(block.config)
        recorded = np.ones((block.count, block.days), dtype=bool)
        if s.missing_share > 0:
            recorded = block.uniform(self, "missing", daily=True) >= s.missing_share
        return Record(recorded, {name: block.columns[name] for name in names})
