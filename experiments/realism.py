"""Question: how does the simulated data compare with what the literature reports?

Not an experiment over variants: one run per preset, measured the way the published studies
measure, beside the published figure. Every number is printed with the figure it is compared
with, so the table is a check a reader can repeat:

    python experiments/realism.py [--quick] [--patients N] [--days D] [--seed S]

(default 5000 patients x 365 days per preset; ``--quick`` 1000 x 180). It prints a Markdown
table; README_experiments.md shows the full run's.
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np
import polars as pl

import abm
from abm.exports.fusemoe import split_patients
from abm.validation.ceiling import at_risk_days
from abm.validation.ceiling import measure as ceiling
from abm.validation.configured import onset_probabilities
from abm.validation.frames import next_day_table, patient_day_matrix
from abm.validation.stats import mantel_haenszel_or, mantel_haenszel_rr


def _m(daily: pl.DataFrame, column: str, n: int, days: int) -> np.ndarray:
    return patient_day_matrix(daily, column, n, days)


def within_person_r(x: np.ndarray, y: np.ndarray, weekday: np.ndarray) -> float:
    """Correlation of x and y after removing each patient's mean and each weekday's mean."""
    def centred(a: np.ndarray) -> np.ndarray:
        a = a.astype(np.float64)
        a = a - a.mean(axis=1, keepdims=True)
        for w in np.unique(weekday):
            a[:, weekday == w] -= a[:, weekday == w].mean()
        return a.ravel()
    cx, cy = centred(x), centred(y)
    return float((cx * cy).sum() / math.sqrt((cx * cx).sum() * (cy * cy).sum()))


def next_day(exposed: np.ndarray, onset: np.ndarray, has: np.ndarray,
             ) -> tuple[float, float]:
    """Mantel-Haenszel risk ratio and odds ratio of onset on d+1 after exposure on d."""
    counts = next_day_table(exposed[:, :-1], onset[:, 1:], (~has | onset)[:, 1:])
    return mantel_haenszel_rr(*counts)[0], mantel_haenszel_or(*counts)


def measure(preset: str, n: int, days: int, seed: int, **changes: object) -> dict[str, float]:
    config = abm.Config.from_dict({"population": {"preset": preset}}).replace(
        **{"population.num_patients": n, "run.days": days, "run.seed": seed, **changes})
    result = abm.simulate(config)
    daily = result.daily.sort("patient_id", "day")
    attacks, patients = result.attacks, result.patients.sort("patient_id")
    m = {}

    def col(name: str) -> np.ndarray:
        return _m(daily, name, n, days)

    onset, has = col("migraine_onset"), col("has_migraine")
    weekday = (np.arange(days) + config.run.start.weekday()) % 7
    sleep, stress = col("total_sleep_hours"), col("stress_level")
    m["r sleep(d-1) -> stress(d)"] = within_person_r(sleep[:, :-1], stress[:, 1:], weekday[1:])
    m["r stress(d) -> sleep(d)"] = within_person_r(stress, sleep, weekday)
    m["r drinks(d) -> sleep efficiency(d)"] = within_person_r(
        col("alcohol_drinks"), col("sleep_efficiency"), weekday)
    weekend = np.isin(weekday, (4, 5))  # Friday and Saturday nights
    m["weekend night extra (min)"] = 60 * (sleep[:, weekend].mean() - sleep[:, ~weekend].mean())
    month = daily["date"].dt.month().to_numpy().reshape(n, days)[0]
    winter, summer = np.isin(month, (12, 1, 2)), np.isin(month, (6, 7, 8))
    if winter.any() and summer.any():
        m["winter night extra (min)"] = 60 * (sleep[:, winter].mean() - sleep[:, summer].mean())

    change = col("pressure_change_24h")
    rise = np.zeros_like(stress, dtype=np.int16)
    rise[:, 1:] = stress[:, 1:].astype(np.int16) - stress[:, :-1]
    drinks = col("alcohol_drinks")
    for label, small, large in (("pressure drop", (change <= -5) & (change > -10), change <= -10),
                                ("stress rise", (rise >= 3) & (rise < 5), rise >= 5),
                                ("drinks", (drinks >= 5) & (drinks < 8), drinks >= 8)):
        m[f"RR {label} small"] = next_day(small, onset, has)[0]
        m[f"RR {label} large"] = next_day(large, onset, has)[0]
    s = patients["susceptibility_weather"].to_numpy()
    m["weather responders"] = float((s > 0).mean())
    for trigger in ("weather", "sleep", "stress", "diet", "menstrual", "letdown", "alcohol",
                    "caffeine_withdrawal"):
        m[f"RR {trigger}"], m[f"OR {trigger}"] = next_day(col(f"{trigger}_trigger"), onset, has)
    m["RR chocolate"] = next_day(col("chocolate_consumed"), onset, has)[0]
    women = (patients["sex"] == "F").to_numpy()
    monthly = has.mean(axis=1) * 30
    m["migraine days/month, women"] = float(monthly[women].mean())
    m["migraine days/month, men"] = float(monthly[~women].mean())

    before = np.zeros_like(onset)
    before[:, :-1] = onset[:, 1:]
    for symptom in ("fatigue", "neck_stiffness", "food_craving"):
        x = col(symptom)
        m[f"{symptom}: day before onset / other days"] = float(x[before].mean()
                                                               / x[~before].mean())
    menstrual = attacks["menstrual"].to_numpy()
    duration = attacks["duration_hours"].to_numpy()
    severe = attacks["severity"].to_numpy() >= 8
    m["duration, menstrual attacks (h, median)"] = float(np.median(duration[menstrual]))
    m["duration, other attacks (h, median)"] = float(np.median(duration[~menstrual]))
    m["severe share, menstrual / other"] = float(severe[menstrual].mean()
                                                 / severe[~menstrual].mean())
    m["migraine days per attack"] = float(has.sum() / attacks.height)
    m["recurrences within 48 h"] = float(attacks["recurrence"].mean())
    months = days // 30
    by_month = has[:, :months * 30].reshape(n, months, 30).sum(axis=2)
    m["within-person SD of monthly migraine days"] = float(by_month.std(axis=1, ddof=1).mean())
    m["chronic share"] = float((monthly >= 15).mean())
    attacks_per_month = attacks.group_by("patient_id").len()["len"].to_numpy() / (days / 30)
    m[">= 3 attacks a month"] = float((attacks_per_month >= 3).sum() / n)
    for low, high in ((0, 4), (4, 8), (8, 15), (15, 31)):
        m[f"{low}-{high - 1} migraine days/month"] = float(((monthly >= low)
                                                           & (monthly < high)).mean())
    m["women"] = float(women.mean())
    p = onset_probabilities(daily, patients, result.model, n, days)
    split = split_patients(n, seed)
    held_out = np.sort(np.concatenate([split["val"], split["test"]]))
    c = ceiling(at_risk_days(result.frames(), result.model, n, days, p), split["train"],
                held_out)
    m["oracle AUROC, within-person"] = c.within[1]
    m["observed-features AUROC"] = c.features.auroc
    return m


#: (measure, published figure and source); a measure not listed here prints without one
LITERATURE = {
    "r sleep(d-1) -> stress(d)": "negative within person (Yap 2020); v1: |r| <= 0.001",
    "r stress(d) -> sleep(d)": "negative within person (Yap 2020)",
    "r drinks(d) -> sleep efficiency(d)": "negative (Ebrahim 2013)",
    "weekend night extra (min)": "20-35 (Scott 2025)",
    "winter night extra (min)": "15-20 (Scott 2025)",
    "weather responders": "0.64 (Kimoto 2011)",
    "OR menstrual": "1.80-2.04 (Stewart 2000)",
    "OR letdown": "1.5-1.9 (Lipton 2014)",
    "OR alcohol": "2.08 (Mostofsky 2020)",
    "RR chocolate": "no causal effect (Marcus 1997); predicts through craving",
    "fatigue: day before onset / other days": "tiredness in 72% of warned attacks (Giffin 2003)",
    "duration, menstrual attacks (h, median)": "about 10.7 h longer (Vetvik 2015)",
    "severe share, menstrual / other": "3.4x more likely severe (MacGregor 2004)",
    "migraine days per attack": "1.31 (Vgontzas 2020)",
    "recurrences within 48 h": "v1: 41%",
    ">= 3 attacks a month": "31.3% population (AMPP); clinic 66.7% (v1)",
    "0-3 migraine days/month": "67.7% (AMPP, Buse 2020)",
    "4-7 migraine days/month": "17.7%",
    "8-14 migraine days/month": "7.8%",
    "15-30 migraine days/month": "6.8%",
    "women": "80% (AMPP)",
    "chronic share": "clinic 15% (seed); population 6.8% (AMPP)",
    "oracle AUROC, within-person": "0.56 (Holsteen 2020: within-person C)",
    "observed-features AUROC": "0.56-0.73 (Holsteen 2020, Houle 2017)",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1000 patients x 180 days")
    parser.add_argument("--patients", type=int, default=None)
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    n = args.patients or (1000 if args.quick else 5000)
    days = args.days or (180 if args.quick else 365)
    presets = ("clinic", "population", "evidence")
    measured = {p: measure(p, n, days, args.seed) for p in presets}
    print(f"## realism ({n} patients x {days} days, seed {args.seed})\n")
    print("| measure | " + " | ".join(presets) + " | literature |")
    print("|---|" + "---|" * (len(presets) + 1))
    for key in measured["clinic"]:
        cells = " | ".join(f"{measured[p].get(key, math.nan):.3f}" for p in presets)
        print(f"| {key} | {cells} | {LITERATURE.get(key, '')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
