"""Build the cohort, run it on one SimPy environment, and return the frames .

A run has three stages:

1. **Draw** (in blocks of patients, so memory stays bounded): the components' columns (profiles,
   daily series, trigger flags), the attack each day would bring, the calibrated baseline
   and, per day, whether an attack would start on it (pre-drawn uniform below the probability).
2. **Simulate**: one ``simpy.Environment`` (:class:`~abm.engine.clock.DayClock`); a
   :class:`~abm.model.weather.LocationWeather` process per location publishes the weather every day;
   a :class:`~abm.engine.patient.Patient` process per patient lives from attack to attack, and
   feedback rules edit its future through attack callbacks.
   Then the components' post-run steps (``abm.engine.afterrun``: the prodrome) change
   columns from the decided onsets, and the flags that read them are derived again; then the
   observation layer (``abm.engine.observe``) records what a diary, a wearable and a weather
   service would, apart from the truth.
3. **Record**: the final series and the onsets become Polars frames (``abm.output.recorder``).

Same configuration and seed give identical frames: every number comes from the stream of the
patient or location it belongs to (``abm.engine.streams``), and nothing depends on the order of
processing.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import simpy

from abm.config.settings import Config
from abm.engine import afterrun, derive, observe
from abm.engine.block import Block
from abm.engine.calendar import Calendar
from abm.engine.calibration import first_free_codes
from abm.engine.clock import DayClock, Phase, tick
from abm.engine.cohort import Cohort, Progress
from abm.engine.compiled import Compiled
from abm.engine.hazard import (
    DAYS_PER_MONTH,
    calibrate_baselines,
    factor_tables,
    factors,
    onset_probability,
    previous_codes,
)
from abm.engine.model import Model
from abm.engine.patient import Patient, pack_states, unpack_states
from abm.engine.states import PatientStates, StatePlan
from abm.errors import ConfigError
from abm.model.attacks import (
    DRIFT_COLUMN,
    STATE_COLUMN,
    AttackDraws,
    make_attack_draws,
    onset_uniforms,
)
from abm.model.component import Component, FeedbackRule
from abm.model.feedback.chronification import SWITCHED
from abm.model.feedback.state import PREVALENT
from abm.model.interventions import InterventionStreams
from abm.model.weather import LocationWeather
from abm.output.result import Result

#: patients drawn per block; bounds the memory of the draw stage.
BLOCK_PATIENTS = 2048
#: blocks drawn at once (the machines this is measured on have two cores)
DRAW_THREADS = 2


def draw_columns(model: Model, block: Block) -> dict[str, np.ndarray]:
    """Every component's draw for ``block``, in order: patient attributes into
    ``block.patients``, daily columns into ``block.columns`` (editable ones derived from their
    latent values and terms). Returns the latent values."""
    latent: dict[str, np.ndarray] = {}
    for component in model.components:
        for name, values in component.draw(block).items():
            if values.ndim == 1:
                block.patients[name] = values
            elif name in model.editable:
                latent[name] = values.astype(np.float32)
            else:
                block.columns[name] = values
    derive.derive_editable(model, block.columns, latent, block.termsums)
    return latent


def avoid_triggers(model: Model, block: Block) -> bool:
    """Trigger avoidance (``interventions``): the patients who avoid the named risk factors
    (a share of them, from their own stream) have no susceptibility to them. Whether any are
    named."""
    names = block.config.interventions.avoid_triggers
    if not names:
        return False
    known = {rf.trigger: rf for rf in model.risk_factors}
    for name in names:
        if name not in known:
            raise ConfigError(f"interventions.avoid_triggers: unknown risk factor {name!r}; "
                              f"allowed: {', '.join(known)}")
    avoiding = (block.uniform(InterventionStreams, "avoidance")
                < block.config.interventions.avoidance_share)
    for name in names:
        column = known[name].susceptibility_column
        block.patients[column] = np.where(avoiding, 0.0, block.patients[column])
    return True


def _calibrate(model: Model, block: Block, latent: dict[str, np.ndarray], codes: np.ndarray,
               attacks: AttackDraws, planned: dict[str, list[tuple[str, int, Any]]],
               tables: list[np.ndarray], drift: np.ndarray, targets: dict[str, np.ndarray]
               ) -> dict[str, np.ndarray]:
    """The baseline of each patient that gives each of ``targets`` (migraine days a month) in
    expectation, rules and drift included (``abm.engine.hazard.calibrate_baselines``); the
    factors of the days and of the first free days after an attack are computed once for all
    targets."""
    days = block.days
    all_edits = [edit for edits in planned.values() for edit in edits]
    t = np.arange(days)
    firsts = []
    for j, (first_codes, valid) in enumerate(
            first_free_codes(model, block.columns, latent, codes, attacks.span_days,
                             all_edits), start=1):
        # the drift of the j-th free day after an attack on each day t
        free = np.minimum(t[None, :] + attacks.span_days + (j - 1), days - 1)
        firsts.append((factors(tables, first_codes)
                       * np.take_along_axis(drift, free, axis=1), valid))
    f_all = factors(tables, previous_codes(codes)) * drift
    cap = model.config.attacks.max_onset_probability
    return {name: calibrate_baselines(target / DAYS_PER_MONTH, f_all, firsts,
                                      attacks.span_days, cap)
            for name, target in targets.items()}


def _draw_block(model: Model, calendar: Calendar, shared: dict[str, Any], first: int,
                count: int, baselines: np.ndarray | None = None
                ) -> tuple[dict[str, np.ndarray], dict[str, list[tuple[str, int, Any]]]]:
    """Stage 1 for patients ``first … first + count - 1``: every component's columns, the
    flags, the attack draws, the rules' planned edits, the baselines and the onset flags."""
    config = model.config
    block = Block(config, calendar, shared, first, count)
    latent = draw_columns(model, block)
    levels = derive.levels(model, block.columns)
    codes = derive.pack(levels, model.fields, model.code_bytes) if levels else np.zeros(
        (1, count, calendar.days), np.uint8)
    attacks = make_attack_draws(block)
    planned = {rule.name: [(e.column, e.offset_days, e.delta) for e in rule.planned(block)]
               for rule in model.rules}
    for rule, edits in planned.items():
        for column, _, _ in edits:
            if column not in model.editable:
                raise ConfigError(f"feedback rule {rule!r} plans an edit of {column!r}, which is "
                                  f"not editable; editable: {', '.join(model.editable)}")
    def tables_now() -> list[np.ndarray]:
        susceptibility = (np.stack([block.patients[rf.susceptibility_column]
                                    for rf in model.risk_factors], axis=1)
                          if model.risk_factors else np.zeros((count, 0)))
        return factor_tables(susceptibility, model.effects(), model.fields, model.doses())

    tables = tables_now()
    prev = previous_codes(codes)
    cap = config.attacks.max_onset_probability
    drift = block.columns[DRIFT_COLUMN].astype(np.float64)
    switched_target = block.patients.get(SWITCHED)
    targets = {"baseline": block.patients["target_migraine_days_per_month"],
               "switched": switched_target}
    calibrated = (_calibrate(model, block, latent, codes, attacks, planned, tables, drift,
                             {k: v for k, v in targets.items() if v is not None})
                  if baselines is None or switched_target is not None else {})
    # a patient who overuses from day 0 reaches the target with the medication-overuse
    # headache: the baseline without it is that much lower
    overusing = block.patients.get(PREVALENT)
    if baselines is None:
        baseline = calibrated["baseline"]
        if overusing is not None and overusing.any():
            baseline = baseline / np.where(overusing, config.feedback.overuse.baseline_factor,
                                           1.0)
    else:
        baseline = np.minimum(baselines.astype(np.float64), cap)
    # a change of state moves the baseline by the ratio of the two calibrated baselines, so a
    # pinned baseline (an experiment's variant) keeps the reference's ratio when its own
    # calibration of the two is alike
    switch = None
    if switched_target is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            switch = np.where(calibrated["baseline"] > 0,
                              calibrated["switched"] / calibrated["baseline"], 1.0)
    # trigger avoidance acts after calibration: the patients who avoid a trigger have fewer
    # attacks, as an intervention should
    if avoid_triggers(model, block):
        tables = tables_now()
    multiplier = block.columns.get(STATE_COLUMN)
    onset_u = onset_uniforms(block)
    arrays: dict[str, np.ndarray] = {
        "baseline": baseline, "codes": codes, "onset_u": onset_u,
        "would_start": onset_u < onset_probability(baseline, tables, prev, cap, drift,
                                                   multiplier)}
    if switch is not None:
        arrays["switch_factor"] = switch
    arrays.update({f"table.{b}": table for b, table in enumerate(tables)})
    arrays.update({f"patients.{k}": v for k, v in block.patients.items()})
    arrays.update({f"columns.{k}": v for k, v in block.columns.items()})
    arrays.update({f"latent.{k}": v for k, v in latent.items()})
    arrays.update({f"terms.{k}": v for k, v in block.termsums.items()})
    arrays.update({f"attacks.{k}": getattr(attacks, k) for k in AttackDraws.__dataclass_fields__})
    for rule, edits in planned.items():
        for j, (_, _, delta) in enumerate(edits):
            if isinstance(delta, np.ndarray):
                arrays[f"planned.{rule}.{j}"] = delta.astype(np.float32)
    return arrays, planned


def build_cohort(model: Model, progress: Progress | None = None,
                 baselines: np.ndarray | None = None,
                 patients: range | None = None) -> Cohort:
    """Stage 1: draw every patient's series and calibrate them, block by block.

    ``patients`` is the range of patient indices to build (default: all), so a shard of a large
    run builds exactly the patients it owns; row 0 of every array is patient ``patients.start``.
    ``baselines``, if given, holds one value per patient of that range. Each block's arrays are
    copied into arrays allocated once, so the draw stage needs the memory of the cohort plus one
    block.
    """
    config = model.config
    patients = patients if patients is not None else range(config.population.num_patients)
    n = len(patients)
    calendar = Calendar(config.run.start, config.run.days)
    shared = {c.name: c.prepare(config, calendar) for c in model.components}
    full: dict[str, np.ndarray] = {}
    planned: dict[str, list[tuple[str, int, Any]]] = {}

    def draw(first: int) -> tuple[int, dict[str, np.ndarray], dict]:
        count = min(BLOCK_PATIENTS, n - first)
        pinned = None if baselines is None else baselines[first:first + count]
        block, block_planned = _draw_block(model, calendar, shared, patients.start + first,
                                           count, pinned)
        return first, block, block_planned

    # Blocks are independent and their work is NumPy's, which runs without the interpreter
    # lock: two threads draw two blocks at once; the main thread copies each into place.
    firsts = list(range(0, n, BLOCK_PATIENTS))
    threads = DRAW_THREADS if len(firsts) > 1 else 1
    with ThreadPoolExecutor(max_workers=threads) as pool:
        # a block is copied into place before the next is started: at most ``threads`` blocks
        # are in memory at once
        running = [pool.submit(draw, first) for first in firsts[:threads]]
        queued = firsts[threads:]
        while running:
            first, block, planned = running.pop(0).result()
            count = min(BLOCK_PATIENTS, n - first)
            for key, values in block.items():
                axis = 1 if key == "codes" else 0
                if key not in full:
                    shape = list(values.shape)
                    shape[axis] = n
                    full[key] = np.empty(shape, dtype=values.dtype)
                if axis:
                    full[key][:, first:first + count] = values
                else:
                    full[key][first:first + count] = values
            del block
            if queued:
                running.append(pool.submit(draw, queued.pop(0)))
            if progress:
                progress("draw", first + count, n)
    if n == 0:
        raise ConfigError("population.num_patients must be at least 1")

    def section(prefix: str) -> dict[str, np.ndarray]:
        return {k.split(".", 1)[1]: v for k, v in full.items() if k.startswith(prefix + ".")}

    for rule, edits in planned.items():
        planned[rule] = [(column, offset, full.get(f"planned.{rule}.{j}", delta))
                         for j, (column, offset, delta) in enumerate(edits)]
    tables = section("table")
    return Cohort(
        config=config, model=model, calendar=calendar, shared=shared,
        patients=section("patients"), columns=section("columns"), latent=section("latent"),
        termsums=section("terms"),
        codes=full["codes"], baseline=full["baseline"],
        factor_tables=[tables[str(b)] for b in range(len(tables))],
        attacks=AttackDraws(**section("attacks")), onset_uniform=full["onset_u"],
        would_start=full["would_start"], planned=planned, first_patient=patients.start,
        switch_factor=full.get("switch_factor"))


def run_agents(cohort: Cohort, progress: Progress | None = None) -> simpy.Environment:
    """Stage 2: the agents on one environment, until the last day is over."""
    env = DayClock()
    days = cohort.days
    weather_agents = [LocationWeather(k, cohort.shared["weather"])
                      for k in range(cohort.config.population.num_locations)]
    for agent in weather_agents:
        env.process(agent.live(env, days))
    # rules that only make planned edits share one callback; the others are called as they are
    cohort.fast_rules = [r for r in cohort.model.rules
                         if type(r).__call__ is FeedbackRule.__call__]
    # what the rules' edits can change is packed with the patient (a coupling's target too)
    cohort.edited_columns = sorted(cohort.model.downstream(
        [column for rule in cohort.model.rules for column, _, _ in cohort.planned[rule.name]]))
    if cohort.model.rules:  # the flags as drawn, for the attribution of caused attacks
        cohort.codes_before = cohort.codes.copy()
    if STATE_COLUMN in cohort.columns:  # and the state multiplier as drawn
        cohort.state_before = cohort.columns[STATE_COLUMN].copy()
    states = pack_states(cohort)
    cohort.compiled = Compiled(cohort.model, cohort.fast_rules, cohort.planned, cohort.layout)
    cohort.callbacks = ([cohort.compiled.apply_rules] if cohort.fast_rules else []) + [
        r for r in cohort.model.rules if r not in cohort.fast_rules] + cohort.model.callbacks
    patients = [Patient(i, cohort, weather_agents[loc], states[i])
                for i, loc in enumerate(cohort.patients["location"].tolist())]
    if STATE_COLUMN in cohort.columns:  # slow states: each patient gets a state machine
        plan = StatePlan.build(cohort, cohort.switch_factor)
        for patient in patients:
            patient.states = PatientStates(cohort, plan, patient.index)
            env.process(patient.live_with_states(env))
    else:
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
    afterrun.apply(cohort)  # the post-run steps: they read the decided onsets, change none
    observe.apply(cohort)  # what the diary, the wearable and the weather service record
    return env


def simulate(config: Config | None = None, *, feedback_rules: Sequence[Any] | None = None,
             components: Sequence[Component] = (),
             baselines: Sequence[float] | np.ndarray | None = None,
             progress: Progress | None = None, model: Model | None = None) -> Result:
    """Run ``config`` (default: the user's design) and return its frames.

    ``components`` adds your own risk factors, couplings or feedback rules to the built-in ones
    (``abm.model.component``). ``feedback_rules`` replaces the built-in rules that the
    configuration switches on; pass ``default_rules(config) + [my_rule]`` to add one.

    ``baselines`` (one onset probability per patient) replaces the calibration. Experiments pass
    the reference run's ``patients["baseline_onset_probability"]`` so that a variant which removes
    a trigger or the feedback loop keeps every patient's baseline, and its effect shows as a
    change in migraine days instead of being calibrated away.

    ``model`` runs the components and rules of another run's model (``Result.model``) instead
    of building them: ``components`` and ``feedback_rules`` are then not used.
    """
    from abm.output.recorder import record

    config = config or Config()
    model = (model.for_config(config) if model is not None
             else Model.build(config, components, feedback_rules))
    pinned = None
    if baselines is not None:
        pinned = np.asarray(baselines, dtype=np.float64)
        n = config.population.num_patients
        if pinned.shape != (n,) or not np.isfinite(pinned).all() or (pinned < 0).any():
            raise ConfigError(f"baselines must be {n} finite probabilities >= 0 (one per "
                              f"patient), got shape {pinned.shape}")
    cohort = build_cohort(model, progress, pinned)
    run_agents(cohort, progress)
    return record(cohort, progress, release=True)
