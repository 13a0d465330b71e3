"""Onset probability and the calibration of each patient's baseline (SPEC §4).

On a day d with no attack under way at its start, a patient's attack starts with probability

    p(d) = min(cap, baseline * F[code(d-1)])

where ``code(d-1)`` packs the triggers active on day d-1 (``abm.model.triggers``) and
``F[code] = prod over active triggers k of (1 + effect_k * susceptibility_k)`` is a per-patient
table of 16 factors. The same table serves the vectorized pass and the scalar refresh after a
feedback edit, so both give bit-identical probabilities. Day 0 has no logged past: ``F[0] = 1``.

Calibration (``calibrate_baselines``) chooses the baseline so that the *expected* share of
migraine days equals ``target_days_per_month / 30``, triggers and the stress feedback included.
It treats a patient's life as a renewal process: an attack covers ``L`` calendar days (known for
every potential onset day from the pre-drawn hour and duration), then free days follow until the
next onset. With ``pbar`` the mean onset probability of a free day and ``h1`` that of the first
free day after an attack (where the feedback acts), the expected number of free days between
attacks is ``(1 - h1) / pbar``, and the share of migraine days is ``EL / (EL + (1 - h1) / pbar)``.
Both means are taken over the patient's own trigger days, so the realized share scatters around
the target only by chance.
"""

from __future__ import annotations

import numpy as np

from abm.model.triggers import DIET, SLEEP, STRESS, WEATHER

DAYS_PER_MONTH = 30.0
_ORDER = (WEATHER, SLEEP, STRESS, DIET)


def factor_table(susceptibility: np.ndarray, effects: tuple[float, float, float, float]
                 ) -> np.ndarray:
    """``(n, 16)`` factors: for each code, the product of the active triggers' factors."""
    n = susceptibility.shape[0]
    table = np.ones((n, 16))
    codes = np.arange(16)
    for k, bit in enumerate(_ORDER):
        active = (codes & bit) != 0
        table[:, active] = table[:, active] * (1.0 + effects[k] * susceptibility[:, k:k + 1])
    return table


def previous_codes(codes: np.ndarray) -> np.ndarray:
    """Code of day d-1 for each day d (0 on day 0)."""
    prev = np.zeros_like(codes)
    prev[:, 1:] = codes[:, :-1]
    return prev


def onset_probability(baseline: np.ndarray, table: np.ndarray, prev_codes: np.ndarray,
                      cap: float) -> np.ndarray:
    """``(n, days)`` onset probabilities from the code of the day before."""
    factors = np.take_along_axis(table, prev_codes.astype(np.intp), axis=1)
    return np.minimum(cap, baseline[:, None] * factors)


def calibrate_baselines(target_share: np.ndarray, table: np.ndarray, prev_codes: np.ndarray,
                        first_free_codes: np.ndarray, first_free_valid: np.ndarray,
                        span_days: np.ndarray, cap: float) -> np.ndarray:
    """Baselines that give each patient its target share of migraine days in expectation.

    ``first_free_codes[i, t]`` is the code that decides the first free day after an attack
    starting on day t (with the feedback's edits applied), valid where that day is in the run.
    """
    mean_span = span_days.mean(axis=1)
    share = np.clip(target_share, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(share > 0, mean_span * (1 - share) / share, np.inf)
    f_all = np.take_along_axis(table, prev_codes.astype(np.intp), axis=1)
    f_first = np.take_along_axis(table, first_free_codes.astype(np.intp), axis=1)
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
    capped = np.flatnonzero(baseline * f_all.max(axis=1) > cap)
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
