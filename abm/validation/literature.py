"""Literature targets: what published studies report, for the presets that model them.

The configuration-derived rows (``abm.validation.configured``) check that a run is what its
settings say; these rows check that the settings say what the literature reports:

- risk factors that declare a published odds ratio (``RiskFactor.literature_odds_ratio``; the
  menstrual trigger: Stewart 2000), measured as a Mantel-Haenszel odds ratio of next-day onset,
  while their effect is at its default;
- ``population`` and ``evidence``: AMPP's bins of monthly migraine days (0-3: 67.7%, 4-7: 17.7%,
  8-14: 7.8%, 15 or more: 6.8%; Buse 2020) within 5 points each, 75-85% women, and migraine days
  per attack 1.2-1.5 (Vgontzas 2020: 1.31).
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from abm.engine.model import Model
from abm.validation.frames import next_day_table, patient_day_matrix
from abm.validation.rows import (
    Check,
    judge,
    min_patients_for_share,
    share_check,
    unless_intervened,
)
from abm.validation.stats import mantel_haenszel_or

#: AMPP's bins of monthly migraine days (Buse 2020): (low, high) days and share of patients
AMPP_BINS = (((0, 4), 0.677), ((4, 8), 0.177), ((8, 15), 0.078), ((15, math.inf), 0.068))
AMPP_TOLERANCE = 0.05
#: Vgontzas 2020: 1,077 headache days from 823 attacks
DAYS_PER_ATTACK = (1.2, 1.5)
#: attacks needed before migraine days per attack are judged (its SD is about 0.5 a attack, so
#: 400 attacks give a standard error near 0.025, a tenth of the target's width)
MIN_ATTACKS = 400
#: onsets needed on each side of an odds ratio
MIN_ONSETS = 100
LITERATURE_PRESETS = ("population", "evidence")


def literature_checks(daily: pl.DataFrame, patients: pl.DataFrame, attacks: pl.DataFrame,
                      config: object, model: Model, outcome: np.ndarray, at_risk: np.ndarray
                      ) -> list[Check]:
    """The literature rows that apply to ``config`` (``outcome`` and ``at_risk`` as
    :func:`abm.validation.frames.next_day_risk` gives them)."""
    from abm.config.settings import Config

    checks: list[Check] = []
    defaults = Config()
    n, days = outcome.shape[0], outcome.shape[1] + 1
    for rf in model.risk_factors:
        published = getattr(rf, "literature_odds_ratio", None)
        if published is None or rf.effect(config) != rf.effect(defaults):
            continue
        low, high = published
        a, n1, c, n0 = next_day_table(patient_day_matrix(daily, rf.flag_column, n, days)[:, :-1],
                                      outcome, at_risk)
        odds = mantel_haenszel_or(a, n1, c, n0)
        few = "" if min(a.sum(), c.sum()) >= MIN_ONSETS else (
            f"attacks after a {rf.trigger} trigger day ({int(a.sum())}; needs {MIN_ONSETS})")
        checks.append(judge(f"literature: {rf.trigger} OR", "" if few else f"OR {odds:.2f}",
                            f"{low:.1f}-{high:.1f} ({rf.literature_source})",
                            low <= odds <= high, False, few))
    if config.population.preset not in LITERATURE_PRESETS:
        return checks
    monthly = patient_day_matrix(daily, "has_migraine", n, days).mean(axis=1) * 30
    for (low, high), share in AMPP_BINS:
        count = int(((monthly >= low) & (monthly < high)).sum())
        label = f"{low}-{high - 1} days" if math.isfinite(high) else f">= {low} days"
        checks.append(unless_intervened(share_check(
            f"literature: AMPP {label}/month", count, n, share, AMPP_TOLERANCE,
            "± 5 pp (Buse 2020)"), config))
    women = int((patients["sex"] == "F").sum())
    need = min_patients_for_share(0.80, 0.05)
    checks.append(judge("literature: women", f"{women / n:.1%}", "75-85% (Buse 2020: 80%)",
                        0.75 <= women / n <= 0.85, False,
                        f"patients ({n}; needs {need})" if n < need else ""))
    migraine_days = int(daily["has_migraine"].sum())
    count = attacks.height
    ratio = migraine_days / count if count else math.nan
    low, high = DAYS_PER_ATTACK
    few = "" if count >= MIN_ATTACKS else f"attacks ({count}; needs {MIN_ATTACKS})"
    checks.append(judge("literature: migraine days per attack", "" if few else f"{ratio:.2f}",
                        f"{low}-{high} (Vgontzas 2020: 1.31)", low <= ratio <= high, False, few))
    return checks
