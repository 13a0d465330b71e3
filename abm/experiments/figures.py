"""Figures of an experiment, drawn with matplotlib's Agg backend (files only, no display).

- :func:`risk_ratio_forest`: the next-day risk ratio per trigger (as ``abm validate``), one
  marker per variant with its 95% interval over replicates (or, with one replicate, the run's own
  Mantel-Haenszel interval), against the user's target band 1.15-1.20.
- :func:`migraine_days_boxplot`: migraine days per 30 days over the patients of one replicate,
  one box per variant, with the ICHD-3 chronic line at 15 days.
- :func:`timeline_plot`: one patient's logged series (one panel per column the components log by
  name: for the built-in model pressure, sleep and stress) with attacks shaded; attacks that the
  feedback rules caused (``caused_by_feedback``) are marked, and so are the values the rules
  changed and the days a trigger reading the panel's modality was on (:func:`panels`). When the
  run has the slow loops (medication overuse, chronification), two more panels show the
  patient's medication and migraine days in the last 30 with the overuse threshold, the overuse
  and chronic periods, and the baseline multiplier they make; the figure then covers the whole run
  (up to :data:`STATE_TIMELINE_DAYS`) and shows a patient who starts to overuse, or chronifies.

A :class:`Timeline` is the small slice of one run that the last figure needs; workers cut it out
(:func:`extract_timeline`) so that whole runs never travel between processes.

Figures of a study, drawn from an experiment's summary (``summary.parquet``):

- :func:`difference_forest`: the paired difference of each variant from the reference, a panel
  per metric, mean over replicates with its 95% interval (filled: the interval excludes 0);
- :func:`loop_gain_plot`: each feedback loop's gain (the share of attacks it caused) by variant,
  a panel per loop on its own scale, with 95% intervals over replicates;
- :func:`course_plot`: shares month by month (``chronic_course``, ``realized_course``), a line
  per variant with its 95% interval.

:func:`add_to_manifest` records such figures in an output folder's manifest (what
``abm.cli.experiment.run_script`` does with a script's own figures).

matplotlib is imported inside the drawing functions: building a parser or running an experiment
without figures does not pay for it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from abm.output.recorder import MS_PER_DAY
from abm.wording import plural

#: days shown in a timeline (the start of the run)
TIMELINE_DAYS = 120
#: days shown in a timeline of a run with the slow loops (the start of the run: two years)
STATE_TIMELINE_DAYS = 730
#: the daily columns of the slow states a timeline keeps (those the run has)
STATE_COLUMNS = ("has_migraine", "medication_days_30d", "medication_overuse", "chronic_state",
                 "state_multiplier")
_DPI = 100


@dataclass(frozen=True)
class Panel:
    """One panel of a timeline: a logged column, and the triggers marked on it."""

    column: str
    label: str
    #: whole numbers, drawn as steps
    steps: bool
    #: (flag column, trigger) of the risk factors that read the column's modality
    flags: tuple[tuple[str, str], ...]


def panels(model: Any) -> tuple[Panel, ...]:
    """A panel per column that a component's log entry names (``LogEntry.column``), in the
    components' order; a risk factor is marked on the panel of the modality its inputs come
    from (the weather trigger, which reads the 24 h change, on the pressure panel)."""
    owner = {col.name: c.name for c in model.components for col in c.outputs()}
    out = []
    for component in model.components:
        for entry in component.logs:
            col = model.columns.get(entry.column)
            if col is None:
                continue
            flags = tuple((rf.flag_column, rf.trigger) for rf in model.risk_factors
                          if any(owner.get(c) == component.name for c, _ in rf.inputs))
            out.append(Panel(col.name, f"{col.name} ({col.unit})" if col.unit else col.name,
                             col.dtype.is_integer(), flags))
    return tuple(out)


@dataclass
class Timeline:
    """One patient's days, attacks and feedback edits in one run."""

    variant: str
    seed: int
    patient_id: str
    feedback_attacks: int
    panels: tuple[Panel, ...]
    daily: pl.DataFrame        # day, each panel's column and its triggers' flags
    attacks: pl.DataFrame      # start_day, end_day (fractional days), caused_by_feedback
    edits: pl.DataFrame        # day, column (a panel's), value: changes made by feedback rules
    #: day, medicated (acute medication that day) and the :data:`STATE_COLUMNS` the run has;
    #: None when the run has no slow loop (no ``medication_overuse`` or ``chronic_state``)
    states: pl.DataFrame | None = None
    #: what the state panels' title says: medication class, overuse threshold (days in 30)
    notes: dict[str, Any] = field(default_factory=dict)


def _has_states(daily: pl.DataFrame) -> bool:
    return "medication_overuse" in daily.columns or "chronic_state" in daily.columns


def _state_tier(result: object) -> np.ndarray | None:
    """Per patient (row order), how well they show the slow loops (higher is better): 4, they
    start to overuse during the run and later become chronic; 3, they overuse and become
    chronic; 2, they become chronic; 1, they start to overuse during the run; 0, none of these.
    None when the run has no slow loop."""
    daily: pl.DataFrame = result.daily  # type: ignore[attr-defined]
    if not _has_states(daily):
        return None
    n = result.patients.height  # type: ignore[attr-defined]
    days = daily.height // max(n, 1)
    never = np.full(n, days + 1)
    chronified = np.zeros(n, dtype=bool)
    first_chronic = never
    if "chronic_state" in daily.columns:
        state = daily["chronic_state"].to_numpy().reshape(n, days)
        chronified = ~state[:, 0] & state.any(axis=1)
        first_chronic = np.where(chronified, np.argmax(state, axis=1), never)
    overused = started = np.zeros(n, dtype=bool)
    first_overuse = never
    if "medication_overuse" in daily.columns:
        overuse = daily["medication_overuse"].to_numpy().reshape(n, days)
        overused = overuse.any(axis=1)
        started = overused & ~overuse[:, 0]
        first_overuse = np.where(started, np.argmax(overuse, axis=1), never)
    return np.select([chronified & started & (first_overuse < first_chronic),
                      chronified & overused, chronified, started], [4, 3, 2, 1], 0)


def _pick_patient(result: object) -> tuple[str, int]:
    """The patient with the most feedback-caused attacks (lowest id on ties); with none, the
    patient whose migraine days are closest to the cohort's median. In a run with the slow
    loops, the patient is first chosen among the best of :func:`_state_tier`."""
    attacks: pl.DataFrame = result.attacks  # type: ignore[attr-defined]
    ids = result.patients["patient_id"].cast(pl.String)  # type: ignore[attr-defined]
    tier = _state_tier(result)
    if tier is not None and tier.max() > 0:
        counts = dict(attacks.filter(pl.col("caused_by_feedback"))
                      .group_by(pl.col("patient_id").cast(pl.String)).len().iter_rows())
        best = np.flatnonzero(tier == tier.max())
        chosen = max(best, key=lambda i: (counts.get(ids[int(i)], 0), -int(i)))
        return ids[int(chosen)], int(counts.get(ids[int(chosen)], 0))
    caused = (attacks.filter(pl.col("caused_by_feedback"))
              .group_by(pl.col("patient_id").cast(pl.String)).len()
              .sort(["len", "patient_id"], descending=[True, False]))
    if caused.height:
        return caused["patient_id"][0], int(caused["len"][0])
    days = (result.daily.group_by(pl.col("patient_id").cast(pl.String))  # type: ignore
            .agg(pl.col("has_migraine").sum()).sort("patient_id"))
    median = float(np.median(days["has_migraine"].to_numpy()))
    distance = np.abs(days["has_migraine"].to_numpy() - median)
    return days["patient_id"][int(np.argmin(distance))], 0


def extract_timeline(result: object, variant: str) -> Timeline:
    """The :class:`Timeline` of the patient :func:`_pick_patient` chooses."""
    patient, caused = _pick_patient(result)
    config = result.config  # type: ignore[attr-defined]
    start_ms = int(np.datetime64(config.run.start, "ms").astype(np.int64))
    own = pl.col("patient_id").cast(pl.String) == patient
    shown = panels(result.model)  # type: ignore[attr-defined]
    columns = dict.fromkeys([p.column for p in shown]
                            + [flag for p in shown for flag, _ in p.flags])
    daily = result.daily.filter(own).select("day", *columns)  # type: ignore[attr-defined]
    attacks = result.attacks.filter(own).select(  # type: ignore[attr-defined]
        start_day=(pl.col("onset").dt.epoch("ms") - start_ms) / MS_PER_DAY,
        end_day=(pl.col("end").dt.epoch("ms") - start_ms) / MS_PER_DAY,
        caused_by_feedback=pl.col("caused_by_feedback"))
    edited = pl.col("name").cast(pl.String).str.split(":").list.last()
    edits = result.events.filter(  # type: ignore[attr-defined]
        own & (pl.col("event") == "feedback") & (pl.col("value") != 0)).select(
        day=(pl.col("target_date") - pl.lit(config.run.start)).dt.total_days(),
        column=edited, value=pl.col("value")).filter(
        pl.col("column").is_in([p.column for p in shown]))
    states, notes = None, {}
    if _has_states(result.daily):  # type: ignore[attr-defined]
        states = result.daily.filter(own).select(  # type: ignore[attr-defined]
            "day", *[c for c in STATE_COLUMNS if c in result.daily.columns],  # type: ignore
            **({"medicated": pl.col("acute_medication").cast(pl.String) != "none"}
               if "acute_medication" in result.daily.columns else {}))  # type: ignore
        row = result.patients.filter(own)  # type: ignore[attr-defined]
        notes = {"chronic_at_start": bool(row["is_chronic"][0]),
                 "target": float(row["target_migraine_days_per_month"][0])}
        if "medication_class" in row.columns:
            from abm.model.feedback.overuse import monthly_threshold
            from abm.model.medication import CLASSES

            code = np.array([CLASSES.index(str(row["medication_class"][0]))])
            notes |= {"medication_class": str(row["medication_class"][0]),
                      "overuse_threshold": int(monthly_threshold(config, code)[0])}
    return Timeline(variant, config.run.seed, patient, caused, shown, daily, attacks, edits,
                    states, notes)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _colors(n: int) -> list:
    plt = _pyplot()
    cmap = plt.get_cmap("tab10")
    return [cmap(i % 10) for i in range(n)]


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=_DPI)
    _pyplot().close(fig)
    return path


def summary_triggers(summary: pl.DataFrame) -> list[str]:
    """The triggers a summary has risk ratios of (``risk_ratio_<trigger>`` with its ``_low``),
    in the summary's order."""
    metrics = set(summary["metric"].to_list())
    names = dict.fromkeys(m.removeprefix("risk_ratio_") for m in summary["metric"].to_list()
                          if re.match("risk_ratio_", m) and f"{m}_low" in metrics)
    return list(names)


def risk_ratio_forest(summary: pl.DataFrame, path: Path, title: str = "") -> Path:
    """Forest plot of the risk ratio of every trigger in ``summary``, by variant."""
    plt = _pyplot()
    triggers = summary_triggers(summary)
    variants = list(dict.fromkeys(summary["variant"].to_list()))
    index = {(r["variant"], r["metric"]): r for r in summary.iter_rows(named=True)}
    fig, ax = plt.subplots(figsize=(8.5, 1.4 + 0.22 * len(triggers) * max(3, len(variants))))
    ax.axvspan(1.15, 1.20, color="0.85", label="target 1.15-1.20 (abm validate)")
    ax.axvline(1.0, color="0.3", lw=0.8, ls="--")
    step = 0.8 / max(len(variants), 1)
    for k, (variant, color) in enumerate(zip(variants, _colors(len(variants)), strict=True)):
        ys, xs, lo, hi = [], [], [], []
        for i, trigger in enumerate(triggers):
            row = index.get((variant, f"risk_ratio_{trigger}"))
            if row is None or row["mean"] is None:
                continue
            low, high = row["ci_low"], row["ci_high"]
            if low is None:  # one replicate: the run's own Mantel-Haenszel interval
                low = (index.get((variant, f"risk_ratio_{trigger}_low")) or {}).get("mean")
                high = (index.get((variant, f"risk_ratio_{trigger}_high")) or {}).get("mean")
            ys.append(i - 0.4 + step * (k + 0.5))
            xs.append(row["mean"])
            lo.append(row["mean"] - low if low is not None else 0.0)
            hi.append(high - row["mean"] if high is not None else 0.0)
        ax.errorbar(xs, ys, xerr=[lo, hi], fmt="o", color=color, ms=4, capsize=2, lw=1,
                    label=variant)
    ax.set_yticks(range(len(triggers)), triggers)
    ax.invert_yaxis()
    ax.set_xlabel("next-day onset risk ratio (Mantel-Haenszel), mean and 95% interval")
    ax.set_title(title or "Risk ratio per trigger by variant", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return _save(fig, path)


def migraine_days_boxplot(per_patient: Mapping[str, np.ndarray], path: Path,
                          title: str = "") -> Path:
    """Box plot of migraine days per 30 days over patients, one box per variant."""
    plt = _pyplot()
    names = list(per_patient)
    data = [np.asarray(per_patient[v], dtype=np.float64) for v in names]
    fig, ax = plt.subplots(figsize=(max(6.5, 1.3 * len(names) + 2), 4.0))
    boxes = ax.boxplot(data, showfliers=False, patch_artist=True, widths=0.6,
                       medianprops={"color": "black"})
    for patch, color in zip(boxes["boxes"], _colors(len(names)), strict=True):
        patch.set_facecolor(color)
        patch.set_alpha(0.55)
    ax.plot(range(1, len(names) + 1), [d.mean() if d.size else math.nan for d in data], "D",
            color="black", ms=4, label="mean")
    ax.axhline(15, color="firebrick", lw=0.8, ls="--", label="chronic: 15 days")
    ax.set_xticks(range(1, len(names) + 1), names, rotation=15 if len(names) > 4 else 0)
    ax.set_ylabel("migraine days per 30 days")
    ax.set_title(title or "Migraine days per month by variant", fontsize=10)
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    fig.tight_layout()
    return _save(fig, path)


def _periods(flags: np.ndarray) -> list[tuple[int, int]]:
    """``(first, one past the last)`` index of each run of True in a boolean series."""
    padded = np.concatenate([[False], np.asarray(flags, dtype=bool), [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _trailing(flags: np.ndarray, window: int = 30) -> np.ndarray:
    """How many of the ``window`` days up to and including each day are flagged (one series)."""
    from abm.model.processes import trailing_count

    return trailing_count(np.asarray(flags)[None, :], window)[0]


def _state_panels(axes: Any, timeline: Timeline, days: int) -> None:
    """The two panels of the slow states: medication and migraine days in the last 30 (overuse
    and chronic periods shaded), and the baseline multiplier."""
    from matplotlib.patches import Patch

    states = timeline.states.filter(pl.col("day") < days)  # type: ignore[union-attr]
    x = states["day"].to_numpy() + 0.5
    counts, multiplier = axes
    handles = []
    for ax in axes:
        if "medication_overuse" in states.columns:
            for a, b in _periods(states["medication_overuse"].to_numpy()):
                ax.axvspan(x[a] - 0.5, x[b - 1] + 0.5, color="tab:purple", alpha=0.15, lw=0)
        if "chronic_state" in states.columns:
            for a, b in _periods(states["chronic_state"].to_numpy()):
                ax.axvspan(x[a] - 0.5, x[b - 1] + 0.5, ymin=0.93, ymax=1.0, color="firebrick",
                           alpha=0.7, lw=0)
        ax.tick_params(labelsize=7)
    if "medication_overuse" in states.columns:
        handles.append(Patch(color="tab:purple", alpha=0.15, label="medication overuse"))
    if "chronic_state" in states.columns:
        handles.append(Patch(color="firebrick", alpha=0.7, label="chronic (chronic_state)"))
    if "medication_days_30d" in states.columns:
        counts.plot(x, states["medication_days_30d"].to_numpy(), color="tab:purple", lw=1.1,
                    drawstyle="steps-mid", label="medication days in the last 30")
    if "has_migraine" in states.columns:
        counts.plot(x, _trailing(states["has_migraine"].to_numpy()), color="0.2", lw=0.9,
                    label="migraine days in the last 30")
    if "medicated" in states.columns:
        on = states.filter(pl.col("medicated"))["day"].to_numpy() + 0.5
        counts.plot(on, np.full(on.size, 0.5), "|", color="tab:purple", ms=5,
                    label="medication day")
    threshold = timeline.notes.get("overuse_threshold")
    if threshold is not None:
        counts.axhline(threshold, color="tab:purple", lw=0.8, ls="--",
                       label=f"overuse threshold ({threshold} days, "
                             f"{timeline.notes.get('medication_class', '')})")
    counts.axhline(15, color="firebrick", lw=0.8, ls=":", label="15 migraine days")
    counts.set_ylabel("days in the last 30", fontsize=8)
    counts.set_ylim(0, 33)
    counts.legend(handles=counts.get_legend_handles_labels()[0] + handles, fontsize=6.5,
                  frameon=False, loc="upper left", ncol=4, bbox_to_anchor=(0.0, 0.93))
    if "state_multiplier" in states.columns:
        values = states["state_multiplier"].to_numpy().astype(np.float64)
        multiplier.plot(x, values, color="tab:red", lw=1.1, drawstyle="steps-mid")
        if values.size and values.min() > 0 and values.max() / values.min() > 4:
            multiplier.set_yscale("log")  # 0.6 (a preventive) to 20 (chronic with overuse)
    multiplier.axhline(1.0, color="0.5", lw=0.6)
    multiplier.set_ylabel("baseline\nmultiplier", fontsize=8)


def timeline_plot(timeline: Timeline, path: Path, days: int | None = None) -> Path:
    """One patient's logged series, a panel each, attacks shaded, feedback and triggers marked;
    with the slow states (:attr:`Timeline.states`), their two panels below. ``days`` shown
    from the start: default :data:`TIMELINE_DAYS`, or :data:`STATE_TIMELINE_DAYS` with the slow
    states."""
    plt = _pyplot()
    with_states = timeline.states is not None
    if days is None:
        days = STATE_TIMELINE_DAYS if with_states else TIMELINE_DAYS
    daily = timeline.daily.filter(pl.col("day") < days)
    x = daily["day"].to_numpy()
    shown = timeline.panels
    rows = max(len(shown), 1) + (2 if with_states else 0)
    heights = [1.0] * max(len(shown), 1) + ([1.4, 0.7] if with_states else [])
    fig, axes = plt.subplots(rows, 1, figsize=(11.0 if with_states else 8.5, 1.2 + 1.35 * rows),
                             sharex=True, squeeze=False, gridspec_kw={"height_ratios": heights})
    axes = axes[:, 0]
    if with_states:
        _state_panels(axes[-2:], timeline, days)
    upper = axes[:-2] if with_states else axes
    for ax in upper:
        for start, end, caused in timeline.attacks.filter(pl.col("start_day") < days).iter_rows():
            ax.axvspan(start, min(end, days), color="darkorange" if caused else "0.75",
                       alpha=0.6 if caused else 0.5, lw=0)
        ax.tick_params(labelsize=7)
    edits = timeline.edits.filter(pl.col("day") < days)
    for ax, panel in zip(axes, shown, strict=False):
        values = daily[panel.column].cast(pl.Float64).to_numpy()
        ax.plot(x + 0.5, values, color="tab:blue", lw=1 if days <= TIMELINE_DAYS else 0.5,
                drawstyle="steps-mid" if panel.steps else "default")
        ax.set_ylabel(panel.label, fontsize=8)
        level = dict(zip(x.tolist(), values.tolist(), strict=True))
        changed = edits.filter(pl.col("column") == panel.column)["day"].to_numpy()
        if changed.size:
            ax.plot(changed + 0.5, [level.get(int(d), math.nan) for d in changed], "^",
                    color="crimson", ms=4, label="changed by feedback")
        for (flag, trigger), marker in zip(panel.flags, "v*sPD", strict=False):
            on = daily.filter(pl.col(flag))
            if on.height:
                ax.plot(on["day"].to_numpy() + 0.5, on[panel.column].cast(pl.Float64).to_numpy(),
                        marker, color="navy", ms=3.5, label=f"{trigger} trigger on")
        if changed.size or any(daily[flag].any() for flag, _ in panel.flags):
            ax.legend(fontsize=7, frameon=False, loc="upper right")
    from matplotlib.patches import Patch

    handles = [Patch(color="0.75", alpha=0.5, label="attack"),
               Patch(color="darkorange", alpha=0.6, label="attack caused by feedback")]
    handles += axes[0].get_legend_handles_labels()[0]  # the first panel's own markers
    axes[0].legend(handles=handles, fontsize=7, frameon=False, loc="upper right",
                   ncol=min(len(handles), 4))
    axes[-1].set_xlabel("day of the run", fontsize=8)
    shown_days = min(days, int(x.max()) + 1) if x.size else days
    axes[-1].set_xlim(0, shown_days)
    title = (f"Patient {timeline.patient_id}, variant {timeline.variant!r}, seed "
             f"{timeline.seed}: {plural(timeline.feedback_attacks, 'attack')} caused by "
             f"feedback in the run (first {plural(shown_days, 'day')} shown)")
    if with_states:
        n = timeline.notes
        start = "chronic" if n.get("chronic_at_start") else "episodic"
        title += (f"\n{start} at the start, target {n.get('target', math.nan):.1f} migraine "
                  f"days a month" + (f", usually takes {n['medication_class']}"
                                     if "medication_class" in n else ""))
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


# --- figures of a study, from an experiment's summary -----------------------------------------

def _rows(summary: pl.DataFrame) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["variant"], r["metric"]): r for r in summary.iter_rows(named=True)}


def _variants(summary: pl.DataFrame, variants: list[str] | None) -> list[str]:
    return variants if variants is not None else list(dict.fromkeys(summary["variant"].to_list()))


def _difference(row: dict[str, Any] | None, paired: bool) -> tuple[float, float, float]:
    """``(mean, low, high)`` of a variant's difference from the reference: a paired metric is a
    difference already (its mean and interval), any other its ``diff_`` columns."""
    if row is None:
        return math.nan, math.nan, math.nan
    keys = ("mean", "ci_low", "ci_high") if paired else ("diff_mean", "diff_low", "diff_high")
    return tuple(math.nan if row[k] is None else float(row[k]) for k in keys)  # type: ignore


def difference_forest(summary: pl.DataFrame, metrics: Mapping[str, str], path: Path,
                      title: str = "", variants: list[str] | None = None) -> Path:
    """The difference of each variant from the reference, a panel per metric (``name ->
    label``): the mean over replicates and its 95% interval (paired by seed), a filled marker
    where the interval excludes 0; fractions (:func:`~abm.experiments.metrics.is_percent`) in
    percentage points. The reference is left out."""
    from abm.experiments.metrics import PAIRED, is_percent

    plt = _pyplot()
    reference = summary["reference"][0] if summary.height else ""
    names = [v for v in _variants(summary, variants) if v != reference]
    index = _rows(summary)
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.3 * len(metrics) + 1.6,
                                                       1.0 + 0.42 * max(len(names), 2)),
                             sharey=True, squeeze=False)
    colors = _colors(len(names))
    for ax, (metric, label) in zip(axes[0], metrics.items(), strict=True):
        scale = 100.0 if is_percent(metric) else 1.0
        ax.axvline(0.0, color="0.3", lw=0.8, ls="--")
        for y, (variant, color) in enumerate(zip(names, colors, strict=True)):
            mean, low, high = (v * scale for v in _difference(index.get((variant, metric)),
                                                              metric in PAIRED))
            if math.isnan(mean):
                continue
            has_ci = not (math.isnan(low) or math.isnan(high))
            excludes = has_ci and (low > 0 or high < 0)
            ax.errorbar([mean], [y], xerr=[[mean - low], [high - mean]] if has_ci else None,
                        fmt="o", color=color, mfc=color if excludes else "white", ms=6,
                        capsize=3, lw=1.2)
            unit = " pp" if scale != 1.0 else ""
            text = f"{mean:+.2f}{unit}" + (f" [{low:+.2f}, {high:+.2f}]" if has_ci else "")
            ax.annotate(text, (mean, y), xytext=(0, 7), textcoords="offset points",
                        ha="center", fontsize=6.5, color="0.15")
        ax.set_xlabel(label + (" (percentage points)" if scale != 1.0 else ""), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.margins(x=0.25, y=0.12)
    axes[0, 0].set_yticks(range(len(names)), names)
    axes[0, 0].invert_yaxis()
    fig.suptitle(title or f"Difference from {reference}, mean and 95% interval over replicates "
                 "(filled: the interval excludes 0)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


#: the loops' gains as :func:`loop_gain_plot` shows them
LOOP_LABELS = {"loop_gain_stress_loop": "stress loop\n(attack > stress > attack)",
               "loop_gain_circle": "sleep-stress circle\n(through the couplings)",
               "loop_gain_medication_overuse": "medication overuse\n(overuse > MOH)",
               "loop_gain_chronification": "chronification\n(episodic > chronic)",
               "loop_gain_all": "all loops"}


def loop_gain_plot(summary: pl.DataFrame, path: Path, title: str = "",
                   variants: list[str] | None = None) -> Path:
    """Each loop's gain (the share of attacks it caused: extra attacks per attack) by variant:
    a panel per loop on its own scale, a bar per variant with its 95% interval over
    replicates."""
    plt = _pyplot()
    names = _variants(summary, variants)
    index = _rows(summary)
    loops = [m for m in LOOP_LABELS if any((v, m) in index for v in names)]
    fig, axes = plt.subplots(1, max(len(loops), 1), figsize=(2.6 * max(len(loops), 1) + 1.6,
                                                             1.0 + 0.36 * max(len(names), 2)),
                             sharey=True, squeeze=False)
    colors = _colors(len(names))
    for ax, metric in zip(axes[0], loops, strict=False):
        for y, (variant, color) in enumerate(zip(names, colors, strict=True)):
            row = index.get((variant, metric))
            if row is None or row["mean"] is None:
                continue
            mean = 100 * row["mean"]
            err = None
            if row["ci_low"] is not None:
                err = [[mean - 100 * row["ci_low"]], [100 * row["ci_high"] - mean]]
            ax.barh([y], [mean], xerr=err, color=color, alpha=0.75, capsize=2,
                    error_kw={"lw": 1})
            right = mean + (err[1][0] if err is not None else 0.0)
            ax.annotate(f"{mean:.2f}%", (right, y), xytext=(4, -3), textcoords="offset points",
                        fontsize=6.5)
        ax.set_title(LOOP_LABELS[metric], fontsize=8)
        ax.set_xlabel("attacks caused (%)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.margins(x=0.45)
    axes[0, 0].set_yticks(range(len(names)), names)
    axes[0, 0].invert_yaxis()
    fig.suptitle(title or "Loop gain: the share of attacks each loop caused, mean and 95% "
                 "interval over replicates", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


#: the monthly series :func:`course_plot` can show (metric prefix -> label)
COURSES = {"chronic_state_share": "chronic (chronic_state) on the month's last day",
           "chronified_share": "episodic on day 0, chronic by then",
           "realized_chronic_share": ">= 15 migraine days in the month"}


def course_plot(summary: pl.DataFrame, path: Path, title: str = "",
                series: Mapping[str, str] | None = None,
                variants: list[str] | None = None) -> Path:
    """Shares month by month (the ``*_month_NN`` metrics of ``series``: prefix -> label), a
    panel per series, a line per variant with its 95% interval shaded."""
    plt = _pyplot()
    series = dict(series or COURSES)
    names = _variants(summary, variants)
    index = _rows(summary)
    fig, axes = plt.subplots(1, len(series), figsize=(4.4 * len(series) + 1.8, 4.0),
                             squeeze=False)
    colors = _colors(len(names))
    for ax, (prefix, label) in zip(axes[0], series.items(), strict=True):
        for variant, color in zip(names, colors, strict=True):
            months, mean, low, high = [], [], [], []
            for month in range(1, 1000):
                row = index.get((variant, f"{prefix}_month_{month:02d}"))
                if row is None:
                    break
                if row["mean"] is None:
                    continue
                months.append(month)
                mean.append(100 * row["mean"])
                low.append(100 * row["ci_low"] if row["ci_low"] is not None else math.nan)
                high.append(100 * row["ci_high"] if row["ci_high"] is not None else math.nan)
            if not months:
                continue
            ax.plot(months, mean, "-o", color=color, ms=2.5, lw=1.2, label=variant)
            ax.fill_between(months, low, high, color=color, alpha=0.15, lw=0)
        ax.set_title(label, fontsize=8.5)
        ax.set_xlabel("month of the run (30 days)", fontsize=8)
        ax.set_ylabel("% of patients" if prefix != "chronified_share"
                      else "% of the patients episodic on day 0", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3, lw=0.5)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, frameon=False, loc="center right")
    fig.suptitle(title or "Month by month, mean and 95% interval over replicates", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1 - 1.5 / (4.4 * len(series) + 1.8), 1))
    return _save(fig, path)


def add_to_manifest(folder: Path, paths: list[Path]) -> None:
    """Record files drawn into an experiment's output ``folder`` after it was written (a
    study's own figures) in its ``manifest.json``, as the files written with it are."""
    import json

    from abm.output.files import file_record
    from abm.output.write import MANIFEST

    manifest = folder / MANIFEST
    record = json.loads(manifest.read_text(encoding="utf-8"))
    record["files"] |= {p.name: file_record(p) for p in paths}
    manifest.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")

