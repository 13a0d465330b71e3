"""Random processes shared by modalities."""

from __future__ import annotations

import numpy as np


def ar1(shocks: np.ndarray, persistence: float) -> np.ndarray:
    """Stationary AR(1) along the last axis with unit-variance ``shocks`` (keeps their SD)."""
    out = np.empty_like(shocks)
    scale = np.sqrt(1 - persistence * persistence)
    state = shocks[..., 0]
    out[..., 0] = state
    for d in range(1, shocks.shape[-1]):
        state = persistence * state + scale * shocks[..., d]
        out[..., d] = state
    return out
