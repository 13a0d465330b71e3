"""The frames of a run and the configuration that made them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from abm.config.settings import Config


@dataclass
class Result:
    """The frames of a run and the configuration that made them."""

    config: Config
    patients: pl.DataFrame
    daily: pl.DataFrame
    weather: pl.DataFrame
    attacks: pl.DataFrame
    events: pl.DataFrame
    #: what the observation layer recorded (``abm.model.observation``); None when the frames come
    #: from an output written before it
    observed: pl.DataFrame | None = None
    #: the components that made it (``abm.engine.model.Model``); None when read from files
    model: Any = None

    FRAMES = ("patients", "daily", "weather", "attacks", "events", "observed")

    def frames(self) -> dict[str, pl.DataFrame]:
        """Name → frame, in the documented order (without ``observed`` if there is none)."""
        return {name: getattr(self, name) for name in self.FRAMES
                if getattr(self, name) is not None}
