"""Onset probability and the calibration of each patient's baseline.

On a day d with no attack under way at its start, a patient's attack starts with probability

    p(d) = min(cap, baseline * D(d) * F(d-1)),   F(d-1) = prod over risk factors k active on day d-1
                                                   of (1 + effect_k * susceptibility_k)

``D(d)`` is the patient's slow frequency drift (the ``frequency_drift`` column; 1 without drift).
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

from typing import Any

import numpy as np

from abm.engine.levels import flag_fields

DAYS_PER_MONTH = 30.0


def factor_tables(susceptibility: np.ndarray, effects: np.ndarray,
                  fields: list[Any] | None = None,
                  doses: list[tuple[float, ...]] | None = None) -> list[np.ndarray]:
    """Per byte of packed levels, ``(n, 2**bits)`` factors: for each value of the byte, the
    product of the factors ``1 + effect * dose * susceptibility`` of its risk factors at their
    levels. ``susceptibility`` is ``(n, K)``; ``fields`` say where each level lives
    (:class:`~abm.engine.model.FlagField`; default one bit each, eight to a byte) and ``doses``
    the relative effect of each level (default one level of dose 1)."""
    n, k_total = susceptibility.shape
    if fields is None:
        fields = flag_fields([1] * k_total)
    doses = doses if doses is not None else [(1.0,)] * k_total
    n_bytes = max((f.byte + 1 for f in fields), default=1)
    tables = []
    for byte in range(n_bytes):
        mine = [k for k, f in enumerate(fields) if f.byte == byte]
        bits = max((fields[k].shift + fields[k].width for k in mine), default=0)
        table = np.ones((n, 1 << bits))
        values = np.arange(1 << bits)
        for k in mine:
            level = (values >> fields[k].shift) & ((1 << fields[k].width) - 1)
            for dose_level, dose in enumerate(doses[k], start=1):
                active = level == dose_level
                table[:, active] = table[:, active] * (
                    1.0 + effects[k] * dose * susceptibility[:, k:k + 1])
        tables.append(table)
    return tables


def factors(tables: list[np.ndarray], codes: np.ndarray) -> np.ndarray:
    """``(n, days)`` products of the active factors for packed ``codes`` ``(bytes, n, days)``."""
    out = np.take_along_axis(tables[0], codes[0].astype(np.intp), axis=1)
    for b in range(1, len(tables)):
        out = out * np.take_along_axis(tables[b], codes[b].astype(np.intp), axis=1)
    return out


def factors_at(tables: list[np.ndarray], rows: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The products of the active factors of patients ``rows`` for their packed ``codes``
    ``(bytes, k)``, one each (multiplied in the order :func:`factors` uses)."""
    out = tables[0][rows, codes[0].astype(np.intp)]
    for b in range(1, len(tables)):
        out = out * tables[b][rows, codes[b].astype(np.intp)]
    return out


def previous_codes(codes: np.ndarray) -> np.ndarray:
    """Codes of day d-1 at each day d (0 on day 0)."""
    prev = np.zeros_like(codes)
    prev[..., 1:] = codes[..., :-1]
    return prev


def onset_probability(baseline: np.ndarray, tables: list[np.ndarray], prev_codes: np.ndarray,
                      cap: float, drift: np.ndarray | None = None,
                      multiplier: np.ndarray | None = None) -> np.ndarray:
    """``(n, days)`` onset probabilities from the codes of the days before; ``drift``
    ``(n, days)``, if given, multiplies the baseline of each day first (the patient's frequency
    drift: ``min(cap, (baseline x drift) x factors)``, the order the scalar refresh uses), then
    ``multiplier`` (the state multiplier, ``(baseline x drift) x multiplier``)."""
    scale = baseline[:, None] if drift is None else baseline[:, None] * drift.astype(np.float64)
    if multiplier is not None:
        scale = scale * multiplier.astype(np.float64)
    return np.minimum(cap, scale * factors(tables, prev_codes))


def calibrate_baselines(target_share: np.ndarray, f_all: np.ndarray,
                        firsts: list[tuple[np.ndarray, np.ndarray]], span_days: np.ndarray,
                        cap: float) -> np.ndarray:
    """Baselines that give each patient its target share of migraine days in expectation.

    ``f_all[i, d]`` is the factor deciding day d. ``firsts[j - 1]`` is ``(f_j, valid_j)``:
    ``f_j[i, t]`` the factor deciding the j-th free day after an attack starting on day t (the
    rules' edits applied), valid where that day is in the run; free days beyond the last of
    them are decided by the plain factors. With ``S_j(t)`` the chance that free days 1…j after
    the attack on t pass without an onset, the expected free days before the next onset are
    ``N = sum_j E[S_j] + E[S_K] (1 - pbar) / pbar``; the baseline solves ``N = EL (1 - share) /
    share``. Where no factor times the baseline reaches the cap, ``E[S_j]`` is a polynomial in
    the baseline whose coefficients (means of products of the factors) are computed once, and
    with one free day it has the closed form ``1 / (m_1 + k m)``; patients at the cap are solved
    day by day.
    """
    # Attacks start where the factor is high, so the attacks a patient has are weighted by it:
    # the mean span and the first free days after an attack are averaged over onset days t
    # with weights f_all[t] (an onset on t is that much likelier), which is what makes longer
    # attacks on high-risk days (menstrual attacks) and a drifting frequency come out on target
    weight = f_all / np.maximum(f_all.sum(axis=1, keepdims=True), 1e-300)
    mean_span = (span_days * weight).sum(axis=1)
    share = np.clip(target_share, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(share > 0, mean_span * (1 - share) / share, np.inf)
    K = len(firsts)
    valid = firsts[-1][1]
    # patients whose run is too short for every free day to fit: average over the first one
    short = valid.sum(axis=1) == 0
    valid = np.where(short[:, None], firsts[0][1], valid)
    weight_valid = np.where(valid, weight, 0.0)
    n_valid = np.maximum(weight_valid.sum(axis=1), 1e-300)
    factors_j = [np.where(valid, f, 0.0) for f, _ in firsts]
    # Free days, in turn, fall more often where the factor is low: the mean hazard of free days
    # weights each day by its chance of being free (:func:`free_day_weights`)
    free_weight = free_day_weights(share, f_all)
    m_all = (f_all * free_weight).sum(axis=1) / np.maximum(free_weight.sum(axis=1), 1e-300)
    # means over t of the products of each subset of the first-free-day factors
    subset_mean = {0: np.ones(f_all.shape[0])}
    for mask in range(1, 1 << K):
        product = weight_valid
        for i in range(K):
            if mask >> i & 1:
                product = product * factors_j[i]
        subset_mean[mask] = product.sum(axis=1) / n_valid

    # E[S_j] as a polynomial in b: coefficient m is (-1)^m times the sum of the subset means of
    # size m within the first j free days (computed once; each bisection step is then cheap)
    coefficients = []
    for j in range(1, K + 1):
        c = np.zeros((j + 1, f_all.shape[0]))
        for mask in range(1 << j):
            size = bin(mask).count("1")
            c[size] += (-1) ** size * subset_mean[mask]
        coefficients.append(c)

    def free_days(b: np.ndarray) -> np.ndarray:
        """N(b) with no factor capped (the polynomial form)."""
        total = np.zeros_like(b)
        survive = total
        for c in coefficients:
            survive = c[-1].copy()
            for row in c[-2::-1]:  # Horner
                survive = survive * b + row
            total = total + survive
        pbar = b * m_all
        with np.errstate(divide="ignore", invalid="ignore"):
            return total + survive * (1 - pbar) / pbar

    with np.errstate(divide="ignore", invalid="ignore"):
        baseline = np.where(np.isfinite(k), 1.0 / (subset_mean[1] + k * m_all), 0.0)
    finite = np.isfinite(k) & (baseline > 0)
    if K > 1 and finite.any():
        # N decreases with b: bisect between 0 and the cap (or where the closed form sits)
        lo = np.zeros(baseline.shape)
        hi = np.full(baseline.shape, cap)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            too_low = free_days(mid) > k
            lo = np.where(too_low, mid, lo)
            hi = np.where(too_low, hi, mid)
        baseline = np.where(finite, 0.5 * (lo + hi), baseline)
    peak = np.maximum(f_all.max(axis=1, initial=1.0),
                      np.max([f.max(axis=1, initial=1.0) for f in factors_j], axis=0))
    capped = np.flatnonzero(np.isfinite(k) & (baseline * peak > cap))
    if capped.size:
        baseline[capped] = _solve_capped(k[capped], f_all[capped],
                                         [f[capped] for f in factors_j],
                                         weight_valid[capped], n_valid[capped], cap)
    return np.clip(baseline, 0.0, cap)


def free_day_weights(share: np.ndarray, f_all: np.ndarray) -> np.ndarray:
    """``(n, days)``: how likely each day is to be free of migraine, up to a constant, for
    patients whose target share of migraine days is ``share``: ``1 - share f / mean(f)`` (at
    least 0.05), the target share spread over the days in proportion to their factor.
    Calibration averages the hazard of free days with these weights, since free days gather
    where the factor is low (a drifting frequency: measured by ``tests/test_attack_realism.py``;
    the odds form ``1 / (1 + odds f / mean(f))`` leaves the bias there)."""
    mean_f = np.maximum(f_all.mean(axis=1, keepdims=True), 1e-300)
    return 1.0 - np.minimum(0.95, share[:, None] * f_all / mean_f)


def _solve_capped(k: np.ndarray, f_all: np.ndarray, factors_j: list[np.ndarray],
                  weight_valid: np.ndarray, n_valid: np.ndarray, cap: float) -> np.ndarray:
    """The baselines of patients some of whose days reach the cap, by bisection on the exact
    expected free days (every hazard capped day by day; onset days weighted as above). These
    are chronic patients, most of whose days are migraine days; the mean hazard of their free
    days is taken over all days (weighting it as for the others overshoots their targets:
    measured by ``tests/test_edits.py``)."""
    lo = np.zeros(k.size)
    hi = np.full(k.size, cap)
    for _ in range(40):
        b = 0.5 * (lo + hi)
        pbar = np.minimum(cap, b[:, None] * f_all).mean(axis=1)
        survive = weight_valid
        total = np.zeros(k.size)
        for f in factors_j:
            survive = survive * (1 - np.minimum(cap, b[:, None] * f))
            total = total + survive.sum(axis=1) / n_valid
        last = survive.sum(axis=1) / n_valid
        with np.errstate(divide="ignore", invalid="ignore"):
            n_free = total + last * (1 - pbar) / pbar
        too_low = n_free > k
        lo = np.where(too_low, b, lo)
        hi = np.where(too_low, hi, b)
    return 0.5 * (lo + hi)
