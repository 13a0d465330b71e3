"""Runs and frame helpers shared by the tests of acute medication, the patients' slow states,
the feedback chains and the loop metrics (test_medication, test_states, test_attribution,
test_loops).

Each run is made once per session (``functools.cache``) and is deterministic; tests treat the
results as read-only. Sizes are small so that these tests stay fast: a clinic cohort of
400 patients x 365 days and a population cohort of 500 x 730 (the smallest run on which the
chronification row of the validation is judged).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import polars as pl
from conftest import drawn_block

import abm
from abm import Config
from abm.engine.block import Block
from abm.model.attacks import AttackDraws, make_attack_draws

CLINIC_N, CLINIC_DAYS = 400, 365
POPULATION_N, POPULATION_DAYS = 500, 730
SEED = 3
DAYS_PER_YEAR = 365.25


def clinic_config(**changes) -> Config:
    """The clinic preset (the defaults): 400 patients x 365 days, seed 3."""
    return Config().replace(**{"population.num_patients": CLINIC_N, "run.days": CLINIC_DAYS,
                               "run.seed": SEED, **changes})


def population_config(**changes) -> Config:
    """The population preset (overuse and chronification on): 500 x 730 days, seed 3."""
    return Config.from_dict({"population": {"preset": "population"}}).replace(
        **{"population.num_patients": POPULATION_N, "run.days": POPULATION_DAYS,
           "run.seed": SEED, **changes})


@cache
def clinic_run() -> abm.Result:
    return abm.simulate(clinic_config())


@cache
def population_run() -> abm.Result:
    return abm.simulate(population_config())


@cache
def clinic_draws() -> tuple[Block, AttackDraws]:
    """The clinic run's patients and per-day attack draws as drawn before the run (what an
    attack starting on each day would be like, treated or not)."""
    block = drawn_block(clinic_config())
    return block, make_attack_draws(block)


def patient_index(ids: pl.Series) -> np.ndarray:
    """Row numbers from patient ids (``P0042`` -> 42)."""
    return ids.cast(pl.String).str.slice(1).cast(pl.Int64).to_numpy()


def matrix(result: abm.Result, column: str) -> np.ndarray:
    """A daily column as a ``(patients, days)`` array."""
    n, days = result.patients.height, result.config.run.days
    return result.daily.sort("patient_id", "day")[column].to_numpy().reshape(n, days)


def indexed_attacks(result: abm.Result) -> pl.DataFrame:
    """The attacks frame with the patient's row ``i``, the onset day ``d`` (days since the
    run's start), the onset's hour of day ``onset_hour`` and the last calendar day the attack
    covers ``last`` (an attack ending exactly at midnight does not cover that day)."""
    start = pl.lit(result.config.run.start)
    a = result.attacks
    return a.with_columns(
        i=pl.Series(patient_index(a["patient_id"])),
        d=(pl.col("onset").dt.date() - start).dt.total_days(),
        onset_hour=(pl.col("onset") - pl.col("onset").dt.truncate("1d")).dt.total_minutes()
        / 60.0,
        last=((pl.col("end") - pl.duration(milliseconds=1)).dt.date() - start).dt.total_days())


def window_counts(flags: np.ndarray) -> np.ndarray:
    """``(n, days + 1)`` cumulative counts: ``out[:, k]`` flags on days ``0 .. k - 1``."""
    return np.concatenate([np.zeros((flags.shape[0], 1), np.int64),
                           np.cumsum(flags, axis=1, dtype=np.int64)], axis=1)


def count_between(cumulative: np.ndarray, i: int, first: int, last: int) -> int:
    """Flags of patient ``i`` on days ``first .. last`` (inclusive, clipped to the run)."""
    days = cumulative.shape[1] - 1
    first, last = max(first, 0), min(last, days - 1)
    return int(cumulative[i, last + 1] - cumulative[i, first]) if last >= first else 0


def overuse_need(result: abm.Result) -> np.ndarray:
    """Each patient's overuse threshold over the whole window: ``months`` x the monthly
    threshold of their usual class (ICHD-3: 15 days of analgesics, 10 of triptans or opioids)."""
    o = result.config.feedback.overuse
    monthly = {"analgesic": o.analgesic_days, "triptan": o.triptan_days,
               "opioid": o.opioid_days}
    classes = result.patients.sort("patient_id")["medication_class"].cast(pl.String)
    return np.array([monthly[c] * o.months for c in classes])


def prevalent_overuse(result: abm.Result) -> np.ndarray:
    """Who overuses from day 0: expected medication days a month (target migraine days x the
    treated share) at or above the monthly threshold of their class."""
    p = result.patients.sort("patient_id")
    o = result.config.feedback.overuse
    monthly = overuse_need(result) / o.months
    return (p["target_migraine_days_per_month"].to_numpy()
            * p["treatment_share"].to_numpy()) >= monthly


def chronification_rates(result: abm.Result) -> tuple[np.ndarray, float, float]:
    """Each patient's daily hazard of chronification while episodic and not overusing, the
    odds ratio of overuse, and the daily hazard of remission, from the settings: the annual
    rate as a daily hazard, times the frequency odds ratio of the target's bin and the opioid
    odds ratio (Katsarava 2004, Bigal 2008)."""
    s = result.config.feedback.chronification
    p = result.patients.sort("patient_id")
    target = p["target_migraine_days_per_month"].to_numpy()
    odds = np.ones(target.shape)
    for days, ratio in zip(s.frequency_days, s.frequency_odds_ratios, strict=True):
        odds = np.where(target >= days, ratio, odds)
    opioid = (p["medication_class"].cast(pl.String) == "opioid").to_numpy()
    odds = odds * np.where(opioid, s.opioid_odds_ratio, 1.0)
    daily = -math.log1p(-s.low_frequency_annual_rate) / DAYS_PER_YEAR
    remission = -math.log1p(-s.remission_annual_rate) / DAYS_PER_YEAR
    return odds * daily, float(s.overuse_odds_ratio), remission


def periods(flags: np.ndarray) -> list[tuple[int, int, int]]:
    """``(patient, start, end)`` of each run of true days (``end``: the day after the last)."""
    out = []
    for i, row in enumerate(flags):
        edges = np.diff(np.concatenate([[0], row.astype(np.int8), [0]]))
        out += [(i, int(s), int(e)) for s, e in zip(np.flatnonzero(edges == 1),
                                                     np.flatnonzero(edges == -1), strict=True)]
    return out
