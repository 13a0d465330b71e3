"""The feedback loops' metrics, and their validation rows.

Measured on a run's frames (:func:`loop_metrics`; experiments read the same numbers):

- **the share of attacks each loop caused** (``attacks.feedback_chain``): the stress loop (a rule's
  edit switched a flag on directly), the sleep-stress circle (the edit passed through a
  coupling), medication overuse, chronification. An attack that exists because of the feedback
  is an extra attack, so the share caused is the loop's *gain* in the sense of a renewal
  process: with ``g`` extra attacks per attack, attacks are ``N0 / (1 - g)`` and the caused
  share is ``g``;
- **medication**: attacks treated, medication days a month, patients who overuse (ever, and
  on an average day);
- **chronification** (``daily.chronic_state``, ground truth): changes from episodic to chronic per
  episodic patient-year, with a Poisson interval, remissions per chronic patient-year, and the
  median day of the first change.

Rows (:func:`loop_checks`): every loop that is switched on must cause some attacks (a loop that
is on and moves nothing is broken); chronification is judged against 1.5-4% a year (Bigal 2008:
2.5%) in the population cohorts (the ``population`` and ``evidence`` presets) over two years or
more, and reported otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from abm.model.couplings.sleep_stress import SleepStress
from abm.model.couplings.stress_sleep import StressSleep
from abm.model.feedback.chronification import Chronification
from abm.model.feedback.overuse import MedicationOveruse, overuse_on
from abm.model.feedback.stress import StressAfterAttack
from abm.validation.frames import patient_day_matrix
from abm.validation.literature import LITERATURE_PRESETS
from abm.validation.rows import Check, judge
from abm.validation.stats import poisson_rate_interval

#: chronification a year that the ``population`` preset must show (Bigal 2008: 2.5%)
CHRONIFICATION_RANGE = (0.015, 0.04)
#: the run length before chronification is judged (a year-on-year rate needs two years)
MIN_DAYS_CHRONIFICATION = 730
#: the episodic patients before chronification is judged
MIN_PATIENTS_CHRONIFICATION = 500
DAYS_PER_YEAR = 365.25
#: the loops, and how to tell them from an attack's chain
_CIRCLE = f"{StressSleep.name}|{SleepStress.name}"
LOOPS = {
    "stress loop": lambda chain: chain.str.contains(StressAfterAttack.name)
    & ~chain.str.contains(_CIRCLE),
    "sleep-stress circle": lambda chain: chain.str.contains(_CIRCLE),
    "medication overuse": lambda chain: chain.str.contains(MedicationOveruse.name),
    "chronification": lambda chain: chain.str.contains(Chronification.name),
}


@dataclass
class LoopMetrics:
    """What the feedback loops did in one run."""

    attacks: int
    caused: int
    #: attacks each loop caused (an attack on two loops' paths counts for both)
    by_loop: dict[str, int]
    treated_share: float
    medication_days_per_month: float
    overuse_patients: float  # share of patients who ever overuse
    overuse_days: float  # share of patient-days in overuse
    chronified: int  # episodic patients who became chronic
    episodic_years: float  # patient-years at risk (episodic)
    remitted: int
    chronic_years: float
    median_days_to_chronic: float

    @property
    def chronification_rate(self) -> float:
        """Changes from episodic to chronic per episodic patient-year."""
        return self.chronified / self.episodic_years if self.episodic_years else math.nan

    def chronification_interval(self) -> tuple[float, float]:
        """The 95% interval of :attr:`chronification_rate` (Poisson counts)."""
        return poisson_rate_interval(self.chronified, self.episodic_years)

    @property
    def remission_rate(self) -> float:
        return self.remitted / self.chronic_years if self.chronic_years else math.nan

    def gain(self, loop: str | None = None) -> float:
        """Extra attacks per attack: the share of attacks the loop (all loops) caused."""
        count = self.caused if loop is None else self.by_loop[loop]
        return count / self.attacks if self.attacks else math.nan


def loop_metrics(daily: pl.DataFrame, attacks: pl.DataFrame, n: int, days: int) -> LoopMetrics:
    """The loop metrics of a run's frames (``daily`` sorted by patient and date)."""
    chain = attacks["feedback_chain"] if "feedback_chain" in attacks.columns else pl.Series(
        [None] * attacks.height, dtype=pl.String)
    chain = chain.fill_null("")
    by_loop = {name: int(test(chain).sum()) for name, test in LOOPS.items()}
    caused = int(attacks["caused_by_feedback"].sum()) if attacks.height else 0
    treated = float(attacks["treated"].mean()) if "treated" in attacks.columns and \
        attacks.height else math.nan
    # a month's medication days from the daily medication (the trailing count of the first 29
    # days of a run would see less than 30 days)
    med = (float((daily["acute_medication"].cast(pl.String) != "none").mean()) * 30
           if "acute_medication" in daily.columns else math.nan)
    over_patients = over_days = math.nan
    if "medication_overuse" in daily.columns:
        overuse = patient_day_matrix(daily, "medication_overuse", n, days)
        over_patients, over_days = float(overuse.any(axis=1).mean()), float(overuse.mean())
    chronified = remitted = 0
    episodic_years = chronic_years = 0.0
    median = math.nan
    if "chronic_state" in daily.columns and days > 1:
        state = patient_day_matrix(daily, "chronic_state", n, days)
        start = state[:, 0]
        change = state[:, 1:] != state[:, :-1]
        # the first change of each patient, and the time each spent in each state
        to_chronic = change & state[:, 1:]
        to_episodic = change & ~state[:, 1:]
        chronified = int(to_chronic.sum())
        remitted = int(to_episodic.sum())
        episodic_years = float((~state[:, :-1]).sum()) / DAYS_PER_YEAR
        chronic_years = float(state[:, :-1].sum()) / DAYS_PER_YEAR
        first = np.argmax(to_chronic, axis=1) + 1
        became = ~start & to_chronic.any(axis=1)
        if became.any():
            median = float(np.median(first[became]))
    return LoopMetrics(attacks.height, caused, by_loop, treated, med, over_patients, over_days,
                       chronified, episodic_years, remitted, chronic_years, median)


def loop_checks(daily: pl.DataFrame, attacks: pl.DataFrame, config: Any, n: int,
                days: int) -> list[Check]:
    """The loops' rows: each loop that is on causes attacks; chronification a year."""
    m = loop_metrics(daily, attacks, n, days)
    fb = config.feedback
    checks: list[Check] = []
    on = {"stress loop": fb.stress.enabled,
          "medication overuse": overuse_on(config),
          "chronification": fb.chronification.enabled}
    for loop, enabled in on.items():
        if not enabled:
            continue
        count = m.by_loop[loop]
        few = "" if m.attacks >= 1000 else f"attacks ({m.attacks}; needs 1000)"
        checks.append(judge(f"feedback: {loop}", f"{count / max(m.attacks, 1):.2%} of attacks "
                            f"caused ({count})", "> 0 while it is on", count > 0, False, few))
    if fb.chronification.enabled:
        rate = m.chronification_rate
        low, high = m.chronification_interval()
        lo, hi = CHRONIFICATION_RANGE
        measured = (f"{rate:.2%} a year (95% CI {low:.2%}-{high:.2%}; {m.chronified} in "
                    f"{m.episodic_years:.0f} episodic patient-years)")
        judged = config.population.preset in LITERATURE_PRESETS
        target = (f"{lo:.1%}-{hi:.0%} a year (Bigal 2008: 2.5%)" if judged
                  else "reported (judged in the population and evidence presets)")
        few = (f"days ({days}; needs {MIN_DAYS_CHRONIFICATION})" if days < MIN_DAYS_CHRONIFICATION
               else f"episodic patients ({n}; needs {MIN_PATIENTS_CHRONIFICATION})"
               if n < MIN_PATIENTS_CHRONIFICATION else "")
        if judged:
            checks.append(judge("chronification", measured, target, lo <= rate <= hi,
                                not few and (high < lo or low > hi), few))
        else:
            checks.append(Check("chronification", f"n/a: {measured}", target, None))
    return checks
