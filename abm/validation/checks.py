"""The validation targets, measured on a run's frames, as a table.

Each row is a :class:`Check`: what is measured, the measured value, the target and whether it
passes. ``abm validate DIR`` prints the table and exits 0 when no target fails, 1 when one does.

A run can be too small to judge a target: one day has no next day to predict, ten patients
cannot show a share to ± 3 pp. Such a row says ``n/a: too few …`` (what, how many, how many the
target needs) and is neither a pass nor a failure, so a quick trial run does not report model
failures that are only noise. A target is still failed at any size when its 95% interval lies
wholly outside the target: more data would not bring it back. The minimum sizes below follow
from the targets' tolerances.

Determinism is checked without re-running the whole cohort: patients are independent and keyed
by index, so re-simulating the first few patients from the recorded configuration must give rows
identical to theirs in the output (which also shows that adding patients changes no one else).

The last rows are the ceiling a model can reach and what simple baselines reach
(``abm.validation.ceiling``): the oracle AUROC of the ground-truth onset probabilities, pooled
and within-person, an attack-history and an observed-features logistic baseline, and whether
the features add signal beyond history.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from abm.config.settings import Config
from abm.engine import derive
from abm.engine.model import Model
from abm.errors import InputError
from abm.validation.ceiling import ceiling_checks
from abm.validation.configured import (
    Z999,
    distance,
    implied_risk_ratio,
    onset_probabilities,
    reverse_exposures,
)
from abm.validation.frames import next_day_risk, next_day_table, patient_day_matrix
from abm.validation.literature import literature_checks
from abm.validation.loops import loop_checks
from abm.validation.observation import observation_checks
from abm.validation.rows import Check, judge, share_check, unless_intervened
from abm.validation.stats import mantel_haenszel_rr, wilson_interval
from abm.wording import plural

#: patients re-simulated for the determinism check
RESIMULATED_PATIENTS = 25
#: ICHD-3 defines chronic migraine over more than 3 months: over a shorter run a patient's
#: realized migraine days per month do not say who is chronic
MIN_DAYS_CHRONIC = 90
#: one disagreeing patient in fewer than 10 moves the agreement by more than its 10 pp margin
MIN_PATIENTS_AGREEMENT = 10
#: the risk ratio's 95% interval is about exp(± 1.96 / sqrt(a)) for ``a`` onsets after a trigger
#: day; the target 1.10-1.25 is ± 6% around its middle, which a = 1000 resolves
MIN_EXPOSED_ONSETS = 1000
#: with fewer onsets on either side the interval of log RR (normal approximation) is unreliable
MIN_ONSETS = 10
#: onsets after trigger days before a risk factor is judged against the ratio its configuration
#: implies: the interval is then about ± 20%, and the test (3.29 standard errors) catches an
#: effect that is off by half or more
MIN_CONFIGURED_ONSETS = 100


def migraine_days_per_month(daily: pl.DataFrame) -> pl.DataFrame:
    """Realized migraine days per 30 days of each patient."""
    return (daily.group_by("patient_id", maintain_order=True)
            .agg((pl.col("has_migraine").mean() * 30).alias("migraine_days_per_month")))


def trigger_names(daily: pl.DataFrame) -> list[str]:
    """The triggers whose flags ``daily`` holds (``<name>_trigger`` columns), in order."""
    return [c.removesuffix("_trigger") for c in daily.columns if c.endswith("_trigger")]


def _exposure_tables(daily: pl.DataFrame, n: int, days: int
                     ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Per trigger, per patient: onsets on d+1 after a trigger day d, such days, onsets after a
    day without the trigger, such days; only days d+1 with no attack under way at their start
    are at risk."""
    outcome, at_risk = next_day_risk(daily, n, days)
    return {name: next_day_table(patient_day_matrix(daily, f"{name}_trigger", n, days)[:, :-1],
                                 outcome, at_risk)
            for name in trigger_names(daily)}


def trigger_risk_ratios(daily: pl.DataFrame, n: int, days: int
                        ) -> dict[str, tuple[float, float, float]]:
    """Per trigger: MH risk ratio (and 95% CI) of onset on d+1 given the trigger on d.

    Only days d+1 with no attack under way at their start are at risk; patients are the strata.
    """
    return {name: mantel_haenszel_rr(*table)
            for name, table in _exposure_tables(daily, n, days).items()}


def trigger_onset_counts(daily: pl.DataFrame, n: int, days: int) -> dict[str, tuple[int, int]]:
    """Per trigger: the at-risk onsets after a trigger day and after a day without it, over the
    patients that have days of both kinds (the strata the risk ratio uses)."""
    return {name: _onset_counts(table)
            for name, table in _exposure_tables(daily, n, days).items()}


def _onset_counts(table: tuple[np.ndarray, ...]) -> tuple[int, int]:
    a, n1, c, n0 = table
    both = (n1 > 0) & (n0 > 0)
    return int(a[both].sum()), int(c[both].sum())


class _Columns(Mapping[str, np.ndarray]):
    """The columns of ``daily`` as arrays, converted only when a component asks for one."""

    def __init__(self, daily: pl.DataFrame) -> None:
        self.daily = daily

    def __getitem__(self, name: str) -> np.ndarray:
        return self.daily[name].to_numpy()

    def __iter__(self) -> Iterator[str]:
        return iter(self.daily.columns)

    def __len__(self) -> int:
        return self.daily.width


def _consistency(daily: pl.DataFrame, attacks: pl.DataFrame, n: int, days: int,
                 start: np.datetime64, model: Model) -> tuple[int, int, list[str]]:
    problems: list[str] = []
    total = daily.height
    dates = patient_day_matrix(daily, "date", n, days).astype("datetime64[D]")
    expected = start + np.arange(days, dtype="timedelta64[D]")
    if not (dates == expected[None, :]).all():
        problems.append("dates not contiguous from the start date")
    for component in model.components:  # relations between columns only a component knows
        problems += component.problems(_Columns(daily))
    for column in model.daily_columns:  # every range declared next to its column
        if column.range is None:
            continue
        lo, hi = column.range
        values = daily[column.name].cast(pl.Float64).to_numpy()
        if not np.isfinite(values).all() or values.min() < lo or values.max() > hi:
            problems.append(f"{column.name} outside [{lo:g}, {hi:g}]")
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


def _risk_factor_rows(rf: Any, config: Config, table: tuple[np.ndarray, ...], p: np.ndarray,
                      exposure: np.ndarray, at_risk: np.ndarray, reverse: np.ndarray | None
                      ) -> list[Check]:
    """A risk factor's rows: its measured next-day ratio against the ratio its configuration
    implies (the reverse path of a post-run step added, where there is one), and against a
    fixed target the risk factor declares (the seed triggers' 15-20%)."""
    checks: list[Check] = []
    name = rf.trigger
    rr, lo, hi = mantel_haenszel_rr(*table)
    exposed, unexposed = _onset_counts(table)
    implied = implied_risk_ratio(p, exposure, at_risk, reverse)
    target = ("the ratio the configuration implies" if math.isnan(implied)
              else f"{implied:.3f}, implied by the configuration")
    if reverse is not None and not math.isnan(implied):
        causal = implied_risk_ratio(p, exposure, at_risk)
        target = (f"{implied:.3f} implied: {causal:.3f} causal, the rest the reverse path "
                  "(prodrome)")
    if math.isnan(rr) or min(exposed, unexposed) < MIN_ONSETS:
        few = (f"attacks after a {name} trigger day ({exposed}; needs "
               f"{MIN_CONFIGURED_ONSETS})" if exposed < MIN_ONSETS else
               f"attacks after a day without the {name} trigger ({unexposed}; needs "
               f"{MIN_ONSETS})")
        checks.append(judge(f"trigger effect: {name}", "", target, False, False, few))
    else:
        few = (f"attacks after a {name} trigger day ({exposed}; needs "
               f"{MIN_CONFIGURED_ONSETS})" if exposed < MIN_CONFIGURED_ONSETS else "")
        measured = f"RR {rr:.3f} (95% CI {lo:.3f}-{hi:.3f})"
        off = distance((rr, lo, hi), implied) > Z999
        # this far off, more attacks would not bring the ratio back: a failure at any size
        checks.append(judge(f"trigger effect: {name}", measured, target, not off, off, few))
    declared = rf.target_risk_ratio(config)
    if declared is None:
        return checks
    if name in config.interventions.avoid_triggers:  # the design's ratio is for no avoidance
        checks.append(Check(f"seed target: {name}", "n/a: [interventions] avoid the trigger",
                            "the design's ratio, without avoidance", None))
        return checks
    (low, high), (core_low, core_high) = declared
    target = f"{low:.2f}-{high:.2f}, CI overlaps {core_low:.2f}-{core_high:.2f}"
    ok = bool(low <= rr <= high and lo <= core_high and hi >= core_low)
    seed_few = (f"attacks after a {name} trigger day ({exposed}; needs "
                f"{MIN_EXPOSED_ONSETS})" if math.isnan(rr) or exposed < MIN_EXPOSED_ONSETS
                else "")
    # a cohort's ratio varies with who is in it (responders, doses), beyond the interval's
    # sampling of days: a small cohort's is not judged, however narrow its interval
    clearly_not = not seed_few and (hi < core_low or lo > core_high)
    checks.append(judge(f"seed target: {name}",
                        "" if math.isnan(rr) else f"RR {rr:.3f} (95% CI {lo:.3f}-{hi:.3f})",
                        target, ok, bool(clearly_not), seed_few))
    return checks


def run_checks(frames: dict[str, pl.DataFrame], config: Config,
               resimulate: bool = True, model: Model | None = None) -> list[Check]:
    """Measure every validation target on ``frames`` made with ``config`` (and ``model``: by
    default the built-in components the configuration switches on); rows the run is too small
    to judge are ``n/a`` (``passed is None``)."""
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
    # too short a run is a shortfall that no number of patients makes up for
    short = (f"days ({days}; needs {MIN_DAYS_CHRONIC}: chronic migraine is defined over 3 "
             "months)" if days < MIN_DAYS_CHRONIC else "")
    chronic_row = share_check("chronic share", int(chronic_real.sum()), n,
                              config.population.chronic_ratio, 0.03, "± 3 pp", short)
    checks.append(unless_intervened(chronic_row, config))
    agreeing = int((chronic_real == realized["is_chronic"]).sum())
    few = (f"patients ({n}; needs {MIN_PATIENTS_AGREEMENT})"
           if n < MIN_PATIENTS_AGREEMENT else "")
    checks.append(judge("label agreement", f"{agreeing / n:.1%}", "≥ 90%", agreeing >= 0.9 * n,
                         not short and wilson_interval(agreeing, n)[1] < 0.90, short or few))
    checks.append(share_check("aura share", int(patients["with_aura"].sum()), n,
                               config.population.aura_ratio, 0.04, "± 4 pp"))

    tables = _exposure_tables(daily, n, days)  # once: the ratios and the counts read them
    p = onset_probabilities(daily, patients, model, n, days)
    outcome, at_risk = next_day_risk(daily, n, days)
    for rf in model.risk_factors:
        exposure = patient_day_matrix(daily, rf.flag_column, n, days)[:, :-1]
        reverse = reverse_exposures(attacks, daily, rf.trigger, n, days)
        checks += _risk_factor_rows(rf, config, tables[rf.trigger], p, exposure, at_risk,
                                    reverse)
    checks += literature_checks(daily, patients, attacks, config, model, outcome, at_risk)
    checks += observation_checks(frames, config, n, days)
    checks += loop_checks(daily, attacks, config, n, days)

    recomputed = recomputed_flags(daily, model, n, days)
    equal = sum(int((flags == daily[name].to_numpy()).sum()) for name, flags in recomputed.items())
    total = max(len(recomputed) * daily.height, 1)
    checks.append(Check("triggers recomputable", f"{equal / total:.2%}", "100%",
                        equal == len(recomputed) * daily.height))

    start = np.datetime64(config.run.start, "D")
    _, n_problems, problems = _consistency(daily, attacks, n, days, start, model)
    checks.append(Check("consistency", "100%" if not n_problems else "; ".join(problems),
                        "100%", n_problems == 0))

    if resimulate:
        from abm.engine.simulation import simulate
        k = min(n, RESIMULATED_PATIENTS)
        again = simulate(config.replace(**{"population.num_patients": k}), model=model)
        same = all(_frames_equal(again, name, frames, k, days) for name in
                   ("patients", "daily", "attacks"))
        checks.append(Check("determinism", f"first {plural(k, 'patient')} re-simulated: "
                            f"{'identical' if same else 'DIFFERENT'}", "identical frames", same))

    checks += ceiling_checks({**frames, "daily": daily}, config, model, n, days, p)
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
    """Checks of a :class:`~abm.output.result.Result` or of an output folder."""
    from abm.output.result import Result
    from abm.output.write import read_run

    if isinstance(source, Result):
        return run_checks(source.frames(), source.config, resimulate, source.model)
    frames, config, recorded = read_run(Path(source))
    model = Model.build(config)
    own = [c.name for c in recorded.components if c.name not in {m.name for m in model.components}]
    if own:
        raise InputError(f"{source}: made with components of your own ({', '.join(own)}), whose "
                         "code an output folder does not hold; validate the run's result in "
                         "Python: abm.validate(result)")
    return run_checks(frames, config, resimulate, model)


def format_table(checks: list[Check]) -> str:
    """A fixed-width text table, with a closing line when some rows could not be judged."""
    header = ("check", "measured", "target", "result")
    rows = [(c.name, c.measured, c.target, c.result) for c in checks]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [line.format(*header), line.format(*("-" * w for w in widths))]
    out += [line.format(*r) for r in rows]
    unjudged = sum(c.passed is None and c.measured.startswith("n/a: too few") for c in checks)
    if unjudged:
        out.append(f"{unjudged} of {plural(len(checks), 'target')} n/a: the run is too small to "
                   "judge them (not failures); the default run of 1000 patients x 180 days "
                   "judges all")
    changed = sum(c.passed is None for c in checks) - unjudged
    if changed:
        out.append(f"{changed} of {plural(len(checks), 'target')} n/a: the configuration "
                   "changed what they assume (not failures)")
    return "\n".join(out)
