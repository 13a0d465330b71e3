"""Figures of an experiment, drawn with matplotlib's Agg backend (files only, no display).

- :func:`risk_ratio_forest`: the next-day risk ratio per trigger (as ``abm validate``), one
  marker per variant with its 95% interval over replicates (or, with one replicate, the run's own
  Mantel-Haenszel interval), against the user's target band 1.15-1.20.
- :func:`migraine_days_boxplot`: migraine days per 30 days over the patients of one replicate,
  one box per variant, with the ICHD-3 chronic line at 15 days.
- :func:`timeline_plot`: one patient's sleep, stress and pressure with attacks shaded; attacks
  that the feedback rules caused (``caused_by_feedback``) are marked, and so are the stress
  points the rules added and the days with a weather trigger (24 h pressure drop).

A :class:`Timeline` is the small slice of one run that the last figure needs; workers cut it out
(:func:`extract_timeline`) so that whole runs never travel between processes.

matplotlib is imported inside the drawing functions: building a parser or running an experiment
without figures does not pay for it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from abm.engine.model import built_in_triggers
from abm.output.recorder import MS_PER_DAY
from abm.wording import plural

TRIGGERS = built_in_triggers()

#: days shown in a timeline (the start of the run)
TIMELINE_DAYS = 120
_DPI = 100


@dataclass
class Timeline:
    """One patient's days, attacks and feedback edits in one run."""

    variant: str
    seed: int
    patient_id: str
    feedback_attacks: int
    daily: pl.DataFrame        # day, total_sleep_hours, stress_level, pressure, weather_trigger
    attacks: pl.DataFrame      # start_day, end_day (fractional days), caused_by_feedback
    edits: pl.DataFrame        # day, value: stress points added by feedback rules


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
    daily = result.daily.filter(own).select(  # type: ignore[attr-defined]
        "day", "total_sleep_hours", "stress_level", "pressure", "weather_trigger")
    attacks = result.attacks.filter(own).select(  # type: ignore[attr-defined]
        start_day=(pl.col("onset").dt.epoch("ms") - start_ms) / MS_PER_DAY,
        end_day=(pl.col("end").dt.epoch("ms") - start_ms) / MS_PER_DAY,
        caused_by_feedback=pl.col("caused_by_feedback"))
    edits = result.events.filter(  # type: ignore[attr-defined]
        own & (pl.col("event") == "feedback")
        & pl.col("name").cast(pl.String).str.ends_with(":stress_level")
        & (pl.col("value") != 0)).select(
        day=(pl.col("target_date") - pl.lit(config.run.start)).dt.total_days(),
        value=pl.col("value"))
    return Timeline(variant, config.run.seed, patient, caused, daily, attacks, edits)


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


def risk_ratio_forest(summary: pl.DataFrame, path: Path, title: str = "") -> Path:
    """Forest plot of the risk ratio of every trigger, by variant."""
    plt = _pyplot()
    variants = list(dict.fromkeys(summary["variant"].to_list()))
    index = {(r["variant"], r["metric"]): r for r in summary.iter_rows(named=True)}
    fig, ax = plt.subplots(figsize=(8.5, 1.4 + 0.22 * len(TRIGGERS) * max(3, len(variants))))
    ax.axvspan(1.15, 1.20, color="0.85", label="target 1.15-1.20 (abm validate)")
    ax.axvline(1.0, color="0.3", lw=0.8, ls="--")
    step = 0.8 / max(len(variants), 1)
    for k, (variant, color) in enumerate(zip(variants, _colors(len(variants)), strict=True)):
        ys, xs, lo, hi = [], [], [], []
        for i, trigger in enumerate(TRIGGERS):
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
    ax.set_yticks(range(len(TRIGGERS)), TRIGGERS)
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
    """Sleep, stress and pressure of one patient, attacks shaded, feedback marked."""
    plt = _pyplot()
    daily = timeline.daily.filter(pl.col("day") < days)
    x = daily["day"].to_numpy()
    fig, axes = plt.subplots(3, 1, figsize=(8.5, 5.2), sharex=True)
    panels = (("total_sleep_hours", "sleep (h)"), ("stress_level", "stress (1-10)"),
              ("pressure", "pressure (hPa)"))
    for ax, (column, label) in zip(axes, panels, strict=True):
        for start, end, caused in timeline.attacks.filter(pl.col("start_day") < days).iter_rows():
            ax.axvspan(start, min(end, days), color="darkorange" if caused else "0.75",
                       alpha=0.6 if caused else 0.5, lw=0)
        ax.plot(x + 0.5, daily[column].to_numpy(), color="tab:blue", lw=1,
                drawstyle="steps-mid" if column == "stress_level" else "default")
        ax.set_ylabel(label, fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].axhline(5, color="0.4", lw=0.6, ls=":")
    axes[0].axhline(9, color="0.4", lw=0.6, ls=":")
    edits = timeline.edits.filter(pl.col("day") < days)
    if edits.height:
        level = dict(zip(daily["day"].to_list(), daily["stress_level"].to_list(), strict=True))
        ex = edits["day"].to_numpy()
        axes[1].plot(ex + 0.5, [level.get(int(d), math.nan) for d in ex], "^", color="crimson",
                     ms=4, label="stress raised by feedback")
        axes[1].legend(fontsize=7, frameon=False, loc="upper right")
    drops = daily.filter(pl.col("weather_trigger"))
    if drops.height:
        axes[2].plot(drops["day"].to_numpy() + 0.5, drops["pressure"].to_numpy(), "v",
                     color="navy", ms=3.5, label="24 h drop ≥ threshold (weather trigger)")
        axes[2].legend(fontsize=7, frameon=False, loc="upper right")
    from matplotlib.patches import Patch

    handles = [Patch(color="0.75", alpha=0.5, label="attack"),
               Patch(color="darkorange", alpha=0.6, label="attack caused by feedback")]
    axes[0].legend(handles=handles, fontsize=7, frameon=False, loc="upper right", ncol=2)
    axes[-1].set_xlabel("day of the run", fontsize=8)
    axes[-1].set_xlim(0, min(days, int(x.max()) + 1) if x.size else days)
    shown = min(days, int(x.max()) + 1) if x.size else days
    fig.suptitle(f"Patient {timeline.patient_id}, variant {timeline.variant!r}, seed "
                 f"{timeline.seed}: {plural(timeline.feedback_attacks, 'attack')} caused by "
                 f"feedback in the run (first {plural(shown, 'day')} shown)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)
