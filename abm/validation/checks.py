"""The validation targets, measured on a run's frames, as a table.

Each row is a :class:`Check`: what is measured, the measured value, the target and whether it
passes. ``abm validate DIR`` prints the table and exits 0 when all pass, 1 when a target fails.

Determinism is checked without re-running the whole cohort: patients are independent and keyed
by index, so re-simulating the first few patients from the recorded configuration must give rows
identical to theirs in the output (which also shows that adding patients changes no one else).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from abm.config.settings import Config
from abm.engine import derive
from abm.engine.model import Model
from abm.errors import InputError
from abm.validation.stats import auroc, fit_logistic, mantel_haenszel_rr, predict_logistic
from abm.wording import plural

#: patients re-simulated for the determinism check
RESIMULATED_PATIENTS = 25
LEARNABILITY_FEATURES = (
    "temperature", "humidity", "pressure", "pressure_change_24h", "total_sleep_hours",
    "deep_sleep_pct", "rem_sleep_pct", "awake_time_mins", "sleep_quality", "stress_level",
    "alcohol_consumed", "caffeine_consumed", "chocolate_consumed", "processed_food_consumed",
    "water_consumed_liters",
)
RANGES = {
    "humidity": (20, 100), "total_sleep_hours": (2, 14), "deep_sleep_pct": (0, 1),
    "rem_sleep_pct": (0, 1), "light_sleep_pct": (0, 1), "awake_time_mins": (0, 24 * 60),
    "sleep_quality": (0, 100), "stress_level": (1, 10), "water_consumed_liters": (0, 10),
}


@dataclass
class Check:
    """One row of the validation table."""

    name: str
    measured: str
    target: str
    passed: bool


def patient_day_matrix(daily: pl.DataFrame, column: str, n: int, days: int) -> np.ndarray:
    """A column of ``daily`` (patient then day order) as an ``(n, days)`` matrix."""
    return daily[column].to_numpy().reshape(n, days)


def migraine_days_per_month(daily: pl.DataFrame) -> pl.DataFrame:
    """Realized migraine days per 30 days of each patient."""
    return (daily.group_by("patient_id", maintain_order=True)
            .agg((pl.col("has_migraine").mean() * 30).alias("migraine_days_per_month")))


def trigger_names(daily: pl.DataFrame) -> list[str]:
    """The triggers whose flags ``daily`` holds (``<name>_trigger`` columns), in order."""
    return [c.removesuffix("_trigger") for c in daily.columns if c.endswith("_trigger")]


def trigger_risk_ratios(daily: pl.DataFrame, n: int, days: int
                        ) -> dict[str, tuple[float, float, float]]:
    """Per trigger: MH risk ratio (and 95% CI) of onset on d+1 given the trigger on d.

    Only days d+1 with no attack under way at their start are at risk; patients are the strata.
    """
    onset = patient_day_matrix(daily, "migraine_onset", n, days)
    has = patient_day_matrix(daily, "has_migraine", n, days)
    at_risk = (~has | onset)[:, 1:]
    outcome = onset[:, 1:]
    out = {}
    for name in trigger_names(daily):
        exposed = patient_day_matrix(daily, f"{name}_trigger", n, days)[:, :-1]
        e1 = exposed & at_risk
        e0 = ~exposed & at_risk
        out[name] = mantel_haenszel_rr((e1 & outcome).sum(1), e1.sum(1), (e0 & outcome).sum(1),
                                       e0.sum(1))
    return out


def learnability_auroc(daily: pl.DataFrame, n: int, days: int) -> float:
    """AUROC of a logistic regression on day-d columns for onset on d+1, split by patient."""
    features = [*LEARNABILITY_FEATURES, *(f"{t}_trigger" for t in trigger_names(daily))]
    x = np.stack([patient_day_matrix(daily, c, n, days)[:, :-1].astype(np.float64)
                  for c in features], axis=-1)
    onset = patient_day_matrix(daily, "migraine_onset", n, days)
    has = patient_day_matrix(daily, "has_migraine", n, days)
    at_risk = (~has | onset)[:, 1:]
    y = onset[:, 1:]
    train_patients = (np.arange(n) % 10) < 7
    train = at_risk & train_patients[:, None]
    test = at_risk & ~train_patients[:, None]
    x_train, y_train = x[train], y[train]
    mean = x_train.mean(axis=0)
    sd = x_train.std(axis=0)
    sd[sd == 0] = 1.0
    beta = fit_logistic((x_train - mean) / sd, y_train.astype(np.float64))
    score = predict_logistic(beta, (x[test] - mean) / sd)
    return auroc(score, y[test])


def _consistency(daily: pl.DataFrame, attacks: pl.DataFrame, n: int, days: int,
                 start: np.datetime64) -> tuple[int, int, list[str]]:
    problems: list[str] = []
    total = daily.height
    dates = patient_day_matrix(daily, "date", n, days).astype("datetime64[D]")
    expected = start + np.arange(days, dtype="timedelta64[D]")
    if not (dates == expected[None, :]).all():
        problems.append("dates not contiguous from the start date")
    pct = (daily["deep_sleep_pct"].cast(pl.Float64) + daily["rem_sleep_pct"].cast(pl.Float64)
           + daily["light_sleep_pct"].cast(pl.Float64)).to_numpy()
    if np.abs(pct - 1).max() > 1e-6:
        problems.append("sleep percentages do not sum to 1")
    for column, (lo, hi) in RANGES.items():
        values = daily[column].cast(pl.Float64).to_numpy()
        if not np.isfinite(values).all() or values.min() < lo or values.max() > hi:
            problems.append(f"{column} outside [{lo}, {hi}]")
    # every migraine day is covered by its attack, and every attack day is a migraine day
    has = daily["has_migraine"].to_numpy()
    ids = daily["attack_id"]
    if not np.array_equal(has, ids.is_not_null().to_numpy()):
        problems.append("has_migraine disagrees with attack_id")
    covered = (daily.filter(pl.col("has_migraine"))
               .join(attacks.select("attack_id", "onset", "end"), on="attack_id", how="left")
               .select(ok=(pl.col("onset").dt.date() <= pl.col("date"))
                       & (pl.col("end") > pl.col("date").cast(pl.Datetime("ms"))))["ok"])
    bad = int((~covered.fill_null(False)).sum())
    if bad:
        problems.append(f"{plural(bad, 'migraine day')} not covered by their attack")
    onsets = daily.filter(pl.col("migraine_onset")).height
    if onsets != attacks.filter(pl.col("onset").dt.date() <= pl.lit(expected[-1])).height:
        problems.append("migraine_onset days disagree with the attacks frame")
    return total, len(problems), problems


def recomputed_flags(daily: pl.DataFrame, model: Model, n: int, days: int
                     ) -> dict[str, np.ndarray]:
    """Every risk factor's flags recomputed from the logged columns of ``daily``; a column's
    nulls become the value the engine stores for them, so the flags see what the engine saw."""
    def stored(column: str) -> pl.DataFrame:
        null = model.columns[column].null
        return daily if null is None else daily.with_columns(pl.col(column).fill_null(null))

    inputs = {c: patient_day_matrix(stored(c), c, n, days)
              for rf in model.risk_factors for c, _ in rf.inputs}
    return {rf.flag_column: flag.ravel()
            for rf, flag in zip(model.risk_factors, derive.flags(model, inputs), strict=True)}


def run_checks(frames: dict[str, pl.DataFrame], config: Config,
               resimulate: bool = True, model: Model | None = None) -> list[Check]:
    """Measure every validation target on ``frames`` made with ``config`` (and ``model``:
    default, the built-in components the configuration switches on)."""
    model = model or Model.build(config)
    patients = frames["patients"]
    daily = frames["daily"].sort(["patient_id", "date"]) if not _sorted(frames["daily"]) \
        else frames["daily"]
    attacks = frames["attacks"]
    n = patients.height
    days = config.run.days
    if daily.height != n * days:
        raise InputError(f"daily has {plural(daily.height, 'row')}, expected "
                         f"{plural(n, 'patient')} x {plural(days, 'day')}")
    checks: list[Check] = []

    realized = migraine_days_per_month(daily).join(
        patients.select("patient_id", "is_chronic"), on="patient_id")
    chronic_real = realized["migraine_days_per_month"] >= 15
    share = float(chronic_real.mean())
    want = config.population.chronic_ratio
    checks.append(Check("chronic share", f"{share:.1%}", f"{want:.0%} ± 3 pp",
                        abs(share - want) <= 0.03))
    agree = float((chronic_real == realized["is_chronic"]).mean())
    checks.append(Check("label agreement", f"{agree:.1%}", "≥ 90%", agree >= 0.90))
    aura = float(patients["with_aura"].mean())
    want = config.population.aura_ratio
    checks.append(Check("aura share", f"{aura:.1%}", f"{want:.0%} ± 4 pp",
                        abs(aura - want) <= 0.04))

    ratios = trigger_risk_ratios(daily, n, days)
    for rf in model.risk_factors:
        rr, lo, hi = ratios[rf.trigger]
        measured = f"RR {rr:.3f} (95% CI {lo:.3f}-{hi:.3f})"
        target = rf.target_risk_ratio(config)
        if target is None:
            ok = lo > 1.0 if rf.effect(config) > 0 else lo <= 1.0 <= hi
            wanted = "CI above 1" if rf.effect(config) > 0 else "CI includes 1"
        else:
            (low, high), (core_low, core_high) = target
            ok = (low <= rr <= high) and lo <= core_high and hi >= core_low
            wanted = f"{low:.2f}-{high:.2f}, CI overlaps {core_low:.2f}-{core_high:.2f}"
        checks.append(Check(f"trigger effect: {rf.trigger}", measured, wanted, bool(ok)))

    recomputed = recomputed_flags(daily, model, n, days)
    equal = sum(int((flags == daily[name].to_numpy()).sum()) for name, flags in recomputed.items())
    total = max(len(recomputed) * daily.height, 1)
    checks.append(Check("triggers recomputable", f"{equal / total:.2%}", "100%",
                        equal == len(recomputed) * daily.height))

    start = np.datetime64(config.run.start, "D")
    _, n_problems, problems = _consistency(daily, attacks, n, days, start)
    checks.append(Check("consistency", "100%" if not n_problems else "; ".join(problems),
                        "100%", n_problems == 0))

    if resimulate:
        from abm.engine.simulation import simulate
        k = min(n, RESIMULATED_PATIENTS)
        again = simulate(config.replace(**{"population.num_patients": k}))
        same = all(_frames_equal(again, name, frames, k, days) for name in
                   ("patients", "daily", "attacks"))
        checks.append(Check("determinism", f"first {plural(k, 'patient')} re-simulated: "
                            f"{'identical' if same else 'DIFFERENT'}", "identical frames", same))

    score = learnability_auroc(daily, n, days)
    checks.append(Check("learnability", f"AUROC {score:.3f}", "0.52-0.80",
                        (not math.isnan(score)) and 0.52 <= score <= 0.80))
    return checks


def _sorted(daily: pl.DataFrame) -> bool:
    return bool(daily.select((pl.col("patient_id").cast(pl.String) + pl.col("date")
                              .cast(pl.String)).is_sorted())[0, 0]) if daily.height else True


def _frames_equal(again: object, name: str, frames: dict[str, pl.DataFrame], k: int,
                  days: int) -> bool:
    mine = getattr(again, name)
    ids = mine["patient_id"].unique()
    theirs = frames[name].filter(pl.col("patient_id").is_in(ids.implode()))
    if name == "daily":
        theirs = theirs.sort(["patient_id", "date"])
    return mine.equals(theirs.select(mine.columns).cast(mine.schema))


def validate(source: object, resimulate: bool = True) -> list[Check]:
    """Checks of a :class:`~abm.engine.simulation.Result` or of an output folder."""
    from abm.output.result import Result
    from abm.output.write import read_outputs

    if isinstance(source, Result):
        return run_checks(source.frames(), source.config, resimulate, source.model)
    frames, config = read_outputs(Path(source))
    return run_checks(frames, config, resimulate)


def format_table(checks: list[Check]) -> str:
    """A fixed-width text table."""
    header = ("check", "measured", "target", "result")
    rows = [(c.name, c.measured, c.target, "pass" if c.passed else "FAIL") for c in checks]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [line.format(*header), line.format(*("-" * w for w in widths))]
    out += [line.format(*r) for r in rows]
    return "\n".join(out)
