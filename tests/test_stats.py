"""The statistics used by validation, against hand computations and brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest

from abm.validation.stats import Z95, auroc, fit_logistic, mantel_haenszel_rr, predict_logistic

# --- Mantel-Haenszel risk ratio --------------------------------------------------------------


def test_z95_is_the_normal_quantile():
    assert 0.5 * math.erfc(-Z95 / math.sqrt(2)) == pytest.approx(0.975, abs=1e-12)


def test_one_stratum_is_the_plain_risk_ratio_with_katz_interval():
    # 10/100 exposed vs 5/100 unexposed: RR = 0.10 / 0.05 = 2. For one table the Greenland-
    # Robins variance reduces to Katz's var(log RR) = 1/a - 1/n1 + 1/c - 1/n0 = 0.28.
    rr, lo, hi = mantel_haenszel_rr([10], [100], [5], [100])
    assert rr == pytest.approx(2.0)
    se = math.sqrt(1 / 10 - 1 / 100 + 1 / 5 - 1 / 100)
    assert se == pytest.approx(math.sqrt(0.28))
    assert lo == pytest.approx(2.0 * math.exp(-1.959964 * se), rel=1e-6)
    assert hi == pytest.approx(2.0 * math.exp(1.959964 * se), rel=1e-6)
    # unequal group sizes: 8/20 vs 4/40 = 0.4 / 0.1 = 4
    rr, lo, hi = mantel_haenszel_rr([8], [20], [4], [40])
    se = math.sqrt(1 / 8 - 1 / 20 + 1 / 4 - 1 / 40)
    assert rr == pytest.approx(4.0)
    assert (lo, hi) == pytest.approx((4 * math.exp(-Z95 * se), 4 * math.exp(Z95 * se)))


def test_two_identical_strata_same_rr_narrower_ci():
    rr1, lo1, hi1 = mantel_haenszel_rr([10], [100], [5], [100])
    rr2, lo2, hi2 = mantel_haenszel_rr([10, 10], [100, 100], [5, 5], [100, 100])
    assert rr2 == pytest.approx(rr1)
    assert lo1 < lo2 < rr2 < hi2 < hi1
    # twice the data: the variance of log RR halves, so the half-width shrinks by sqrt(2)
    assert math.log(hi2 / rr2) == pytest.approx(math.log(hi1 / rr1) / math.sqrt(2))


def test_two_strata_by_hand():
    # stratum 1: 8/20 exposed, 4/40 unexposed (T = 60); stratum 2: 3/30 vs 2/30 (T = 60)
    # RR_MH = sum(a n0 / T) / sum(c n1 / T) = (8*40/60 + 3*30/60) / (4*20/60 + 2*30/60)
    #       = (16/3 + 3/2) / (4/3 + 1) = (41/6) / (7/3) = 41/14
    a, n1, c, n0 = [8, 3], [20, 30], [4, 2], [40, 30]
    rr, lo, hi = mantel_haenszel_rr(a, n1, c, n0)
    assert rr == pytest.approx(41 / 14)
    # Greenland-Robins: var = P / (R S), P = sum((n1 n0 (a + c) - a c T) / T^2)
    p = ((20 * 40 * 12 - 8 * 4 * 60) / 3600 + (30 * 30 * 5 - 3 * 2 * 60) / 3600)
    r, s = 41 / 6, 7 / 3
    se = math.sqrt(p / (r * s))
    assert (lo, hi) == pytest.approx((rr * math.exp(-Z95 * se), rr * math.exp(Z95 * se)))
    # the pooled estimate lies between the stratum estimates (4 and 1.5)
    assert 1.5 < rr < 4


def test_stratification_removes_confounding():
    # Equal risks within each stratum (0.1 and 0.5) but exposure concentrated in the high-risk
    # stratum: the crude RR is 4.7, the Mantel-Haenszel RR exactly 1.
    a, n1, c, n0 = [1, 450], [10, 900], [90, 5], [900, 10]
    crude = (sum(a) / sum(n1)) / (sum(c) / sum(n0))
    assert crude > 4
    rr, lo, hi = mantel_haenszel_rr(a, n1, c, n0)
    assert rr == pytest.approx(1.0)
    assert lo < 1 < hi


def test_uninformative_strata_drop_out_and_degenerate_input_is_nan():
    base = mantel_haenszel_rr([8, 3], [20, 30], [4, 2], [40, 30])
    padded = mantel_haenszel_rr([8, 3, 0, 2], [20, 30, 0, 5], [4, 2, 5, 0], [40, 30, 10, 0])
    assert padded == pytest.approx(base)
    assert all(math.isnan(v) for v in mantel_haenszel_rr([0], [10], [3], [10]))
    assert all(math.isnan(v) for v in mantel_haenszel_rr([3], [10], [0], [10]))
    assert all(math.isnan(v) for v in mantel_haenszel_rr([], [], [], []))


def test_mh_interval_covers_the_true_ratio_at_95_percent():
    # 600 simulated studies of 5 strata with baseline risks 0.05-0.25 and a true RR of 1.5.
    # Coverage of a valid 95% interval is binomial: SD = sqrt(0.95 * 0.05 / 600) = 0.0089, so
    # a band of +-0.035 (about 4 SD) holds unless the interval is miscalibrated.
    rng = np.random.default_rng(2024)
    base = np.array([0.05, 0.1, 0.15, 0.2, 0.25])
    n1 = np.array([300, 200, 400, 250, 350])
    n0 = np.array([500, 300, 200, 450, 350])
    hits, estimates = 0, []
    for _ in range(600):
        a = rng.binomial(n1, 1.5 * base)
        c = rng.binomial(n0, base)
        rr, lo, hi = mantel_haenszel_rr(a, n1, c, n0)
        hits += lo <= 1.5 <= hi
        estimates.append(math.log(rr))
    assert abs(hits / 600 - 0.95) < 0.035
    # and the estimator is centred: mean log RR within 4 SE of log 1.5
    est = np.array(estimates)
    assert abs(est.mean() - math.log(1.5)) < 4 * est.std() / math.sqrt(est.size)


# --- AUROC -----------------------------------------------------------------------------------


def _brute_auroc(score: np.ndarray, label: np.ndarray) -> float:
    pos, neg = score[label], score[~label]
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auroc_equals_pairwise_probability(seed):
    rng = np.random.default_rng(seed)
    label = rng.random(400) < 0.3
    continuous = rng.normal(size=400) + 0.8 * label
    tied = rng.integers(0, 6, 400) + label * rng.integers(0, 2, 400)  # many ties
    for score in (continuous, tied.astype(float)):
        assert auroc(score, label) == pytest.approx(_brute_auroc(score, label), abs=1e-12)


def test_auroc_edge_cases():
    label = np.array([False, False, True, True])
    assert auroc(np.array([0.1, 0.2, 0.3, 0.4]), label) == 1.0
    assert auroc(np.array([0.4, 0.3, 0.2, 0.1]), label) == 0.0
    assert auroc(np.array([0.5, 0.5, 0.5, 0.5]), label) == 0.5
    # one tie between a positive and a negative counts half: pairs (p, n) = 4, wins 3.5
    assert auroc(np.array([0.1, 0.3, 0.3, 0.4]), label) == pytest.approx(3.5 / 4)
    assert math.isnan(auroc(np.array([0.1, 0.2]), np.array([True, True])))
    assert math.isnan(auroc(np.array([0.1, 0.2]), np.array([False, False])))
    # invariant to a monotone transformation of the score
    rng = np.random.default_rng(5)
    s = rng.normal(size=200)
    y = rng.random(200) < 0.5
    assert auroc(np.exp(s), y) == pytest.approx(auroc(s, y))


# --- logistic regression ---------------------------------------------------------------------


def test_fit_logistic_recovers_known_coefficients():
    rng = np.random.default_rng(7)
    n = 20_000
    true = np.array([-1.0, 0.8, -0.5, 0.0, 0.3])
    x = rng.normal(size=(n, 4))
    x[:, 3] = 0.5 * x[:, 3] + 0.5 * x[:, 0]  # a correlated column
    design = np.column_stack([np.ones(n), x])
    y = (rng.random(n) < 1 / (1 + np.exp(-design @ true))).astype(float)
    beta = fit_logistic(x, y)
    # The MLE's covariance is the inverse Fisher information (X' W X)^-1, W = p (1 - p) at the
    # true coefficients; with n = 20,000 the SEs are about 0.02. Each estimate must lie within
    # 4 SE of the truth (a false alarm has probability 6e-5 per coefficient). The ridge term
    # (1e-3 against an information of ~3,000 per coefficient) biases by < 1e-6.
    p = 1 / (1 + np.exp(-design @ true))
    info = (design * (p * (1 - p))[:, None]).T @ design
    se = np.sqrt(np.diag(np.linalg.inv(info)))
    assert se.max() < 0.05
    assert np.all(np.abs(beta - true) < 4 * se), (beta, true, se)
    # predictions are the logistic of the linear predictor
    np.testing.assert_allclose(predict_logistic(beta, x), 1 / (1 + np.exp(-design @ beta)),
                               rtol=1e-12)


def test_fit_logistic_is_the_mle():
    # At the returned coefficients the score (gradient of the log-likelihood, minus the small
    # ridge on the slopes) is zero.
    rng = np.random.default_rng(8)
    x = rng.normal(size=(3000, 3))
    y = (rng.random(3000) < 0.3).astype(float)
    beta = fit_logistic(x, y, ridge=0.0)
    design = np.column_stack([np.ones(len(x)), x])
    prob = predict_logistic(beta, x)
    np.testing.assert_allclose(design.T @ (y - prob), 0, atol=1e-6)
    # intercept-only data: the intercept is the log odds of the mean
    assert beta[0] == pytest.approx(math.log(y.mean() / (1 - y.mean())), abs=0.1)
