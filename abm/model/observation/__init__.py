"""The observation layer: what a diary, a wearable and a weather service record of the days.

``daily`` is the truth: every value on every day, exactly as it drove the onset probability. Real
data are a measurement of it: a diary misses days (more of them as a study goes on, and more on
attack days), its answers are rounded and sometimes off by a point, a missed day is sometimes
filled in the next day from memory, less accurately; a wearable is not worn every night and its
sleep stages carry a device error. The observation layer makes that record, the ``observed``
frame: the same keys and column names as ``daily`` for the columns a source records, null where
nothing was recorded, and the time of each entry (``diary_time``, ``wearable_time``).

Each source is an :class:`Observer`: a component that is not part of the model (it changes no
column and no onset) with a configuration section under ``observation.*``, the daily columns it
records (``observes``), the column of its entry times (``time_column``) and its own named random
streams (``purposes``), pre-drawn per patient-day like every other draw, so the same seed gives
the same observations and variants of a run meet the same numbers. The engine applies every
observer after the run and after the post-run steps (``abm.engine.observe``), vectorized over the
cohort, and keeps what they record apart from the truth.

With ``observation.enabled = false`` every source is perfect: ``observed`` equals ``daily`` on
every column it records, and each entry is made at the hour the ``events`` log records the
source's values (the diary at 20:00, the wearable at 22:00).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import polars as pl

from abm.config.fields import Section, setting
from abm.model.component import Column, Component

if TYPE_CHECKING:
    from abm.engine.block import Block

MS_PER_MINUTE = 60_000
MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class ObservationSettings(Section):
    """The observation layer: what the diary, the wearable and the weather service record (the
    ``observed`` frame)."""

    _path = "observation"
    enabled: bool = setting(True, source="on: real diaries miss days and wearables nights (Houle "
                            "2017, Seng 2018); off: a perfect record, observed equals daily")


@dataclass
class Record:
    """What one source recorded of a cohort.

    ``recorded`` (patients, days): the source has an entry for that day; ``values``: the recorded
    value of each column it observes (read only where ``recorded``); ``minutes``: when each entry
    was made, in minutes since the first day's midnight (only where ``recorded``; ``None`` for a
    source without entry times).
    """

    recorded: np.ndarray
    values: dict[str, np.ndarray]
    minutes: np.ndarray | None = None


class Observer(Component):
    """A source of observations (see the module's docstring)."""

    kind: ClassVar[str] = "observation"
    #: the daily columns it records (those the model has)
    observes: ClassVar[tuple[str, ...]] = ()
    #: the column of the ``observed`` frame that holds its entry times (``None``: none)
    time_column: ClassVar[str | None] = None
    #: what :attr:`time_column` means, in the column's documentation
    time_meaning: ClassVar[str] = ""
    #: the hour of day a perfect record (``observation.enabled = false``) enters the values at:
    #: the hour the ``events`` log records them
    perfect_hour: ClassVar[int] = 0

    def outputs(self) -> tuple[Column, ...]:
        """The entry-time column it adds to the ``observed`` frame, if any."""
        if self.time_column is None:
            return ()
        return (Column(self.time_column, pl.Datetime("ms"), "", self.time_meaning,
                       frame="observed", feature=False),)

    def watched(self, model: Any) -> list[str]:
        """The columns of ``model`` it records, in the order of the ``daily`` frame."""
        return [c.name for c in model.daily_columns if c.name in self.observes]

    def perfect(self, block: Block, names: list[str], hour: int) -> Record:
        """A perfect record: every value of every day, entered at ``hour`` of the day."""
        n, days = block.count, block.days
        minutes = None
        if self.time_column is not None:
            day = np.arange(days, dtype=np.int64) * MINUTES_PER_DAY + 60 * hour
            minutes = np.broadcast_to(day, (n, days))
        return Record(np.ones((n, days), dtype=bool),
                      {name: block.columns[name] for name in names}, minutes)

    def observe(self, block: Block, names: list[str], attack_days: np.ndarray) -> Record:
        """What the source records of ``block``'s columns ``names`` (``block.columns``: the
        final truth); ``attack_days`` (patients, days): an attack is under way that day."""
        return self.perfect(block, names, 0)


def expit(x: np.ndarray) -> np.ndarray:
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


def logit(p: float) -> float:
    """The log-odds of ``p`` (0 < p < 1)."""
    return float(np.log(p / (1.0 - p)))
