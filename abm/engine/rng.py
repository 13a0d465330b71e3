"""Random streams keyed by what they belong to, never by shard or worker.

One root ``numpy.random.SeedSequence(seed)`` (SPEC §1). Each patient and each location gets its
own child sequence whose ``spawn_key`` is ``(domain, index)``; building the child directly from the
key, instead of spawning children in order, is what lets a shard or a worker make patient 7's
stream without making patients 0–6 first, and what makes adding patient N leave patients 0…N-1
untouched. Draws from a stream follow a fixed layout (see ``abm.engine.draws``) that does not depend
on configuration values, so two variants of a configuration see the same numbers wherever the
variant does not change them (common random numbers).

SFC64 is used as the bit generator: it passes BigCrush and PractRand and is the fastest of NumPy's
generators on this hardware (measured in ``benchmarks/``).
"""

from __future__ import annotations

import numpy as np

#: spawn-key domains; new domains get new numbers, existing numbers never change.
PATIENT_DOMAIN = 1
LOCATION_DOMAIN = 2
SPLIT_DOMAIN = 3


def stream(seed: int, domain: int, index: int) -> np.random.Generator:
    """The generator of one agent: ``index`` within ``domain``, under the root ``seed``."""
    sequence = np.random.SeedSequence(seed, spawn_key=(domain, index))
    return np.random.Generator(np.random.SFC64(sequence))


def patient_stream(seed: int, patient_index: int) -> np.random.Generator:
    """The stream of patient ``patient_index`` (0-based)."""
    return stream(seed, PATIENT_DOMAIN, patient_index)


def location_stream(seed: int, location_index: int) -> np.random.Generator:
    """The stream of location ``location_index`` (0-based)."""
    return stream(seed, LOCATION_DOMAIN, location_index)
