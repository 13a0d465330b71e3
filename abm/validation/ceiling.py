"""The ceiling a model of a run can reach, beside simple baselines: ``abm validate``'s rows and
``abm benchmark``'s table.

Every row predicts an onset on day d+1 from what is known at the end of day d, on the days at
risk (no attack under way at the start of d+1; the risk set of the trigger effects), d+1 from
the run's second day on.

- **oracle**: the ground-truth onset probability of day d+1 (``p_onset``, recomputed from the
  frames by :func:`abm.validation.configured.onset_probabilities`). No model of these data can
  rank days better in expectation: it is the ceiling. *Pooled*: one AUROC over every at-risk day
  of every patient (it rewards telling frequent from rare patients apart). *Within-person*: the
  mean over patients of each patient's own AUROC (patients with at least one onset and one
  onset-free at-risk day), with the 95% t interval over patients: how well the day-to-day
  changes of risk can be told apart, the figure diary studies report (Holsteen 2020: a
  within-person C of 0.56).
- **history**: a logistic regression on the patient's attack history up to day d: log(1 + days
  since the last onset), whether there was none yet, onsets in the last 7 and 28 days, the
  onsets so far per day, and whether day d was a migraine day.
- **observed features**: a logistic regression on the feature columns of day d
  (``Column.feature``, trigger flags excluded) as the observation layer recorded them (the
  ``observed`` frame when the run has one, else ``daily``): a value not recorded is the
  patient's last recorded value (the training mean before the first), with an indicator per
  column that day d's value was missing.
- **history + features**: both sets together. *Features beyond history* is its AUROC minus the
  history model's on the same test days: the trigger signal a model can find beyond who
  has attacks often.

Models are fitted on training patients and scored on the others (patients, not days, are
split: :func:`abm.exports.fusemoe.split_patients`, the FuseMoE export's split), on at most
:data:`MAX_TRAIN_DAYS` of their at-risk days (a sample with a fixed seed). Features are
standardized with the training means and SDs.

Intervals are 95%, of DeLong's AUROC variance with patients as clusters (Obuchowski 1997,
Biometrics 53:567): a patient's days are not independent, and the interval says how much the
AUROC would vary with other patients. The difference of two AUROCs on the same days gets its
interval the same way, from the per-patient differences of their components.

A row needs :data:`MIN_TEST_ONSETS` onsets on the days it is measured on (the AUROC's interval
near 0.5 is then about ± 0.02); the within-person oracle needs :data:`MIN_PATIENTS` patients
with both kinds of days, and is judged against 0.52-0.65 only when the risk factors and the
attacks are configured as by default (else the row is n/a and shows the value).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from abm.validation.rows import Check, judge
from abm.validation.stats import Z95, auroc, fit_logistic, mean_interval, predict_logistic

#: onsets on the days a row is measured on before it is judged: the AUROC's 95% interval near
#: 0.5 is about ± 1.96 x 0.289 / sqrt(onsets), narrower than 0.02 with 800
MIN_TEST_ONSETS = 800
#: patients with onsets and onset-free days before the within-person oracle is judged: the
#: per-patient AUROCs vary with an SD of about 0.15, so 100 give an interval of about ± 0.03
MIN_PATIENTS = 100
#: the within-person oracle's target on the default configuration (Holsteen 2020: 0.56)
WITHIN_RANGE = (0.52, 0.65)
#: Newton's steps stop when no standardized coefficient moves by more than this (the AUROC's
#: third decimal does not move)
TOLERANCE = 1e-4
#: training days a model is fitted on at most (a fixed-seed sample of them beyond): a few dozen
#: coefficients are estimated as well from 40,000 days, and the default validate stays fast
MAX_TRAIN_DAYS = 40_000
#: the attack-history features' windows, days
HISTORY_WINDOWS = (7, 28)
#: the configuration sections the within-person target assumes at their defaults
DEFAULT_SECTIONS = ("attacks", "triggers")


@dataclass(frozen=True)
class Score:
    """An AUROC (and AUPRC) on some days, with the 95% interval of the AUROC."""

    auroc: float
    low: float
    high: float
    auprc: float
    onsets: int
    days: int

    def text(self) -> str:
        if math.isnan(self.auroc):
            return ""
        return f"{self.auroc:.3f} (95% CI {self.low:.3f}-{self.high:.3f})"


NO_SCORE = Score(math.nan, math.nan, math.nan, math.nan, 0, 0)


# --- statistics -----------------------------------------------------------------------------

def _placements(score: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's structural components: per positive, the share of negatives it outranks (ties
    half); per negative, the share of positives that outrank it."""
    pos, neg = np.sort(score[label]), np.sort(score[~label])
    s_pos, s_neg = score[label], score[~label]
    v10 = (np.searchsorted(neg, s_pos, "left") + np.searchsorted(neg, s_pos, "right")) \
        / (2.0 * neg.size)
    v01 = (2 * pos.size - np.searchsorted(pos, s_neg, "left")
           - np.searchsorted(pos, s_neg, "right")) / (2.0 * pos.size)
    return v10, v01


def _cluster_variance(v10: np.ndarray, v01: np.ndarray, label: np.ndarray,
                      cluster: np.ndarray, value: float) -> float:
    """Obuchowski's clustered DeLong variance of an AUROC ``value`` with components ``v10``
    (positives) and ``v01`` (negatives)."""
    ids, inverse = np.unique(cluster, return_inverse=True)
    k = ids.size
    if k < 2:
        return math.nan
    m, n = v10.size, v01.size
    s10 = np.bincount(inverse[label], v10, k)
    s01 = np.bincount(inverse[~label], v01, k)
    m_k = np.bincount(inverse[label], minlength=k)
    n_k = np.bincount(inverse[~label], minlength=k)
    r10, r01 = s10 - m_k * value, s01 - n_k * value
    scale = k / (k - 1)
    return float(scale * ((r10 ** 2).sum() / m ** 2 + (r01 ** 2).sum() / n ** 2
                          + 2 * (r10 * r01).sum() / (m * n)))


def auprc(score: np.ndarray, label: np.ndarray) -> float:
    """Average precision (the area under the precision-recall curve, step-wise)."""
    if not label.any():
        return math.nan
    order = np.argsort(-score, kind="mergesort")
    hits = label[order].astype(np.float64)
    precision = np.cumsum(hits) / np.arange(1, hits.size + 1)
    return float((precision * hits).sum() / hits.sum())


def scored(score: np.ndarray, label: np.ndarray, cluster: np.ndarray) -> Score:
    """The AUROC of ``score`` for ``label`` with its clustered 95% interval, and the AUPRC."""
    label = np.asarray(label, dtype=bool)
    onsets = int(label.sum())
    if onsets == 0 or onsets == label.size:
        return Score(math.nan, math.nan, math.nan, math.nan, onsets, label.size)
    v10, v01 = _placements(score, label)
    value = float(v10.mean())
    se = math.sqrt(max(_cluster_variance(v10, v01, label, cluster, value), 0.0))
    return Score(value, max(0.0, value - Z95 * se), min(1.0, value + Z95 * se),
                 auprc(score, label), onsets, label.size)


def difference(a: np.ndarray, b: np.ndarray, label: np.ndarray, cluster: np.ndarray
               ) -> tuple[float, float, float]:
    """AUROC of ``a`` minus that of ``b`` on the same days, with its clustered 95% interval."""
    label = np.asarray(label, dtype=bool)
    if not label.any() or label.all():
        return math.nan, math.nan, math.nan
    a10, a01 = _placements(a, label)
    b10, b01 = _placements(b, label)
    value = float(a10.mean() - b10.mean())
    se = math.sqrt(max(_cluster_variance(a10 - b10, a01 - b01, label, cluster, value), 0.0))
    return value, value - Z95 * se, value + Z95 * se


# --- the data -------------------------------------------------------------------------------

@dataclass
class Days:
    """The at-risk days d+1 of a run (``(n, days-1)`` matrices, day d+1 in column d) and what
    the models know at the end of day d."""

    at_risk: np.ndarray
    onset: np.ndarray
    p: np.ndarray
    history: np.ndarray  # (n, days-1, h)
    features: np.ndarray  # (n, days-1, f), NaN where not recorded
    feature_names: list[str]


def history_features(onset: np.ndarray, has: np.ndarray) -> np.ndarray:
    """``(n, days-1, 6)``: for day d+1, the attack history up to day d (see the module)."""
    n, days = onset.shape
    counts = np.concatenate([np.zeros((n, 1)), np.cumsum(onset, axis=1)], axis=1)
    d = np.arange(days)
    columns = []
    # days since the last onset on or before d
    last = np.where(onset, d[None, :], -1)
    last = np.maximum.accumulate(last, axis=1)
    never = last < 0
    since = np.where(never, d[None, :] + 1, d[None, :] - last)
    columns += [np.log1p(since), never.astype(np.float64)]
    for w in HISTORY_WINDOWS:
        start = np.maximum(d + 1 - w, 0)
        columns.append(counts[:, d + 1] - counts[:, start])
    columns.append(counts[:, 1:] / (d + 1)[None, :])
    columns.append(has.astype(np.float64))
    return np.stack(columns, axis=-1)[:, :-1]


def _fill(x: np.ndarray, train_rows: np.ndarray) -> np.ndarray:
    """Missing values: the patient's last recorded one, else the training mean; plus an
    indicator per column with gaps that day d's value was missing."""
    missing = np.isnan(x)
    n, t, f = x.shape
    index = np.where(~missing, np.arange(t)[None, :, None], -1)
    index = np.maximum.accumulate(index, axis=1)
    carried = np.take_along_axis(x, np.maximum(index, 0), axis=1)
    carried[index < 0] = np.nan
    train = x[train_rows].reshape(-1, f)
    mean = np.nanmean(np.where(np.isnan(train).all(axis=0), 0.0, train), axis=0) \
        if train.size else np.zeros(f)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    filled = np.where(np.isnan(carried), mean[None, None, :], carried)
    gaps = missing.reshape(-1, f).any(axis=0)
    return np.concatenate([filled, missing[..., gaps].astype(np.float64)], axis=-1)


def at_risk_days(frames: dict[str, pl.DataFrame], model, n: int, days: int,
                 p: np.ndarray | None = None) -> Days:
    """The at-risk days of a run's frames (``daily`` sorted by patient and day)."""
    from abm.validation.configured import onset_probabilities
    from abm.validation.frames import observed_features, patient_day_matrix

    daily = frames["daily"]
    if p is None:
        p = onset_probabilities(daily, frames["patients"], model, n, days)
    onset = patient_day_matrix(daily, "migraine_onset", n, days)
    has = patient_day_matrix(daily, "has_migraine", n, days)
    recorded = daily
    if frames.get("observed") is not None:
        from abm.exports.source import observed_daily

        recorded = observed_daily({**frames, "daily": daily}, model)
    names = [c for c in observed_features(model) if c in recorded.columns]
    if names:
        x = np.stack([recorded[c].cast(pl.Float64).fill_null(np.nan).to_numpy()
                      .reshape(n, days) for c in names], axis=-1)[:, :-1]
    else:
        x = np.zeros((n, days - 1, 0))
    return Days((~has | onset)[:, 1:], onset[:, 1:], p[:, 1:], history_features(onset, has),
                x, names)


@dataclass(frozen=True)
class Ceiling:
    """The scores of the oracle and the baselines on one split."""

    oracle: Score
    history: Score
    features: Score
    both: Score
    beyond: tuple[float, float, float]  # AUROC of history + features minus history's
    oracle_all: Score  # the oracle on every patient's at-risk days
    within: tuple[int, float, float, float]  # patients, mean per-patient AUROC, 95% t interval


def _fit_score(x: np.ndarray, train: np.ndarray, test: np.ndarray, y: np.ndarray
               ) -> np.ndarray | None:
    x_train, y_train = x[train], y[train]
    if y_train.size > MAX_TRAIN_DAYS:
        keep = np.sort(np.random.default_rng(0).choice(y_train.size, MAX_TRAIN_DAYS, False))
        x_train, y_train = x_train[keep], y_train[keep]
    if y_train.size == 0 or y_train.min() == y_train.max():
        return None
    mean, sd = x_train.mean(axis=0), x_train.std(axis=0)
    sd[sd == 0] = 1.0
    beta = fit_logistic((x_train - mean) / sd, y_train.astype(np.float64),
                        tolerance=TOLERANCE)
    return predict_logistic(beta, (x[test] - mean) / sd)


def within_person(p: np.ndarray, onset: np.ndarray, at_risk: np.ndarray
                  ) -> tuple[int, float, float, float]:
    """Mean of each patient's oracle AUROC (patients with both kinds of at-risk days) and its
    95% t interval over patients."""
    values = []
    for i in range(p.shape[0]):
        keep = at_risk[i]
        y = onset[i][keep]
        if 0 < y.sum() < y.size:
            values.append(auroc(p[i][keep], y))
    return mean_interval(values)


def measure(data: Days, train_patients: np.ndarray, test_patients: np.ndarray) -> Ceiling:
    """Fit the baselines on ``train_patients`` (row indices), score every model on the at-risk
    days of ``test_patients``."""
    n = data.at_risk.shape[0]
    rows = np.arange(n)[:, None] * np.ones(data.at_risk.shape[1], dtype=np.int64)[None, :]
    in_train = np.zeros(n, bool)
    in_train[train_patients] = True
    in_test = np.zeros(n, bool)
    in_test[test_patients] = True
    train = data.at_risk & in_train[:, None]
    test = data.at_risk & in_test[:, None]
    y = data.onset
    cluster = rows[test]
    every = data.at_risk
    oracle_all = scored(data.p[every], y[every], rows[every])
    within = within_person(data.p, y, data.at_risk)
    oracle = scored(data.p[test], y[test], cluster)
    observed = _fill(data.features, in_train)
    sets = {"history": data.history, "features": observed,
            "both": np.concatenate([data.history, observed], axis=-1)}
    scores: dict[str, np.ndarray | None] = {k: _fit_score(x, train, test, y)
                                            for k, x in sets.items()}
    result = {k: NO_SCORE if s is None else scored(s, y[test], cluster)
              for k, s in scores.items()}
    beyond = (math.nan, math.nan, math.nan)
    if scores["both"] is not None and scores["history"] is not None:
        beyond = difference(scores["both"], scores["history"], y[test], cluster)
    return Ceiling(oracle, result["history"], result["features"], result["both"], beyond,
                   oracle_all, within)


# --- the validation rows --------------------------------------------------------------------

def _default_model(config) -> bool:
    from abm.config.settings import Config

    defaults = Config()
    return all(getattr(config, s) == getattr(defaults, s) for s in DEFAULT_SECTIONS)


def _few(score: Score, where: str) -> str:
    if score.onsets < MIN_TEST_ONSETS:
        return f"attacks {where} ({score.onsets}; needs {MIN_TEST_ONSETS})"
    return "" if not math.isnan(score.auroc) else "attack-free days or attacks to fit a model"


def ceiling_checks(frames: dict[str, pl.DataFrame], config, model, n: int, days: int,
                   p: np.ndarray) -> list[Check]:
    """The rows of ``abm validate``: the oracle (pooled, within-person), the baselines, and
    whether the trigger features add signal beyond history. Models are fitted on the FuseMoE
    export's training patients and scored on all the others (its validation and test
    patients)."""
    from abm.exports.fusemoe import split_patients

    if days < 2:
        data = None
    else:
        data = at_risk_days(frames, model, n, days, p)
    split = split_patients(n, config.run.seed)
    held_out = np.sort(np.concatenate([split["val"], split["test"]]))
    c = measure(data, split["train"], held_out) if data is not None else Ceiling(
        NO_SCORE, NO_SCORE, NO_SCORE, NO_SCORE, (math.nan,) * 3, NO_SCORE, (0, math.nan,
                                                                          math.nan, math.nan))
    checks = []
    o = c.oracle_all
    checks.append(judge("oracle AUROC, pooled", o.text(),
                        "> 0.50 (ground-truth p_onset: the ceiling)", o.auroc > 0.5,
                        bool(o.high < 0.5), _few(o, "on at-risk days")))
    k, mean, low, high = c.within
    lo, hi = WITHIN_RANGE
    target = f"{lo:.2f}-{hi:.2f} (Holsteen 2020: 0.56)"
    measured = "" if k == 0 or math.isnan(low) else \
        f"{mean:.3f} (95% CI {low:.3f}-{high:.3f}; mean of {k} patients' AUROCs)"
    few = f"patients with attacks and attack-free days ({k}; needs {MIN_PATIENTS})" \
        if k < MIN_PATIENTS else ""
    if not few and not _default_model(config):
        checks.append(Check("oracle AUROC, within-person",
                            f"n/a: [triggers] or [attacks] changed: {measured}",
                            target, None))
    else:
        checks.append(judge("oracle AUROC, within-person", measured, target,
                            lo <= mean <= hi, not few and (high < lo or low > hi), few))
    ceiling = c.oracle
    for name, score in (("history baseline AUROC", c.history),
                        ("observed-features baseline AUROC", c.features)):
        target = ("≤ oracle on the same days" if math.isnan(ceiling.auroc) else
                  f"≤ oracle on the same days ({ceiling.auroc:.3f})")
        above = not math.isnan(score.low) and score.low > ceiling.auroc
        checks.append(judge(name, score.text(), target, not above, above,
                            _few(score, "among the held-out patients")))
    diff, d_low, d_high = c.beyond
    few = _few(c.both, "among the held-out patients") or _few(c.history, "among the held-out "
                                                              "patients")
    measured = "" if math.isnan(diff) else (
        f"+{diff:.3f}" if diff >= 0 else f"{diff:.3f}") + (
        "" if math.isnan(diff) else f" (95% CI {d_low:+.3f} to {d_high:+.3f}; "
        f"{c.both.auroc:.3f} vs {c.history.auroc:.3f})")
    checks.append(judge("learnability: features beyond history", measured,
                        "ΔAUROC > 0 (history + features vs history)", diff > 0,
                        bool(d_high < 0), few))
    return checks
