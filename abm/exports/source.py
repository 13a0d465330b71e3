"""What an export is made from: the observed record (default) or the truth.

Exports describe what a study would have: by default the values the observation layer recorded
(the ``observed`` frame, ``abm.model.observation``); with ``--truth`` the ``daily`` frame's, every
value on every day. The labels (onsets, attacks, the days an attack is under way) are the truth
either way: they are what a model is asked to predict.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from abm.errors import InputError
from abm.output import schemas


def observed_daily(frames: dict[str, pl.DataFrame], model: Any) -> pl.DataFrame:
    """``daily`` as the observation layer recorded it: the same rows and columns, each observed
    column as recorded (null where nothing was), the keys, the labels and the columns no source
    records (derived ones such as ``days_to_menses`` or the trigger flags, a user's own
    modality) as they are, and the entry-time columns of ``observed`` (``diary_time``,
    ``wearable_time``) added."""
    if frames.get("observed") is None:
        raise InputError("this output has no observed frame (it was written before the "
                         "observation layer); export the truth with --truth, or run it again")
    daily, observed = frames["daily"], frames["observed"]
    recorded = [c for c in observed.columns if c not in schemas.OBSERVED_KEYS]
    base = daily.select(c for c in daily.columns if c not in recorded)
    joined = base.join(observed.select("patient_id", "day", *recorded),
                       on=["patient_id", "day"], how="left", maintain_order="left")
    return joined.select(*daily.columns,
                         *(c for c in recorded if c not in daily.columns))


def observed_events(frames: dict[str, pl.DataFrame], model: Any) -> dict[str, pl.DataFrame]:
    """The frames an event log is made of, from what was observed: ``daily`` as
    :func:`observed_daily` makes it (the attributes of the log events), and ``events`` without
    the patients' log events (stress, diet, sleep) of days their source recorded nothing, the
    others carrying the recorded value. Weather, attack, feedback and trigger events are kept
    as they are (the triggers are the model's flags, computed from the truth)."""
    import numpy as np

    daily = observed_daily(frames, model)
    events = frames["events"]
    kinds = events.schema["event"]
    pieces, logged = [], []
    for component in model.components:
        names = [c.name for c in component.outputs() if c.frame == "daily"]
        own = [c for c in names if c in daily.columns and daily[c].null_count() < daily.height]
        seen = pl.any_horizontal(pl.col(c).is_not_null() for c in own) if own else pl.lit(False)
        for entry in component.logs:
            if entry.per_location:
                continue
            logged.append(entry.kind)
            if entry.column is not None:
                value, recorded = pl.col(entry.column).cast(pl.Float64), \
                    pl.col(entry.column).is_not_null()
            elif entry.value is not None:
                arrays = {c: daily[c].fill_null(0).to_numpy() for c in names}
                value = pl.lit(pl.Series(np.asarray(entry.value(arrays), dtype=np.float64)))
                recorded = seen
            else:  # a component read back from a manifest: its value function is not there
                value, recorded = pl.lit(None, dtype=pl.Float64), seen
            pieces.append(daily.select(
                "patient_id", "date", pl.lit(entry.kind).cast(kinds).alias("event"),
                value.alias("__value"), recorded.alias("__seen")))
    if not pieces:
        return {**frames, "daily": daily}
    joined = events.with_columns(pl.col("time").dt.date().alias("__date")).join(
        pl.concat(pieces).rename({"date": "__date"}), on=["patient_id", "__date", "event"],
        how="left", maintain_order="left")
    is_log = pl.col("event").is_in(logged)
    kept = (joined.filter(~is_log | pl.col("__seen").fill_null(False))
            .with_columns(pl.when(is_log & pl.col("__value").is_not_null())
                          .then(pl.col("__value")).otherwise(pl.col("value")).alias("value"))
            .select(events.columns))
    return {**frames, "daily": daily, "events": kept}
