"""The observation step: what the sources record of the finished cohort (the ``observed`` frame).

After the agents and the post-run steps (``abm.engine.afterrun``), every source of the
observation layer (``abm.model.catalog.observers``: the diary, the wearable, the weather service)
records the daily columns it observes, vectorized over every patient at once, from its own
random streams (pre-drawn per patient-day, so the same seed gives the same record, a shard the
same record as the whole run, and variants of a run the same numbers). The step:

1. reads the final columns and the days an attack is under way (the diary logs less on those);
2. changes nothing: no column, no flag, no onset (the record is a measurement of the truth);
3. keeps, per observed column, the recorded values and where a value was recorded
   (``cohort.observed``), and per source with entry times the minute of each entry
   (``cohort.entry_minutes``, -1 where none), which the recorder makes into the ``observed``
   frame.

With ``observation.enabled = false`` every source is perfect (``Observer.perfect``): every value
of every day, entered at the hour the ``events`` log records the source's values
(``Observer.perfect_hour``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.engine.block import Block
from abm.model.catalog import observers


def attack_days(cohort: Any) -> np.ndarray:
    """``(n, days)``: an attack is under way at some time that day (``daily.has_migraine``)."""
    n, days = cohort.size, cohort.days
    counts = np.fromiter((len(o) for o in cohort.onsets), dtype=np.int64, count=n)
    patient = np.repeat(np.arange(n), counts)
    day = np.fromiter((d for o in cohort.onsets for d in o), dtype=np.int64,
                      count=int(counts.sum()))
    covered = np.minimum(cohort.attacks.span_days[patient, day].astype(np.int64), days - day)
    rows = np.repeat(np.arange(day.size), covered)
    offset = np.arange(rows.size) - np.repeat(np.cumsum(covered) - covered, covered)
    out = np.zeros(n * days, dtype=bool)
    out[patient[rows] * days + day[rows] + offset] = True
    return out.reshape(n, days)


def apply(cohort: Any) -> None:
    """Record the cohort through every source (see the module's docstring)."""
    model = cohort.model
    on = bool(cohort.config.observation.enabled)
    block = Block(cohort.config, cohort.calendar, cohort.shared, cohort.first_patient,
                  cohort.size)
    block.patients = cohort.patients
    block.columns = cohort.columns
    attacks = attack_days(cohort) if on else None
    cohort.observed, cohort.entry_minutes = {}, {}
    for source in observers():
        names = source.watched(model)
        if on:
            record = source.observe(block, names, attacks)
        else:
            record = source.perfect(block, names, source.perfect_hour)
        for name in names:
            cohort.observed[name] = (np.asarray(record.values[name]), record.recorded)
        if source.time_column is not None:
            minutes = (record.minutes if record.minutes is not None
                       else np.zeros(record.recorded.shape, np.int64))
            cohort.entry_minutes[source.time_column] = np.where(record.recorded, minutes, -1)
