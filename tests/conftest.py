"""Shared fixtures: simulations that several tests read but none modifies.

Results are session-scoped because a run is deterministic (same configuration and seed give the
same frames); tests must treat them as read-only.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import abm
from abm import Config
from abm.engine.block import Block
from abm.engine.calendar import Calendar
from abm.engine.model import Model
from abm.engine.simulation import draw_columns

SMALL = {"population.num_patients": 60, "run.days": 90}


def drawn_block(config: Config, first: int = 0, count: int | None = None) -> Block:
    """Patients ``first …`` of ``config`` (all by default), every component drawn, nothing
    simulated (columns in ``.columns``, patient attributes in ``.patients``)."""
    model = Model.build(config)
    calendar = Calendar(config.run.start, config.run.days)
    shared = {c.name: c.prepare(config, calendar) for c in model.components}
    block = Block(config, calendar, shared, first,
                  config.population.num_patients if count is None else count)
    draw_columns(model, block)
    return block


@pytest.fixture(scope="session")
def small_config() -> Config:
    """60 patients x 90 days, default seed (42) and feedback on."""
    return Config().replace(**SMALL)


@pytest.fixture(scope="session")
def small_result(small_config: Config) -> abm.Result:
    """The run of :func:`small_config`."""
    return abm.simulate(small_config)


@pytest.fixture(scope="session")
def small_result_no_feedback(small_config: Config) -> abm.Result:
    """The same cohort and seed with every feedback rule switched off."""
    return abm.simulate(small_config.replace(**{"feedback.stress.enabled": False}))


@pytest.fixture(scope="session")
def default_result() -> abm.Result:
    """The user's default design: 1000 patients x 180 days, seed 42 (about 2-3 s)."""
    return abm.simulate(Config())


def cycle_shares(has: np.ndarray, onset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each patient's realized share of migraine days and its standard error, from the
    patient's own cycles (onset to next onset): the share is a ratio estimator sum(L) / sum(C)
    whose SE follows from the delta method, sqrt(var(L - s C) * k) / sum(C) for k cycles. NaN
    for patients with fewer than 4 onsets. ``has`` and ``onset`` are ``(patients, days)``."""
    n = has.shape[0]
    realized = np.full(n, np.nan)
    se = np.full(n, np.nan)
    for i in range(n):
        starts = np.flatnonzero(onset[i])
        if starts.size < 4:
            continue
        migraine = np.add.reduceat(has[i, starts[0]:starts[-1]].astype(float),
                                   starts[:-1] - starts[0])
        cycle = np.diff(starts).astype(float)
        realized[i] = migraine.sum() / cycle.sum()
        se[i] = math.sqrt((migraine - realized[i] * cycle).var(ddof=1) * cycle.size) / cycle.sum()
    return realized, se
