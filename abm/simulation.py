"""Build the cohort, run it on one SimPy environment, and return the frames.

A run has three stages:

1. **Draw** (in blocks of patients, so memory stays bounded): profiles, the daily series of every
   modality, each day's trigger code, the attack each day would bring, the calibrated baseline
   and, per day, whether an attack would start on it (pre-drawn uniform below the probability).
2. **Simulate**: one ``simpy.Environment`` (:class:`~abm.clock.DayClock`); a
   :class:`~abm.weather.LocationWeather` process per location publishes the weather every day; a
   :class:`~abm.patient.Patient` process per patient lives from attack to attack, and feedback
   rules edit its future through attack callbacks.
3. **Record**: the final series and the onsets become Polars frames (``abm.recorder``).

Same configuration and seed give identical frames: every number comes from the stream of the
patient or location it belongs to (``abm.rng``), and nothing depends on the order of processing.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import simpy

from abm.attacks import AttackDraws, make_attack_draws
from abm.calendar import Calendar
from abm.clock import DayClock, Phase, tick
from abm.config import Config
from abm.diet import make_diet
from abm.draws import U, draw_patients
from abm.edits import EditLog
from abm.errors import ConfigError
from abm.feedback import FeedbackRule, default_rules
from abm.hazard import (
    DAYS_PER_MONTH,
    calibrate_baselines,
    factor_table,
    onset_probability,
    previous_codes,
)
from abm.patient import Patient, pack_states, unpack_states
from abm.population import Profiles, make_profiles
from abm.sleep import make_sleep
from abm.stress import MAX_LEVEL, make_stress
from abm.triggers import STRESS
from abm.triggers import codes as trigger_codes
from abm.weather import BURN_IN_DAYS, LocationSeries, LocationWeather, simulate_locations

#: patients drawn per block; bounds the memory of the draw stage.
BLOCK_PATIENTS = 2048

Progress = Callable[[str, int, int], None]


@dataclass
class Cohort:
    """Everything about the patients of a run, as arrays with the patient as first axis.

    While the agents run, the stress levels and trigger codes they edit live in the patients'
    packed states (``abm.patient``); the arrays here hold the final series once
    :func:`run_agents` returns.
    """

    config: Config
    calendar: Calendar
    locations: LocationSeries
    profiles: Profiles
    baseline: np.ndarray
    factor_table: np.ndarray
    sleep: dict[str, np.ndarray]
    stress_level: np.ndarray
    diet: dict[str, np.ndarray]
    codes: np.ndarray
    attacks: AttackDraws
    onset_uniform: np.ndarray
    feedback_uniform: np.ndarray
    #: the points of the configured stress feedback on each day (from ``feedback_uniform``)
    stress_points: np.ndarray
    #: whether an attack would start on each day on the unedited series (the patients keep their
    #: own working copy, so this stays as drawn: ``caused_by_feedback`` compares with it)
    would_start: np.ndarray
    rules: list = field(default_factory=list)
    #: index of the patient in row 0 (a shard of a larger run starts past 0)
    first_patient: int = 0
    edits: EditLog = field(default_factory=EditLog)
    onsets: list[list[int]] = field(default_factory=list)

    @property
    def days(self) -> int:
        return self.calendar.days

    def __post_init__(self) -> None:
        #: the onset probability cap (a plain attribute: read once per refreshed day)
        self.cap = self.config.attacks.max_onset_probability
        #: ``(low, choices)`` of the configured stress feedback, whose points ``stress_points``
        #: holds: ``low + floor(u * choices)``
        lo, hi = self.config.feedback.stress.points
        self.packed_points = (lo, hi - lo + 1)


def _first_free_codes(codes: np.ndarray, stress: np.ndarray, span: np.ndarray,
                      points: np.ndarray | None, rise: int) -> tuple[np.ndarray, np.ndarray]:
    """Code deciding the first free day after an attack on each day, feedback applied."""
    n, days = codes.shape
    t = np.arange(days)
    decide = t[None, :] + span.astype(np.int64) - 1          # day whose code decides
    valid = decide + 1 < days
    decide_c = np.minimum(decide, days - 1)
    out = np.take_along_axis(codes, decide_c, axis=1)
    if points is not None:
        s = stress.astype(np.int16)
        raised = np.empty_like(s)                            # stress of t+1 after the rise
        raised[:, :-1] = np.minimum(MAX_LEVEL, s[:, 1:] + points[:, :-1])
        raised[:, -1] = 0
        nxt = np.zeros_like(s)                               # stress of t+2
        nxt[:, :-2] = s[:, 2:]
        bit_next = (raised - s) >= rise                      # trigger of t+1, edited
        bit_after = (nxt - raised) >= rise                   # trigger of t+2, edited
        for length, bits in ((2, bit_next), (3, bit_after)):
            where = span == length
            edited = (out & ~np.uint8(STRESS)) | (bits.astype(np.uint8) << 2)
            out = np.where(where, edited, out)
    return out, valid


def _draw_block(config: Config, calendar: Calendar, locations: LocationSeries, first: int,
                count: int, rules_for_calibration: bool,
                baselines: np.ndarray | None = None) -> dict:
    """Stage 1 for patients ``first … first + count - 1``."""
    days = config.run.days
    draws = draw_patients(config.run.seed, first, count, days)
    profiles = make_profiles(config, draws)
    sleep = {k: v.astype(np.float32) for k, v in make_sleep(config, draws, calendar).items()}
    stress = make_stress(config, draws, calendar)
    diet = make_diet(config, draws, calendar)
    diet["water_consumed_liters"] = diet["water_consumed_liters"].astype(np.float32)
    change = locations.pressure_change_hpa.astype(np.float32)[profiles.location]
    rules = config.triggers
    codes = trigger_codes(change, sleep["total_sleep_hours"], stress, diet["alcohol_consumed"],
                          diet["caffeine_consumed"], diet["chocolate_consumed"], rules)
    attacks = make_attack_draws(config, draws, profiles.aura)
    effects = (rules.weather_effect, rules.sleep_effect, rules.stress_effect, rules.diet_effect)
    table = factor_table(profiles.susceptibility, effects)
    feedback_u = draws.u(U.FEEDBACK_STRESS).copy()
    lo, hi = config.feedback.stress.points
    points = (lo + np.floor(feedback_u * (hi - lo + 1))).astype(np.int16)
    first_codes, valid = _first_free_codes(codes, stress, attacks.span_days,
                                           points if rules_for_calibration else None,
                                           rules.stress_rise_points)
    prev = previous_codes(codes)
    cap = config.attacks.max_onset_probability
    if baselines is None:
        baseline = calibrate_baselines(profiles.target_days_per_month / DAYS_PER_MONTH, table,
                                       prev, first_codes, valid, attacks.span_days, cap)
    else:
        baseline = np.minimum(baselines.astype(np.float64), cap)
    onset_u = draws.u(U.ONSET).copy()
    would_start = onset_u < onset_probability(baseline, table, prev, cap)
    arrays = {"baseline": baseline, "table": table, "stress": stress, "codes": codes,
              "onset_u": onset_u, "feedback_u": feedback_u, "would_start": would_start,
              "stress_points": points.astype(np.uint8)}
    arrays.update({f"sleep.{k}": v for k, v in sleep.items()})
    arrays.update({f"diet.{k}": v for k, v in diet.items()})
    arrays.update({f"profiles.{k}": getattr(profiles, k) for k in Profiles.__dataclass_fields__})
    arrays.update({f"attacks.{k}": getattr(attacks, k) for k in AttackDraws.__dataclass_fields__})
    return arrays


def build_cohort(config: Config, rules: Sequence[FeedbackRule],
                 progress: Progress | None = None,
                 baselines: np.ndarray | None = None,
                 patients: range | None = None) -> Cohort:
    """Stage 1: draw every patient's series and calibrate them, block by block.

    ``patients`` is the range of patient indices to build (default: all), so a shard of a large
    run builds exactly the patients it owns; row 0 of every array is patient ``patients.start``.
    ``baselines``, if given, holds one value per patient of that range. Each block's arrays are
    copied into arrays allocated once, so the draw stage needs the memory of the cohort plus one
    block.
    """
    patients = patients if patients is not None else range(config.population.num_patients)
    n = len(patients)
    calendar = Calendar(config.run.start, config.run.days)
    locations = simulate_locations(config, Calendar(config.run.start, config.run.days,
                                                    BURN_IN_DAYS))
    stress_rule_on = any(getattr(r, "name", "") == "stress_after_attack" for r in rules)
    full: dict[str, np.ndarray] = {}
    for first in range(0, n, BLOCK_PATIENTS):
        count = min(BLOCK_PATIENTS, n - first)
        pinned = None if baselines is None else baselines[first:first + count]
        block = _draw_block(config, calendar, locations, patients.start + first, count,
                            stress_rule_on, pinned)
        for key, values in block.items():
            if key not in full:
                full[key] = np.empty((n, *values.shape[1:]), dtype=values.dtype)
            full[key][first:first + count] = values
        del block
        if progress:
            progress("draw", first + count, n)

    def section(prefix: str) -> dict[str, np.ndarray]:
        return {k.split(".", 1)[1]: v for k, v in full.items() if k.startswith(prefix + ".")}

    return Cohort(
        config=config, calendar=calendar, locations=locations,
        profiles=Profiles(**section("profiles")), baseline=full["baseline"],
        factor_table=full["table"], sleep=section("sleep"), stress_level=full["stress"],
        diet=section("diet"), codes=full["codes"], attacks=AttackDraws(**section("attacks")),
        onset_uniform=full["onset_u"], feedback_uniform=full["feedback_u"],
        stress_points=full["stress_points"],
        would_start=full["would_start"], rules=list(rules),
        first_patient=patients.start)


def run_agents(cohort: Cohort, progress: Progress | None = None) -> simpy.Environment:
    """Stage 2: the agents on one environment, until the last day is over."""
    env = DayClock()
    days = cohort.days
    weather_agents = [LocationWeather(k, cohort.locations)
                      for k in range(cohort.config.population.num_locations)]
    for agent in weather_agents:
        env.process(agent.live(env, days))
    states = pack_states(cohort)
    patients = [Patient(i, cohort, weather_agents[loc], states[i])
                for i, loc in enumerate(cohort.profiles.location.tolist())]
    for patient in patients:
        env.process(patient.live(env))
    if progress:
        def report():
            step = max(1, days // 50)
            for day in range(0, days, step):
                yield tick(env, day, Phase.SLEEP)
                progress("simulate", day + 1, days)
            progress("simulate", days, days)
        env.process(report())
    # The run allocates one short-lived event per attack and keeps every patient, generator and
    # edit alive until the end: the cyclic garbage collector would scan that growing heap again
    # and again (a third of the run's time) without ever finding garbage, so it pauses here.
    collecting = gc.isenabled()
    gc.disable()
    try:
        env.run(until=days)
    finally:
        if collecting:
            gc.enable()
        unpack_states(cohort, states)
    cohort.onsets = [p.onsets for p in patients]
    return env


@dataclass
class Result:
    """The frames of a run (columns: ``abm.schemas``, the README's Outputs) and the configuration
    that made them."""

    config: Config
    patients: pl.DataFrame
    daily: pl.DataFrame
    weather: pl.DataFrame
    attacks: pl.DataFrame
    events: pl.DataFrame

    FRAMES = ("patients", "daily", "weather", "attacks", "events")

    def frames(self) -> dict[str, pl.DataFrame]:
        """Name → frame, in the documented order."""
        return {name: getattr(self, name) for name in self.FRAMES}


def simulate(config: Config | None = None, *, feedback_rules: Sequence[FeedbackRule] | None = None,
             baselines: Sequence[float] | np.ndarray | None = None,
             progress: Progress | None = None) -> Result:
    """Run ``config`` (default: the user's design) and return its frames.

    ``feedback_rules`` replaces the built-in rules that the configuration switches on; pass
    ``default_rules(config) + [my_rule]`` to add one.

    ``baselines`` (one onset probability per patient) replaces the calibration. Experiments pass
    the reference run's ``patients["baseline_onset_probability"]`` so that a variant which removes
    a trigger or the feedback loop keeps every patient's baseline, and its effect shows as a
    change in migraine days instead of being calibrated away.
    """
    from abm.recorder import record

    config = config or Config()
    rules = default_rules(config) if feedback_rules is None else list(feedback_rules)
    pinned = None
    if baselines is not None:
        pinned = np.asarray(baselines, dtype=np.float64)
        n = config.population.num_patients
        if pinned.shape != (n,) or not np.isfinite(pinned).all() or (pinned < 0).any():
            raise ConfigError(f"baselines must be {n} finite probabilities >= 0 (one per "
                              f"patient), got shape {pinned.shape}")
    cohort = build_cohort(config, rules, progress, pinned)
    run_agents(cohort, progress)
    return record(cohort, progress)
