"""Shared fixtures: simulations that several tests read but none modifies.

Results are session-scoped because a run is deterministic (same configuration and seed give the
same frames); tests must treat them as read-only.
"""

from __future__ import annotations

import pytest

import abm
from abm import Config

SMALL = {"population.num_patients": 60, "run.days": 90}


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
