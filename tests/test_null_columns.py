"""Columns with "no value" days: ``Column(..., null=...)`` is stored as a value, shown as null."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

import abm
from abm.engine.block import Block
from abm.model.component import Column, Component, RiskFactor, Values
from abm.validation.checks import run_checks

NONE = -1


class Countdown(Component):
    """Days left of a personal countdown, for every other patient; -1 (null) for the others."""

    name = "countdown"
    purposes = ("start",)
    columns = (
        Column("days_left", pl.Int16, "days", "days left, null without a countdown", null=NONE),
        Column("first_day_left", pl.Int16, "days", "the countdown's start, null without one",
               frame="patients", null=NONE),
    )

    def draw(self, block: Block) -> dict[str, np.ndarray]:
        start = (block.uniform(self, "start") * 20).astype(np.int16)
        has = (np.arange(block.first, block.first + block.count) % 2) == 0
        left = np.maximum(start[:, None] - np.arange(block.days), 0)
        return {"days_left": np.where(has[:, None], left, NONE).astype(np.int16),
                "first_day_left": np.where(has, start, NONE).astype(np.int16)}


class LastDays(RiskFactor):
    """The last three days of a countdown; the stored -1 must not count."""

    name = "last_days"
    trigger = "last_days"
    inputs = (("days_left", 0),)
    meaning = "days_left 0-2"

    def flag(self, v: Values, config: Any) -> Any:
        return (v["days_left", 0] >= 0) & (v["days_left", 0] <= 2)

    def effect(self, config: Any) -> float:
        return 0.5


def test_stored_none_becomes_null_in_the_frames() -> None:
    config = abm.Config().replace(**{"population.num_patients": 12, "run.days": 30})
    result = abm.simulate(config, components=[Countdown(), LastDays()])
    daily, patients = result.daily, result.patients
    assert daily.schema["days_left"] == pl.Int16
    assert patients.schema["first_day_left"] == pl.Int16
    index = daily["patient_id"].cast(pl.String).str.slice(1).cast(pl.Int64)
    without = (index % 2) == 1
    # null exactly for the patients without a countdown, and never the stored -1
    assert daily["days_left"].is_null().to_list() == without.to_list()
    assert (daily["days_left"].drop_nulls() >= 0).all()
    first = patients["patient_id"].cast(pl.String).str.slice(1).cast(pl.Int64) % 2 == 1
    assert patients["first_day_left"].is_null().to_list() == first.to_list()
    # the flag is off on null days, and validation recomputes it from the frame exactly
    assert not daily.filter(pl.col("days_left").is_null())["last_days_trigger"].any()
    assert daily.filter(pl.col("days_left") <= 2)["last_days_trigger"].all()
    model = result.model
    checks = {c.name: c for c in run_checks(result.frames(), config, resimulate=False,
                                            model=model)}
    assert checks["triggers recomputable"].passed, checks["triggers recomputable"].measured


def test_validation_recomputes_flags_from_the_stored_value() -> None:
    # A flag that forgets the stored "none" (-1 <= 2) is on for patients without a countdown.
    # That is the component's own definition: recomputing from the frame restores -1 in place of
    # null, so validation sees what the engine saw (a null compares as false and would not).
    class Careless(LastDays):
        def flag(self, v: Values, config: Any) -> Any:
            return v["days_left", 0] <= 2

    config = abm.Config().replace(**{"population.num_patients": 6, "run.days": 20})
    result = abm.simulate(config, components=[Countdown(), Careless()])
    on_null = result.daily.filter(pl.col("days_left").is_null())["last_days_trigger"]
    assert on_null.len() > 0 and on_null.all()
    checks = {c.name: c for c in run_checks(result.frames(), config, resimulate=False,
                                            model=result.model)}
    assert checks["triggers recomputable"].passed
