"""Processes over days shared by components: a random AR(1) series, spans of days marked, and
counts over a trailing window."""

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


def marked_days(rows: np.ndarray, first: np.ndarray, end: np.ndarray, n: int,
                days: int) -> np.ndarray:
    """``(n, days)`` bool: True on the days ``first[k] <= d < end[k]`` of patient ``rows[k]``
    (clipped to the run), for any number of spans, overlapping or not."""
    out = np.zeros((n, days + 1), dtype=np.int32)
    first, end = np.clip(first, 0, days), np.clip(end, 0, days)
    # +1 on the first day, -1 on the day after the last: a running sum marks the days between
    np.add.at(out, (rows, first), 1)
    np.add.at(out, (rows, end), -1)
    return np.cumsum(out, axis=1)[:, :days] > 0


def trailing_count(flags: np.ndarray, window: int) -> np.ndarray:
    """``(n, days)``: how many of the ``window`` days up to and including each day are flagged."""
    total = np.cumsum(flags, axis=1, dtype=np.int32)
    out = total.copy()
    out[:, window:] -= total[:, :-window]
    return out
