"""Validation rows of the observation layer: how much the diary misses, and when.

Measured on the ``observed`` frame (``abm.model.observation``) of a run that has one with the
layer switched on:

- **diary days missing**: the share of patient-days without a diary entry (``diary_time`` null);
  on the default settings 5-40% (Houle 2017 reports 9.3% of days missing in a research diary,
  and adherence decays over a longer run), over the first 180 days of a longer run (the range
  describes a 180-day study);
- **diary missing on attack days**: the share missing on days an attack is under way over the
  share on other days (missing not at random), at least 1.2, with a 95% interval from the
  two shares (log ratio, days taken as independent). A run with too few attack days is ``n/a``.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from abm.validation.rows import Check, judge
from abm.validation.stats import Z95

#: the default run's range of the share of diary days missing
MISSING_RANGE = (0.05, 0.40)
#: the length of the diary study that range describes (a longer run: its first days)
RANGE_DAYS = 180
#: the least ratio of missingness on attack days to that on other days
MIN_ATTACK_RATIO = 1.2
#: patients (and days) before the missing share is judged
MIN_PATIENTS, MIN_DAYS = 30, 60
#: attack days (and missing attack days) before the ratio is judged
MIN_ATTACK_DAYS, MIN_MISSING_ATTACK_DAYS = 500, 50


def _default_diary(config: Any) -> bool:
    section = config.observation.diary
    return section == type(section)()


def observation_checks(frames: dict[str, pl.DataFrame], config: Any, n: int,
                       days: int) -> list[Check]:
    """The observation layer's rows (none for a run without the layer, or with it off)."""
    observed = frames.get("observed")
    if observed is None or "diary_time" not in observed.columns \
            or not config.observation.enabled:
        return []
    joined = observed.select("patient_id", "day", missing=pl.col("diary_time").is_null()).join(
        frames["daily"].select("patient_id", "day", "has_migraine"), on=["patient_id", "day"])
    # the range is that of a 180-day diary study: a longer run is judged on its first 180 days
    first = joined.filter(pl.col("day") < RANGE_DAYS)
    share = int(first["missing"].sum()) / max(first.height, 1)
    checks = []
    few = (f"patients ({n}; needs {MIN_PATIENTS})" if n < MIN_PATIENTS else
           f"days ({days}; needs {MIN_DAYS})" if days < MIN_DAYS else "")
    lo, hi = MISSING_RANGE
    target = f"{lo:.0%}-{hi:.0%} (Houle 2017: 9.3%; adherence decays)"
    if days > RANGE_DAYS:
        target += f"; first {RANGE_DAYS} days"
    if not _default_diary(config):
        checks.append(Check("diary days missing", f"n/a: observation.diary changed: {share:.1%}",
                            target, None))
    else:
        checks.append(judge("diary days missing", f"{share:.1%}", target,
                            lo <= share <= hi, False, few))

    by = joined.group_by("has_migraine").agg(pl.len().alias("days"),
                                             pl.col("missing").sum().alias("missing"))
    counts = {row["has_migraine"]: (row["days"], row["missing"])
              for row in by.iter_rows(named=True)}
    a_days, a_missing = counts.get(True, (0, 0))
    o_days, o_missing = counts.get(False, (0, 0))
    name, target = "diary missing on attack days", f"≥ {MIN_ATTACK_RATIO}x other days"
    if min(a_missing, o_missing) == 0:
        checks.append(judge(name, "", target, False, False,
                            f"missing attack days ({a_missing}; needs {MIN_MISSING_ATTACK_DAYS})"))
        return checks
    p1, p0 = a_missing / a_days, o_missing / o_days
    ratio = p1 / p0
    se = math.sqrt((1 - p1) / a_missing + (1 - p0) / o_missing)
    low, high = ratio * math.exp(-Z95 * se), ratio * math.exp(Z95 * se)
    few = (f"attack days ({a_days}; needs {MIN_ATTACK_DAYS})" if a_days < MIN_ATTACK_DAYS else
           f"missing attack days ({a_missing}; needs {MIN_MISSING_ATTACK_DAYS})"
           if a_missing < MIN_MISSING_ATTACK_DAYS else "")
    measured = f"{ratio:.2f}x ({p1:.1%} vs {p0:.1%}; 95% CI {low:.2f}-{high:.2f})"
    checks.append(judge(name, measured, target, ratio >= MIN_ATTACK_RATIO,
                        high < MIN_ATTACK_RATIO, few) if _default_diary(config) else
                  Check(name, f"n/a: observation.diary changed: {measured}", target, None))
    return checks
