"""Figures of an experiment, drawn with matplotlib's Agg backend (files only, no display).

- :func:`risk_ratio_forest`: the next-day risk ratio per trigger (as ``abm validate``), one
  marker per variant with its 95% interval over replicates (or, with one replicate, the run's own
  Mantel-Haenszel interval), against the user's target band 1.15-1.20.
- :func:`migraine_days_boxplot`: migraine days per 30 days over the patients of one replicate,
  one box per variant, with the ICHD-3 chronic line at 15 days.
- :func:`timeline_plot`: one patient's logged series (one panel per column the components log by
  name: for the built-in model pressure, sleep and stress) with attacks shaded; attacks that the
  feedback rules caused (``caused_by_feedback``) are marked, and so are the values the rules
  changed and the days a trigger reading the panel's modality was on (:func:`panels`).

A :class:`Timeline` is the small slice of one run that the last figure needs; workers cut it out
(:func:`extract_timeline`) so that whole runs never travel between processes.

matplotlib is imported inside the drawing functions: building a parser or running an experiment
without figures does not pay for it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from abm.output.recorder import MS_PER_DAY
from abm.wording import plural

#: days shown in a timeline (the start of the run)
TIMELINE_DAYS = 120
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


def _pick_patient(result: object) -> tuple[str, int]:
    """The patient with the most feedback-caused attacks (lowest id on ties); with none, the
    patient whose migraine days are closest to the cohort's median."""
    attacks: pl.DataFrame = result.attacks  # type: ignore[attr-defined]
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
    return Timeline(variant, config.run.seed, patient, caused, shown, daily, attacks, edits)


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


def timeline_plot(timeline: Timeline, path: Path, days: int = TIMELINE_DAYS) -> Path:
    """One patient's logged series, a panel each, attacks shaded, feedback and triggers marked."""
    plt = _pyplot()
    daily = timeline.daily.filter(pl.col("day") < days)
    x = daily["day"].to_numpy()
    shown = timeline.panels
    fig, axes = plt.subplots(max(len(shown), 1), 1, figsize=(8.5, 1.2 + 1.35 * len(shown)),
                             sharex=True, squeeze=False)
    axes = axes[:, 0]
    for ax in axes:
        for start, end, caused in timeline.attacks.filter(pl.col("start_day") < days).iter_rows():
            ax.axvspan(start, min(end, days), color="darkorange" if caused else "0.75",
                       alpha=0.6 if caused else 0.5, lw=0)
        ax.tick_params(labelsize=7)
    edits = timeline.edits.filter(pl.col("day") < days)
    for ax, panel in zip(axes, shown, strict=False):
        values = daily[panel.column].cast(pl.Float64).to_numpy()
        ax.plot(x + 0.5, values, color="tab:blue", lw=1,
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
    axes[-1].set_xlim(0, min(days, int(x.max()) + 1) if x.size else days)
    shown_days = min(days, int(x.max()) + 1) if x.size else days
    fig.suptitle(f"Patient {timeline.patient_id}, variant {timeline.variant!r}, seed "
                 f"{timeline.seed}: {plural(timeline.feedback_attacks, 'attack')} caused by "
                 f"feedback in the run (first {plural(shown_days, 'day')} shown)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)
