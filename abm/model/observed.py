"""Which daily columns the observation layer records, and the entry-time columns of the
``observed`` frame: read from the registered sources (``abm.model.catalog.observers``)."""

from __future__ import annotations

from typing import Any

from abm.model.catalog import observers
from abm.model.component import Column


def observed_columns(model: Any) -> dict[str, str | None]:
    """Every daily column of ``model`` that a source records, in the order of the ``daily``
    frame, with the column of its entry times (``None``: no entry time, such as the weather)."""
    source = {name: o.time_column for o in observers() for name in o.observes}
    return {c.name: source[c.name] for c in model.daily_columns if c.name in source}


def time_columns() -> tuple[Column, ...]:
    """The entry-time columns of the ``observed`` frame, one per source that has them."""
    return tuple(col for o in observers() for col in o.outputs())
