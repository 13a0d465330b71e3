"""Named random streams: each component's purpose draws from a stream of its own.

One root ``numpy.random.SeedSequence(seed)``. A stream is keyed by what it belongs to, never by
shard, worker or the order of generation: ``(domain, purpose, block)``, where the domain says
patients or locations, the purpose is a stable 64-bit hash of ``"<component>/<purpose>"`` and the
block is the agent's index divided by :data:`STREAM_BLOCK`. Within a block, agent ``i`` always
takes row ``i % STREAM_BLOCK``, and a block is always drawn whole, so:

- adding a component or a purpose moves no other draw (its stream is new);
- adding a patient changes no other patient's numbers, and a shard or a worker that starts at
  patient 7 draws exactly what a whole run gives patient 7;
- daily values are drawn day-major (``(days, STREAM_BLOCK)``), so a 180-day run's numbers are the
  first 180 days of a 365-day run's: common random numbers across run lengths too.

Drawing 64 agents per generator instead of one generator per agent keeps the cost of making
generators (about 15 us each) out of the per-patient budget. SFC64 passes BigCrush and PractRand
and is the fastest of NumPy's bit generators here.
"""

from __future__ import annotations

import hashlib

import numpy as np

#: spawn-key domains; new domains get new numbers, existing numbers never change
PATIENT_DOMAIN = 1
LOCATION_DOMAIN = 2
#: agents per stream block
STREAM_BLOCK = 64


def purpose_key(owner: str, purpose: str) -> int:
    """A stable 64-bit key of ``owner``'s ``purpose`` (the same in every Python process)."""
    digest = hashlib.sha256(f"{owner}/{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def generator(seed: int, *key: int) -> np.random.Generator:
    """The generator of ``key`` under the root ``seed``."""
    return np.random.Generator(np.random.SFC64(np.random.SeedSequence(seed, spawn_key=key)))


def draw(seed: int, domain: int, owner: str, purpose: str, first: int, count: int,
         days: int | None = None, normal: bool = False) -> np.ndarray:
    """Uniforms in [0, 1) (or standard normals) of agents ``first … first + count - 1``:
    shape ``(count,)``, or ``(count, days)`` with ``days``."""
    key = purpose_key(owner, purpose)
    out = np.empty((count,) if days is None else (count, days))
    if count == 0:
        return out
    shape = (STREAM_BLOCK,) if days is None else (days, STREAM_BLOCK)
    for block in range(first // STREAM_BLOCK, (first + count - 1) // STREAM_BLOCK + 1):
        gen = generator(seed, domain, key, block)
        values = gen.standard_normal(shape) if normal else gen.random(shape)
        lo = max(first, block * STREAM_BLOCK)
        hi = min(first + count, (block + 1) * STREAM_BLOCK)
        part = values[..., lo - block * STREAM_BLOCK:hi - block * STREAM_BLOCK]
        out[lo - first:hi - first] = part if days is None else part.T
    return out
