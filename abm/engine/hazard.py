"""Onset probability and the calibration of each patient's baseline.

On a day d with no attack under way at its start, a patient's attack starts with probability

    p(d) = min(cap, baseline * F(d-1)),   F(d-1) = prod over risk factors k active on day d-1
                                                   of (1 + effect_k * susceptibility_k)

Day 0 has no logged past: ``F = 1``. The flags of a day are packed eight to a byte
(``abm.engine.derive.pack``), and each byte of a patient's flags indexes a table of the products
of its risk factors' factors (:func:`factor_tables`), so the vectorized pass and the scalar
refresh after an edit multiply the same numbers in the same order and give bit-identical
probabilities.

Calibration (:func:`calibrate_baselines`) chooses the baseline so that the *expected* share of
migraine days equals ``target_days_per_month / 30``, risk factors and feedback rules included. It
treats a patient's life as a renewal process: an attack covers ``L`` calendar days (known for
every potential onset day from the pre-drawn hour and duration), then free days follow until the
next onset. With ``pbar`` the mean onset probability of a free day and ``h1`` that of the first
free day after an attack (where the rules' edits act; ``abm.engine.calibration``), the expected
number of free days between attacks is ``(1 - h1) / pbar``, and the share of migraine days is
``EL / (EL + (1 - h1) / pbar)``. Both means are taken over the patient's own days, so the
realized share scatters around the target only by chance.
"""

from __future__ import annotations

import numpy as np

DAYS_PER_MONTH = 30.0


def factor_tables(susceptibility: np.ndarray, effects: np.ndarray) -> list[np.ndarray]:
    """Per byte of flags, ``(n, 2**bits)`` factors: for each value of the byte, the product of
    the factors of its active risk factors. ``susceptibility`` is ``(n, K)``."""
    n, k_total = susceptibility.shape
    tables = []
    for first in range(0, max(k_total, 1), 8):
        bits = min(8, k_total - first)
        table = np.ones((n, 1 << max(bits, 0)))
        values = np.arange(1 << max(bits, 0))
        for j in range(bits):
            active = (values >> j) & 1 == 1
            k = first + j
            table[:, active] = table[:, active] * (1.0 + effects[k] * susceptibility[:, k:k + 1])
        tables.append(table)
    return tables


def factors(tables: list[np.ndarray], codes: np.ndarray) -> np.ndarray:
    """``(n, days)`` products of the active factors for packed ``codes`` ``(bytes, n, days)``."""
    out = np.take_along_axis(tables[0], codes[0].astype(np.intp), axis=1)
    for b in range(1, len(tables)):
        out = out * np.take_along_axis(tables[b], codes[b].astype(np.intp), axis=1)
    return out


def previous_codes(codes: np.ndarray) -> np.ndarray:
    """Codes of day d-1 at each day d (0 on day 0)."""
    prev = np.zeros_like(codes)
    prev[..., 1:] = codes[..., :-1]
    return prev


def onset_probability(baseline: np.ndarray, tables: list[np.ndarray], prev_codes: np.ndarray,
                      cap: float) -> np.ndarray:
    """``(n, days)`` onset probabilities from the codes of the days before."""
    return np.minimum(cap, baseline[:, None] * factors(tables, prev_codes))


def calibrate_baselines(target_share: np.ndarray, f_all: np.ndarray, f_first: np.ndarray,
                        first_free_valid: np.ndarray, span_days: np.ndarray,
                        cap: float) -> np.ndarray:
    """Baselines that give each patient its target share of migraine days in expectation.

    ``f_all[i, d]`` is the factor deciding day d; ``f_first[i, t]`` the factor deciding the first
    free day after an attack starting on day t (the rules' edits applied), valid where that day
    is in the run.
    """
    mean_span = span_days.mean(axis=1)
    share = np.clip(target_share, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(share > 0, mean_span * (1 - share) / share, np.inf)
    n_valid = np.maximum(first_free_valid.sum(axis=1), 1)
    m_all = f_all.mean(axis=1)
    m_first = np.where(first_free_valid, f_first, 0.0).sum(axis=1) / n_valid

    def gap(b: np.ndarray, rows: np.ndarray) -> np.ndarray:
        pbar = np.minimum(cap, b[:, None] * f_all[rows]).mean(axis=1)
        h1 = np.where(first_free_valid[rows], np.minimum(cap, b[:, None] * f_first[rows]),
                      0.0).sum(axis=1) / n_valid[rows]
        return (1 - h1) - k[rows] * pbar

    with np.errstate(divide="ignore", invalid="ignore"):
        baseline = np.where(np.isfinite(k), 1.0 / (m_first + k * m_all), 0.0)
    capped = np.flatnonzero(baseline * f_all.max(axis=1, initial=1.0) > cap)
    if capped.size:
        lo = np.zeros(capped.size)
        hi = np.full(capped.size, cap)
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            too_low = gap(mid, capped) > 0
            lo = np.where(too_low, mid, lo)
            hi = np.where(too_low, hi, mid)
        baseline[capped] = 0.5 * (lo + hi)
    return np.clip(baseline, 0.0, cap)
