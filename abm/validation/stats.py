"""The few statistics validation and experiments need, written out so their formulas are visible.

- Mantel–Haenszel pooled risk ratio over strata, with the Greenland & Robins (1985, Biometrics
  41:55) variance of its logarithm for a 95% interval.
- Logistic regression by Newton–Raphson (iteratively reweighted least squares) with a small ridge
  term, enough for a dozen standardized features.
- AUROC as the Mann–Whitney probability that a positive outranks a negative (ties count half).
- Student's t critical values (Abramowitz & Stegun 26.7.3-4, solved by bisection) and the 95%
  t interval of a mean, for summaries over a few replicates.
- The Wilson score interval of a proportion (Wilson 1927, JASA 22:209): unlike the normal
  approximation it stays within [0, 1] and keeps its coverage for shares near 0 or 1 and for
  small samples, where a share such as "0.2% of patients" would otherwise get a negative bound.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

Z95 = 1.959963984540054


def mantel_haenszel_rr(a: np.ndarray, n1: np.ndarray, c: np.ndarray, n0: np.ndarray
                       ) -> tuple[float, float, float]:
    """Pooled risk ratio and 95% CI from per-stratum counts.

    ``a`` events among ``n1`` exposed, ``c`` events among ``n0`` unexposed, one entry per stratum.
    Strata with no exposed or no unexposed observations carry no information and drop out.
    """
    a, n1, c, n0 = (np.asarray(x, dtype=np.float64) for x in (a, n1, c, n0))
    keep = (n1 > 0) & (n0 > 0)
    a, n1, c, n0 = a[keep], n1[keep], c[keep], n0[keep]
    total = n1 + n0
    r = (a * n0 / total).sum()
    s = (c * n1 / total).sum()
    if r == 0 or s == 0:
        return math.nan, math.nan, math.nan
    rr = r / s
    p = ((n1 * n0 * (a + c) - a * c * total) / total**2).sum()
    se = math.sqrt(p / (r * s))
    return rr, rr * math.exp(-Z95 * se), rr * math.exp(Z95 * se)


def fit_logistic(x: np.ndarray, y: np.ndarray, ridge: float = 1e-3, iterations: int = 25,
                 tolerance: float = 1e-8) -> np.ndarray:
    """Coefficients (intercept first) of a logistic regression of ``y`` on ``x``.

    Newton's steps start from the intercept-only fit (the log odds of ``y``'s mean) and stop
    when no coefficient moves by more than ``tolerance``.

    Needs rows of both outcomes: with one outcome only the intercept has no finite estimate, and
    with no rows the system is singular. Callers check first (``abm.validation``); here such
    input is a ``ValueError`` instead of numpy's ``LinAlgError: Singular matrix``.
    """
    y = np.asarray(y)
    if len(x) == 0 or y.min() == y.max():
        raise ValueError("logistic regression needs observations of both outcomes")
    design = np.column_stack([np.ones(len(x)), x])
    beta = np.zeros(design.shape[1])
    share = float(np.mean(y))
    beta[0] = math.log(share / (1 - share))
    penalty = ridge * np.eye(design.shape[1])
    penalty[0, 0] = 0.0
    for _ in range(iterations):
        eta = np.clip(design @ beta, -30, 30)
        prob = 1.0 / (1.0 + np.exp(-eta))
        weight = prob * (1 - prob)
        gradient = design.T @ (y - prob) - penalty @ beta
        hessian = design.T @ (design * weight[:, None]) + penalty  # contiguous: fast
        step = np.linalg.solve(hessian, gradient)
        beta = beta + step
        if np.max(np.abs(step)) < tolerance:
            break
    return beta


def predict_logistic(beta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Predicted probabilities."""
    eta = np.clip(beta[0] + x @ beta[1:], -30, 30)
    return 1.0 / (1.0 + np.exp(-eta))


def wilson_interval(successes: float, n: float, z: float = Z95) -> tuple[float, float]:
    """95% (by default) Wilson score interval of the proportion ``successes / n``, within [0, 1].

    ``successes`` may be fractional (a share times its denominator, summed over runs). NaN for
    ``n == 0``: a share of nothing has no interval.
    """
    if not n > 0:
        return math.nan, math.nan
    p = min(max(successes / n, 0.0), 1.0)
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # at p = 0 (or 1) the bound is exactly 0 (or 1); rounding would put it a hair inside
    low = 0.0 if p == 0 else max(0.0, centre - half)
    high = 1.0 if p == 1 else min(1.0, centre + half)
    return low, high


def auroc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve; NaN when one class is absent."""
    label = np.asarray(label, dtype=bool)
    n_pos = int(label.sum())
    n_neg = label.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    order = np.argsort(score, kind="mergesort")
    sorted_score = score[order]
    ranks = np.empty(score.size)
    # average ranks over ties
    boundaries = np.flatnonzero(np.diff(sorted_score)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [score.size]])
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    return float((ranks[label].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _t_two_sided_coverage(t: float, df: int) -> float:
    """P(|T| <= t) for Student's t with integer ``df`` (Abramowitz & Stegun 26.7.3-4)."""
    theta = math.atan(t / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    if df % 2 == 1:
        series, term = 0.0, math.cos(theta)
        for k in range((df - 1) // 2):
            series += term
            term *= c2 * (2 * k + 2) / (2 * k + 3)
        return 2.0 / math.pi * (theta + math.sin(theta) * series)
    total, term = 0.0, 1.0
    for k in range(df // 2):
        total += term
        term *= c2 * (2 * k + 1) / (2 * k + 2)
    return math.sin(theta) * total


def t_critical(df: int, coverage: float = 0.95) -> float:
    """The two-sided critical value of Student's t: P(|T| <= t) = coverage."""
    if df < 1:
        return math.nan
    lo, hi = 0.0, 1.0
    while _t_two_sided_coverage(hi, df) < coverage:
        hi *= 2.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if _t_two_sided_coverage(mid, df) < coverage:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def mean_interval(values: Iterable[float]) -> tuple[int, float, float, float]:
    """``(n, mean, low, high)``: the mean of the finite values and its 95% t interval."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    n = int(x.size)
    if n == 0:
        return 0, math.nan, math.nan, math.nan
    mean = float(x.mean())
    if n == 1:
        return 1, mean, math.nan, math.nan
    half = t_critical(n - 1) * float(x.std(ddof=1)) / math.sqrt(n)
    return n, mean, mean - half, mean + half


def share_interval(shares: Iterable[float | None], units: Iterable[int | None]
                   ) -> tuple[int, float, float, float]:
    """``(n, mean, low, high)`` of shares measured on ``units`` units each (one per run): the mean
    share of the runs that have a value, and the 95% Wilson interval of a proportion of that size
    among all their units together. ``n`` counts the runs used; a run with no value or no units
    is left out."""
    runs = [(float(s), int(u)) for s, u in zip(shares, units, strict=True)
            if s is not None and u and math.isfinite(s)]
    if not runs:
        return 0, math.nan, math.nan, math.nan
    total = sum(u for _, u in runs)
    mean = sum(s for s, _ in runs) / len(runs)
    low, high = wilson_interval(mean * total, total)
    return len(runs), mean, low, high


def mantel_haenszel_or(a: np.ndarray, n1: np.ndarray, c: np.ndarray, n0: np.ndarray) -> float:
    """Pooled odds ratio from per-stratum counts (as :func:`mantel_haenszel_rr`): the measure
    case-crossover and diary studies report, so literature targets compare like with like."""
    a, n1, c, n0 = (np.asarray(x, dtype=np.float64) for x in (a, n1, c, n0))
    keep = (n1 > 0) & (n0 > 0)
    a, n1, c, n0 = a[keep], n1[keep], c[keep], n0[keep]
    total = n1 + n0
    r = (a * (n0 - c) / total).sum()
    s = (c * (n1 - a) / total).sum()
    return float(r / s) if r > 0 and s > 0 else math.nan


def poisson_rate_interval(count: int, exposure: float) -> tuple[float, float]:
    """95% interval of ``count / exposure`` (the square-root approximation, good from a few
    events; 0 events: the upper bound 3 / exposure)."""
    if exposure <= 0:
        return math.nan, math.nan
    if count == 0:
        return 0.0, 3.0 / exposure
    half = Z95 / 2  # the square root of a Poisson count has SD about 1/2
    return (max(0.0, math.sqrt(count) - half) ** 2 / exposure,
            (math.sqrt(count) + half) ** 2 / exposure)
