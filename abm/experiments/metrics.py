"""Experiment metrics: what one run measures, what a variant changes per patient, and summaries.

An experiment (``abm.experiments.experiment``) computes named metrics on every run. Names are stable
strings, documented in ``README_experiments.md``; they are grouped so that a definition can ask for
a whole group (``"clustering"``) or for single names (``"chronic_share"``).

Per run (:func:`run_metrics`, computed in the worker that ran the simulation):

- ``migraine_days``: migraine days per 30 days per patient, its mean, SD and quartiles. A day counts
  when an attack is under way at some time of it (the ``daily`` frame's ``has_migraine``).
- ``chronic_share``: patients with a realized rate of at least 15 days per 30 (as
  ``abm validate``: the ICHD-3 line between episodic and chronic migraine).
- ``attacks``: onsets per patient over the run and per 30 days, and migraine days per attack
  (diaries give about 1.31: Vgontzas et al., *Sleep* 2020). Attacks are counted as
  ``attacks.count_recurrences`` says: ``separate``, every onset; ``merged``, an attack that
  starts within ``attacks.recurrence_window_hours`` of the previous one's end (the attacks
  frame's ``recurrence``) is part of that one.
- ``clustering``: days between consecutive onsets of a patient (mean and median; acute-treatment
  trial patients have gamma-distributed gaps of 22-24 days on average, *Cephalalgia* 2008), and the
  lag-1 autocorrelation of migraine days within patients (pooled: each patient's series is centred
  on its own mean, so differences between patients do not count as clustering).
- ``risk_ratios``: the next-day risk ratio per trigger that ``abm validate`` checks,
  Mantel-Haenszel over patients, with its Greenland-Robins 95% interval
  (``abm.validation.checks.trigger_risk_ratios``).
- ``feedback``: the share of attacks marked ``caused_by_feedback``.
- ``trigger_days``: the share of days on which each trigger is on: of location-days for a
  trigger that reads only the location's weather (the same for everyone there; the weather
  trigger, a 24 h pressure drop of at least ``triggers.pressure_drop_hpa``, is on for 19% of
  London Heathrow's days 1979-2020), else of patient-days.
- ``<trigger>_sensitive``, one group per trigger: migraine days per 30 days of patients with a
  susceptibility to the trigger of at least :data:`SENSITIVE` and of the others.

The trigger metrics are named after the risk factors of the experiment's model
(:func:`metric_groups`): ``risk_ratio_weather``, ``weather_trigger_day_share``,
``migraine_days_per_month_weather_sensitive`` and so on for the built-in ones, and the same for a
risk factor of one's own.
- ``cohort``: who the patients are: shares of women, of patients with aura and of patients
  labelled chronic (``is_chronic``), and the mean age.

The slow feedback loops (acute medication, medication overuse, chronification; measured by
``abm.validation.loops.loop_metrics``, as ``abm validate`` reads them):

- ``medication``: the share of attacks treated, medication days per 30 days, the shares of
  patients who overuse on day 0 and at any time, and the share of patient-days in overuse;
- ``chronification``: changes from episodic to chronic migraine per episodic patient-year (the
  ground-truth ``chronic_state``), remissions per chronic patient-year, the share of the patients
  episodic on day 0 who become chronic during the run, the share chronic on the last day, and
  the median day of the first change among those who change;
- ``loops``: each loop's *gain*, the share of attacks it caused (``attacks.feedback_chain``:
  the stress loop, the sleep-stress circle, medication overuse, chronification; an attack on
  two loops' paths counts for both), and all loops together;
- ``chronic_course``: month by month (30-day months, the first :data:`COURSE_MONTHS`), the share
  of patients chronic on the month's last day and the share of the patients episodic on day 0
  who have been chronic by then; ``realized_course``: the share of patients with at least 15
  migraine days in the month.

A loop that a variant switches off leaves its columns out of the run; its metrics then say what
the model did: nobody treats (medication off) or overuses (overuse off), nobody changes state
(chronification off: rates 0, the ``chronic_state`` shares are the ``is_chronic`` label's, the
median day NaN), and a loop's gain is 0. Months past the end of the run are NaN.

Against the reference variant of the same replicate (:func:`paired_metrics`; same seed, so the
same patients under common random numbers):

- ``paired``: mean per-patient difference in migraine days per 30 days; the attributable fraction
  ``1 - variant days / reference days`` (the share of the reference's migraine days that the
  variant removes, e.g. those attributable to a trigger that it switches off); chronification,
  the share of the reference's episodic patients (realized < 15 days) who reach >= 15 days in the
  variant; and remission, the share of the reference's chronic patients who fall below 15.

Over replicates (:func:`summarize`): the mean and its 95% confidence interval,
``mean ± t(0.975, n-1) · sd / sqrt(n)`` with Student's t, for every variant and metric, and the same
for the per-replicate difference from the reference (a paired comparison: both runs of a replicate
share the seed). A share (:data:`SHARES`: of patients, attacks, location-days) is a proportion,
and a t interval can leave [0, 1] ("0.2% [-0.7%, 1.1%]" with three replicates): its interval is
the Wilson score interval of a proportion the size of its mean among the units of all replicates
together. Differences keep the paired t interval: they may be negative.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from abm.engine import derive
from abm.engine.hazard import DAYS_PER_MONTH
from abm.validation.checks import patient_day_matrix
from abm.validation.stats import mean_interval, share_interval

CHRONIC_DAYS = 15.0
#: the susceptibility to a trigger at or above which a patient counts as sensitive to it
SENSITIVE = 0.7


@dataclass(frozen=True)
class Group:
    """Metrics computed together, under their stable names."""

    name: str
    names: tuple[str, ...]
    #: computed against the reference variant (needs per-patient data of both runs)
    paired: bool = False


PAIRED_GROUP = Group("paired", ("paired_migraine_days_per_month_diff", "attributable_fraction",
                                "chronification_share", "remission_share"), paired=True)
#: the metrics computed against the reference variant
PAIRED = frozenset(PAIRED_GROUP.names)
#: the shares among the loops' metrics (``medication``, ``chronification``), and what they
#: count
LOOP_SHARES: dict[str, str] = {
    "treated_attack_share": "attacks", "overuse_at_start_share": "patients",
    "overuse_patient_share": "patients", "overuse_day_share": "patient-days",
    "chronified_patient_share": "patients episodic on day 0",
    "chronic_state_end_share": "patients",
}
#: the metrics that are shares of a number of units, and what they count (the ``denominator``
#: of the results frame): their interval is a Wilson interval, within [0, 1]; each trigger's
#: ``<trigger>_trigger_day_share`` is one too (of location-days or patient-days, see
#: :func:`trigger_day_shares`)
SHARES: dict[str, str] = {
    "chronic_share": "patients", "feedback_attack_share": "attacks",
    "female_share": "patients", "aura_share": "patients", "chronic_label_share": "patients",
    "chronification_share": "the reference's episodic patients",
    "remission_share": "the reference's chronic patients",
    **LOOP_SHARES,
}
#: the fractions among the fixed metrics, shown as percentages in tables (the attributable
#: fraction is a ratio of migraine days, which may be negative: it keeps the t interval)
PERCENT = frozenset(SHARES) | {"attributable_fraction"}
#: the months of 30 days the course metrics report (``chronic_course``, ``realized_course``)
COURSE_MONTHS = 24
#: the loops of ``abm.validation.loops.LOOPS`` by the name their gain metric carries
LOOP_METRICS = {"stress_loop": "stress loop", "circle": "sleep-stress circle",
                "medication_overuse": "medication overuse", "chronification": "chronification"}


def month_metric(prefix: str, month: int) -> str:
    """The name of a course metric for a month (1-based): ``chronic_state_share_month_03``."""
    return f"{prefix}_month_{month:02d}"


def course_units(name: str) -> str | None:
    """What a course metric's share counts (None: not a course metric)."""
    prefix = re.sub(r"_month_\d+$", "", name)
    if prefix == name:
        return None
    return {"chronic_state_share": "patients", "realized_chronic_share": "patients",
            "chronified_share": "patients episodic on day 0"}.get(prefix)


def is_share(name: str) -> bool:
    """Whether a metric is a share of a number of units (a Wilson interval)."""
    return name in SHARES or name.endswith("_trigger_day_share") or \
        course_units(name) is not None


def metric_groups(triggers: Sequence[str]) -> dict[str, Group]:
    """Every group of metrics for a model whose risk factors are named ``triggers``."""
    sensitive = [Group(f"{t}_sensitive", (f"migraine_days_per_month_{t}_sensitive",
                                          f"migraine_days_per_month_{t}_other"))
                 for t in triggers]
    return {g.name: g for g in (
        Group("migraine_days", ("migraine_days_per_month_mean", "migraine_days_per_month_sd",
                                "migraine_days_per_month_q25", "migraine_days_per_month_median",
                                "migraine_days_per_month_q75")),
        Group("chronic_share", ("chronic_share",)),
        Group("attacks", ("attacks_per_patient", "attacks_per_patient_per_month",
                          "migraine_days_per_attack")),
        Group("clustering", ("interattack_interval_mean_days",
                             "interattack_interval_median_days",
                             "migraine_day_autocorrelation_lag1")),
        Group("risk_ratios", tuple(f"risk_ratio_{t}{s}" for t in triggers
                                   for s in ("", "_low", "_high"))),
        Group("feedback", ("feedback_attack_share",)),
        Group("trigger_days", tuple(f"{t}_trigger_day_share" for t in triggers)),
        *sensitive,
        Group("cohort", ("female_share", "aura_share", "age_mean", "chronic_label_share")),
        Group("medication", ("treated_attack_share", "medication_days_per_month",
                             "overuse_at_start_share", "overuse_patient_share",
                             "overuse_day_share")),
        Group("chronification", ("chronification_rate_per_year", "remission_rate_per_year",
                                 "chronified_patient_share", "chronic_state_end_share",
                                 "median_days_to_chronification")),
        Group("loops", (*(f"loop_gain_{k}" for k in LOOP_METRICS), "loop_gain_all")),
        Group("chronic_course", tuple(month_metric(prefix, m)
                                      for prefix in ("chronic_state_share", "chronified_share")
                                      for m in range(1, COURSE_MONTHS + 1))),
        Group("realized_course", tuple(month_metric("realized_chronic_share", m)
                                       for m in range(1, COURSE_MONTHS + 1))),
        PAIRED_GROUP,
    )}


def all_metrics(triggers: Sequence[str]) -> tuple[str, ...]:
    """Every metric name, in the order of the results frame."""
    return tuple(n for g in metric_groups(triggers).values() for n in g.names)


def is_percent(name: str) -> bool:
    """Whether a metric is a fraction, shown as a percentage in tables."""
    return (name.endswith(("_share", "_rate_per_year")) or name == "attributable_fraction"
            or name.startswith("loop_gain_") or course_units(name) is not None)


def resolve(selection: Iterable[str], triggers: Sequence[str]) -> tuple[str, ...]:
    """Metric names (in the results' order) for a selection of group and metric names.

    Raises ``KeyError`` with the first unknown name.
    """
    groups = metric_groups(triggers)
    group_of = {n: g.name for g in groups.values() for n in g.names}
    wanted: set[str] = set()
    for item in selection:
        if item in groups:
            wanted.update(groups[item].names)
        elif item in group_of:
            wanted.add(item)
        else:
            raise KeyError(item)
    return tuple(n for n in all_metrics(triggers) if n in wanted)


def groups_of(names: Iterable[str], triggers: Sequence[str]) -> set[str]:
    """The groups that compute ``names``."""
    group_of = {n: g.name for g in metric_groups(triggers).values() for n in g.names}
    return {group_of[n] for n in names}


def _per_location(rf: Any, weather: pl.DataFrame) -> bool:
    """Whether a risk factor reads only columns of the ``weather`` frame (so it is the same
    for everyone at a location, and counted once per location-day)."""
    return bool(rf.inputs) and all(c in weather.columns and c not in ("day", "date")
                                   for c, _ in rf.inputs)


def trigger_day_shares(result: Any) -> dict[str, float]:
    """The share of days each risk factor of ``result.model`` is on: of location-days when it
    reads only columns of the ``weather`` frame (recomputed there, once per location), else of
    patient-days (its flag column in ``daily``)."""
    model = result.model
    weather: pl.DataFrame = result.weather.sort(["location_id", "day"])
    locations = weather["location_id"].n_unique()
    out = {}
    for rf in model.risk_factors:
        if _per_location(rf, weather):
            columns = {c: weather[c].to_numpy().reshape(locations, -1) for c, _ in rf.inputs}
            flag = derive.flag_of(rf, columns, result.config)
        else:
            flag = result.daily[rf.flag_column].to_numpy()
        out[rf.trigger] = float(flag.mean()) if flag.size else math.nan
    return out


def days_per_month(has_migraine: np.ndarray) -> np.ndarray:
    """Realized migraine days per 30 days of each patient (rows of a patient x day matrix)."""
    return has_migraine.mean(axis=1) * DAYS_PER_MONTH


def _nan_safe(values: np.ndarray, fn) -> float:
    return float(fn(values)) if values.size else math.nan


def interattack_intervals(onset: np.ndarray) -> np.ndarray:
    """Days between consecutive onsets of the same patient (patient x day boolean matrix)."""
    patient, day = np.nonzero(onset)          # row-major: by patient, then by day
    same = patient[1:] == patient[:-1]
    return (day[1:] - day[:-1])[same]


def lag1_autocorrelation(has_migraine: np.ndarray) -> float:
    """Pooled within-patient lag-1 autocorrelation of migraine days."""
    x = has_migraine.astype(np.float64)
    x -= x.mean(axis=1, keepdims=True)
    denominator = float((x * x).sum())
    if denominator == 0:
        return math.nan
    return float((x[:, :-1] * x[:, 1:]).sum() / denominator)


def run_metrics(result: object, names: Iterable[str]) -> dict[str, float]:
    """The per-run metrics among ``names`` of a :class:`~abm.engine.simulation.Result`."""
    from abm.validation.checks import trigger_risk_ratios

    names = tuple(names)
    triggers = result.model.triggers  # type: ignore[attr-defined]
    groups = groups_of(names, triggers)
    patients: pl.DataFrame = result.patients  # type: ignore[attr-defined]
    daily: pl.DataFrame = result.daily  # type: ignore[attr-defined]
    config = result.config  # type: ignore[attr-defined]
    n, days = patients.height, config.run.days
    has = patient_day_matrix(daily, "has_migraine", n, days)
    onset = patient_day_matrix(daily, "migraine_onset", n, days)
    mdpm = days_per_month(has)
    out: dict[str, float] = {}
    if "migraine_days" in groups:
        q25, q50, q75 = np.quantile(mdpm, [0.25, 0.5, 0.75])
        out |= {"migraine_days_per_month_mean": float(mdpm.mean()),
                "migraine_days_per_month_sd": float(mdpm.std(ddof=1)) if n > 1 else math.nan,
                "migraine_days_per_month_q25": float(q25),
                "migraine_days_per_month_median": float(q50),
                "migraine_days_per_month_q75": float(q75)}
    if "chronic_share" in groups:
        out["chronic_share"] = float((mdpm >= CHRONIC_DAYS).mean())
    if "attacks" in groups:
        onsets = int(onset.sum())
        if config.attacks.count_recurrences == "merged":  # a recurrence is the previous attack's
            onsets -= int(result.attacks["recurrence"].sum())  # type: ignore[attr-defined]
        out |= {"attacks_per_patient": onsets / n,
                "attacks_per_patient_per_month": onsets / n / days * DAYS_PER_MONTH,
                "migraine_days_per_attack": float(has.sum()) / onsets if onsets else math.nan}
    if "clustering" in groups:
        gaps = interattack_intervals(onset)
        out |= {"interattack_interval_mean_days": _nan_safe(gaps, np.mean),
                "interattack_interval_median_days": _nan_safe(gaps, np.median),
                "migraine_day_autocorrelation_lag1": lag1_autocorrelation(has)}
    if "risk_ratios" in groups:
        for trigger, (rr, lo, hi) in trigger_risk_ratios(daily, n, days).items():
            out |= {f"risk_ratio_{trigger}": float(rr), f"risk_ratio_{trigger}_low": float(lo),
                    f"risk_ratio_{trigger}_high": float(hi)}
    if "feedback" in groups:
        caused = result.attacks["caused_by_feedback"]  # type: ignore[attr-defined]
        out["feedback_attack_share"] = float(caused.mean()) if caused.len() else math.nan
    if "trigger_days" in groups:
        out |= {f"{t}_trigger_day_share": share
                for t, share in trigger_day_shares(result).items()}
    for rf in result.model.risk_factors:  # type: ignore[attr-defined]
        if f"{rf.trigger}_sensitive" in groups:
            sensitive = patients[rf.susceptibility_column].to_numpy() >= SENSITIVE
            out |= {f"migraine_days_per_month_{rf.trigger}_sensitive":
                    _nan_safe(mdpm[sensitive], np.mean),
                    f"migraine_days_per_month_{rf.trigger}_other":
                    _nan_safe(mdpm[~sensitive], np.mean)}
    if "cohort" in groups:
        out |= {"female_share": float((patients["sex"] == "F").mean()),
                "aura_share": float(patients["with_aura"].mean()),
                "age_mean": float(patients["age"].mean()),
                "chronic_label_share": float(patients["is_chronic"].mean())}
    if groups & {"medication", "chronification", "loops"}:
        out |= loop_run_metrics(result)
    if groups & {"chronic_course", "realized_course"}:
        out |= course_metrics(daily, patients["is_chronic"].to_numpy(), has, n, days)
    return {k: out[k] for k in names if k in out}


def chronic_states(daily: pl.DataFrame, is_chronic: np.ndarray, n: int, days: int) -> np.ndarray:
    """The ``(n, days)`` ground-truth ``chronic_state``; with chronification off (no column),
    every patient keeps their ``is_chronic`` label."""
    if "chronic_state" in daily.columns:
        return patient_day_matrix(daily, "chronic_state", n, days)
    return np.repeat(np.asarray(is_chronic, dtype=bool)[:, None], days, axis=1)


def loop_run_metrics(result: object) -> dict[str, float]:
    """The ``medication``, ``chronification`` and ``loops`` metrics of a run, from
    :func:`abm.validation.loops.loop_metrics`; a loop switched off gives what the model did
    (0 treated, 0 overusing, no changes of state, a gain of 0)."""
    from abm.validation.loops import loop_metrics

    daily: pl.DataFrame = result.daily  # type: ignore[attr-defined]
    attacks: pl.DataFrame = result.attacks  # type: ignore[attr-defined]
    patients: pl.DataFrame = result.patients  # type: ignore[attr-defined]
    n, days = patients.height, result.config.run.days  # type: ignore[attr-defined]
    m = loop_metrics(daily, attacks, n, days)
    out = {f"loop_gain_{k}": m.gain(loop) for k, loop in LOOP_METRICS.items()}
    out["loop_gain_all"] = m.gain()
    medication = "acute_medication" in daily.columns
    overuse = "medication_overuse" in daily.columns
    at_start = (float(daily.filter(pl.col("day") == 0)["medication_overuse"].mean())
                if overuse and days else 0.0)
    out |= {"treated_attack_share": m.treated_share if medication else 0.0,
            "medication_days_per_month": m.medication_days_per_month if medication else 0.0,
            "overuse_at_start_share": at_start,
            "overuse_patient_share": m.overuse_patients if overuse else 0.0,
            "overuse_day_share": m.overuse_days if overuse else 0.0}
    state = chronic_states(daily, patients["is_chronic"].to_numpy(), n, days)
    episodic = ~state[:, 0] if days else np.zeros(n, dtype=bool)
    if "chronic_state" in daily.columns:
        rate, remission = m.chronification_rate, m.remission_rate
    else:  # nobody changes state: no changes in the time at risk
        rate = 0.0 if episodic.any() and days > 1 else math.nan
        remission = 0.0 if (~episodic).any() and days > 1 else math.nan
    out |= {"chronification_rate_per_year": rate,
            "remission_rate_per_year": remission,
            "chronified_patient_share": (float(state[episodic].any(axis=1).mean())
                                         if episodic.any() else math.nan),
            "chronic_state_end_share": float(state[:, -1].mean()) if days else math.nan,
            "median_days_to_chronification": m.median_days_to_chronic}
    return out


def course_metrics(daily: pl.DataFrame, is_chronic: np.ndarray, has: np.ndarray, n: int,
                   days: int) -> dict[str, float]:
    """The ``chronic_course`` and ``realized_course`` metrics of the months the run covers
    (whole months of 30 days, at most :data:`COURSE_MONTHS`)."""
    months = min(COURSE_MONTHS, days // int(DAYS_PER_MONTH))
    if not months or not n:
        return {}
    state = chronic_states(daily, is_chronic, n, days)
    episodic = ~state[:, 0]
    out: dict[str, float] = {}
    ever = np.zeros(n, dtype=bool)
    for month in range(1, months + 1):
        first, last = int(DAYS_PER_MONTH) * (month - 1), int(DAYS_PER_MONTH) * month
        ever |= state[:, first:last].any(axis=1)
        out[month_metric("chronic_state_share", month)] = float(state[:, last - 1].mean())
        out[month_metric("chronified_share", month)] = (float(ever[episodic].mean())
                                                        if episodic.any() else math.nan)
        out[month_metric("realized_chronic_share", month)] = float(
            (has[:, first:last].sum(axis=1) >= CHRONIC_DAYS).mean())
    return out


def run_denominators(result: object, names: Iterable[str]) -> dict[str, int]:
    """The units each share among ``names`` counts in a run (:data:`SHARES`)."""
    n = result.patients.height  # type: ignore[attr-defined]
    counts = {"chronic_share": n, "female_share": n, "aura_share": n, "chronic_label_share": n,
              "feedback_attack_share": result.attacks.height}  # type: ignore[attr-defined]
    weather = result.weather  # type: ignore[attr-defined]
    for rf in result.model.risk_factors:  # type: ignore[attr-defined]
        counts[f"{rf.trigger}_trigger_day_share"] = (
            weather.height if _per_location(rf, weather)
            else result.daily.height)  # type: ignore[attr-defined]
    names = tuple(names)
    wanted = {k for k in names if k in LOOP_SHARES or course_units(k) is not None}
    if wanted:
        daily = result.daily  # type: ignore[attr-defined]
        days = result.config.run.days  # type: ignore[attr-defined]
        state = chronic_states(daily, result.patients["is_chronic"].to_numpy(),  # type: ignore
                               n, days)
        episodic = int((~state[:, 0]).sum()) if days else 0
        counts |= {"treated_attack_share": result.attacks.height,  # type: ignore[attr-defined]
                   "overuse_at_start_share": n, "overuse_patient_share": n,
                   "overuse_day_share": daily.height, "chronified_patient_share": episodic,
                   "chronic_state_end_share": n}
        counts |= {k: episodic if course_units(k) == "patients episodic on day 0" else n
                   for k in names if course_units(k) is not None}
    return {k: counts[k] for k in names if k in counts}


def paired_denominators(reference: np.ndarray, names: Iterable[str]) -> dict[str, int]:
    """The units of the paired shares: the reference's episodic and chronic patients."""
    episodic = int((reference < CHRONIC_DAYS).sum())
    counts = {"chronification_share": episodic, "remission_share": reference.size - episodic}
    return {k: counts[k] for k in names if k in counts}


def paired_metrics(variant: np.ndarray, reference: np.ndarray,
                   names: Iterable[str]) -> dict[str, float]:
    """Per-patient comparison of two runs' migraine days per 30 days (same seed, same order).

    NaN when the runs do not have the same patients (different cohort sizes).
    """
    names = [n for n in names if n in PAIRED]
    if variant.shape != reference.shape or variant.size == 0:
        return {n: math.nan for n in names}
    episodic = reference < CHRONIC_DAYS
    chronic = ~episodic
    total = float(reference.sum())
    values = {
        "paired_migraine_days_per_month_diff": float((variant - reference).mean()),
        "attributable_fraction": 1.0 - float(variant.sum()) / total if total else math.nan,
        "chronification_share": (float((variant[episodic] >= CHRONIC_DAYS).mean())
                                 if episodic.any() else math.nan),
        "remission_share": (float((variant[chronic] < CHRONIC_DAYS).mean())
                            if chronic.any() else math.nan),
    }
    return {n: values[n] for n in names}


# --- summaries over replicates --------------------------------------------------------------

SUMMARY_SCHEMA = {
    "variant": pl.String, "metric": pl.String, "n": pl.Int32, "mean": pl.Float64,
    "ci_low": pl.Float64, "ci_high": pl.Float64, "reference": pl.String,
    "n_pairs": pl.Int32, "diff_mean": pl.Float64, "diff_low": pl.Float64,
    "diff_high": pl.Float64,
}


def summarize(results: pl.DataFrame, reference: str) -> pl.DataFrame:
    """One row per variant and metric: mean with 95% interval over replicates, and the mean
    per-replicate difference from ``reference`` with its 95% interval.

    ``results`` is the tidy frame (``variant``, ``replicate``, ``seed``, ``metric``, ``value``,
    and ``denominator``: the units of a share); the output keeps its order of variants and
    metrics. Shares with denominators get a Wilson interval over all their units.
    """
    frame = results.with_columns(pl.col("variant").cast(pl.String),
                                 pl.col("metric").cast(pl.String))
    if "denominator" not in frame.columns:
        frame = frame.with_columns(denominator=pl.lit(None, dtype=pl.Int64))
    ref = frame.filter(pl.col("variant") == reference).select(
        "replicate", "metric", ref_value=pl.col("value"))
    joined = frame.join(ref, on=["replicate", "metric"], how="left", maintain_order="left")
    values: dict[tuple[str, str], list[float]] = {}
    units: dict[tuple[str, str], list[int | None]] = {}
    diffs: dict[tuple[str, str], list[float]] = {}
    for variant, metric, value, ref_value, denominator in joined.select(
            "variant", "metric", "value", "ref_value", "denominator").iter_rows():
        key = (variant, metric)
        values.setdefault(key, []).append(value)
        units.setdefault(key, []).append(denominator)
        diffs.setdefault(key, []).append(
            value - ref_value if value is not None and ref_value is not None else math.nan)
    rows = []
    for key, vals in values.items():
        if is_share(key[1]) and any(u is not None for u in units[key]):
            n, mean, lo, hi = share_interval(vals, units[key])
        else:
            n, mean, lo, hi = mean_interval(vals)
        n_d, d_mean, d_lo, d_hi = mean_interval(diffs[key])
        rows.append((*key, n, mean, lo, hi, reference, n_d, d_mean, d_lo, d_hi))
    return pl.DataFrame(rows, schema=SUMMARY_SCHEMA, orient="row").with_columns(
        pl.col(c).fill_nan(None) for c in ("mean", "ci_low", "ci_high", "diff_mean",
                                           "diff_low", "diff_high"))


def metric_table(summary: pl.DataFrame, metrics: Mapping[str, str], digits: int = 2,
                 percent: Iterable[str] | None = None) -> str:
    """A Markdown table: one row per variant, a column per metric (``name -> heading``),
    ``mean [low, high]``; a second line per cell would be too wide, so differences from the
    reference get their own columns named ``Δ heading``. Metrics in ``percent`` (default: the
    fractions, :func:`is_percent`) are shown as percentages."""
    percent = set(percent) if percent is not None else {n for n in metrics if is_percent(n)}

    def fmt(v: float | None, name: str) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "–"
        text = (f"{100 * v:.{max(digits - 1, 0)}f}%" if name in percent
                else f"{v:.{digits}f}")
        return text[1:] if text.startswith("-") and not text.strip("-0.%") else text

    variants = list(dict.fromkeys(summary["variant"].to_list()))
    reference = summary["reference"][0] if summary.height else ""
    header = ["variant", *metrics.values()]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    index = {(r["variant"], r["metric"]): r for r in summary.iter_rows(named=True)}
    for variant in variants:
        cells = [f"{variant}{' (reference)' if variant == reference else ''}"]
        for name in metrics:
            row = index.get((variant, name))
            if row is None:
                cells.append("–")
                continue
            cell = fmt(row["mean"], name)
            if row["ci_low"] is not None:
                cell += f" [{fmt(row['ci_low'], name)}, {fmt(row['ci_high'], name)}]"
            if variant != reference and row["diff_mean"] is not None and \
                    name not in PAIRED:
                size = fmt(abs(row["diff_mean"]), name)
                sign = "" if not size.strip("0.%") else "+" if row["diff_mean"] >= 0 else "-"
                cell += f"; Δ {sign}{size}"
                if row["diff_low"] is not None:
                    cell += f" [{fmt(row['diff_low'], name)}, {fmt(row['diff_high'], name)}]"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def long_table(summary: pl.DataFrame, digits: int = 4,
               percent: Iterable[str] | None = None) -> str:
    """Every row of a summary as Markdown: mean [95% interval] and the paired difference;
    metrics in ``percent`` (default: the fractions) as percentages, as the scripts print them."""
    percent = (set(percent) if percent is not None
               else {n for n in summary["metric"].unique().to_list() if is_percent(n)})

    def cell(mean: float | None, lo: float | None, hi: float | None, as_percent: bool) -> str:
        if mean is None:
            return "–"
        scale, unit = (100.0, "%") if as_percent else (1.0, "")
        text = f"{scale * mean:.{digits}g}{unit}"
        return text + (f" [{scale * lo:.{digits}g}{unit}, {scale * hi:.{digits}g}{unit}]"
                       if lo is not None else "")

    reference = summary["reference"][0] if summary.height else ""
    lines = ["| variant | metric | n | mean [95% interval] | "
             f"difference from {reference} [95% interval] |", "|---|---|---|---|---|"]
    for r in summary.iter_rows(named=True):
        share = r["metric"] in percent
        lines.append(f"| {r['variant']} | {r['metric']} | {r['n']} | "
                     f"{cell(r['mean'], r['ci_low'], r['ci_high'], share)} | "
                     f"{cell(r['diff_mean'], r['diff_low'], r['diff_high'], share)} |")
    return "\n".join(lines)
