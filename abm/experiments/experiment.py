"""Experiments: named variants of a base configuration, replicated over seeds, in parallel.

An :class:`Experiment` is a base :class:`~abm.config.settings.Config`, named variants (overrides of
any setting by dotted key, ``{"feedback.stress.enabled": False}``), a number of replicates and the
metrics to compute (``abm.experiments.metrics``). Replicate ``r`` runs every variant with the seed
``base.run.seed + r``; since every random stream is keyed by patient or location index and by
its purpose (``abm.engine.streams``), the variants of a replicate share their patients, weather
and draws wherever a variant does not change them (common random numbers). Differences between
variants are therefore paired, replicate by replicate and patient by patient.

Baselines. By default (``pin_baselines=True``) each replicate's variants reuse the baseline onset
probabilities calibrated for the reference variant of the same seed
(``simulate(..., baselines=...)``). Calibration makes every patient's realized migraine days
match a target; without pinning, a variant that removes a trigger or a feedback loop would be
recalibrated back to the same migraine days and show no effect. When a variant changes who the
patients are (``population.chronic_ratio``, the target ranges, the cohort size), the reference's
baselines do not belong to its patients: such experiments set ``pin_baselines=False`` and every
run is calibrated on its own (a refusal says so).

Runs go to local worker processes (``concurrent.futures.ProcessPoolExecutor`` with the
forkserver context where the platform has it, spawn otherwise). With pinned baselines each
replicate's reference runs first and its variants are queued as soon as it finishes. Workers
return only metrics, per-patient migraine days and, for the first replicate, one patient's
timeline; results are assembled by (variant, replicate), so they are identical for any number of
workers.

:meth:`ExperimentResult.write` writes the tidy results, the summary, figures and a manifest to a
folder, whole or not at all (a staging folder renamed into place, as ``abm run`` does).
"""

from __future__ import annotations

import math
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from abm.config.settings import Config, read_toml
from abm.errors import ConfigError

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    import polars as pl

    from abm.experiments.figures import Timeline

KEYS = ("name", "description", "replicates", "reference", "pin_baselines", "metrics",
        "timeline_variant", "base", "variants")
DEFAULT_METRICS = ("migraine_days", "chronic_share", "attacks", "clustering", "risk_ratios",
                   "feedback", "paired")
#: population settings that define the calibration targets or the cohort's size: a variant that
#: changes them cannot reuse the reference's baselines
_CHANGES_PATIENTS = ("population.num_patients", "population.chronic_ratio",
                     "population.chronic_days_per_month", "population.episodic_days_per_month")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_MAX_SEED = 2**63 - 1


def flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables to dotted keys: ``{"feedback": {"stress": {"enabled": False}}}`` and
    ``{"feedback.stress.enabled": False}`` both give the latter (TOML writes either)."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if not isinstance(key, str) or not key:
            raise ConfigError(f"setting names must be non-empty text, got {key!r}")
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _config_with(base: Config, overrides: Mapping[str, Any], where: str) -> Config:
    try:
        return base.replace(**overrides) if overrides else base
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class Experiment:
    """What to run: a base configuration, named variants, replicates and metrics.

    ``variants`` maps a name to dotted overrides of the base (an empty mapping is the base
    itself); nested tables are accepted too. ``reference`` (default: the first variant) is what
    differences are taken against and, with ``pin_baselines``, whose calibrated baselines every
    variant of a replicate uses. ``metrics`` are group or metric names of
    ``abm.experiments.metrics``. Everything is checked on construction; a bad value raises a
    one-line :class:`~abm.errors.ConfigError` naming it.
    """

    name: str
    variants: Mapping[str, Mapping[str, Any]]
    base: Config = field(default_factory=Config)
    replicates: int = 5
    metrics: tuple[str, ...] = DEFAULT_METRICS
    reference: str | None = None
    pin_baselines: bool = True
    description: str = ""
    timeline_variant: str | None = None

    def __post_init__(self) -> None:
        from abm.experiments.metrics import metric_groups, resolve

        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ConfigError("name must be letters, digits, '_', '.' or '-' (it names the "
                              f"output folder), got {self.name!r}")
        if not isinstance(self.description, str):
            raise ConfigError(f"description must be text, got {self.description!r}")
        if not isinstance(self.base, Config):
            raise ConfigError(f"base must be a Config, got {type(self.base).__name__}")
        if isinstance(self.replicates, bool) or not isinstance(self.replicates, int) \
                or self.replicates < 1:
            raise ConfigError(f"replicates must be a whole number >= 1, got {self.replicates!r}")
        if self.base.run.seed + self.replicates - 1 > _MAX_SEED:
            raise ConfigError(f"replicates: seeds {self.base.run.seed} + 0..{self.replicates - 1} "
                              "exceed 2**63 - 1; lower run.seed in [base]")
        if not isinstance(self.pin_baselines, bool):
            raise ConfigError(f"pin_baselines must be true or false, got {self.pin_baselines!r}")
        if not isinstance(self.variants, Mapping) or not self.variants:
            raise ConfigError("variants: at least one variant is needed, e.g. "
                              "[variants.default] with no settings")
        variants: dict[str, dict[str, Any]] = {}
        for name, overrides in self.variants.items():
            if not isinstance(name, str) or not _NAME.match(name):
                raise ConfigError("variant names must be letters, digits, '_', '.' or '-', "
                                  f"got {name!r}")
            if not isinstance(overrides, Mapping):
                raise ConfigError(f'variant "{name}" must be a table of settings, '
                                  f"got {overrides!r}")
            variants[name] = flatten(overrides)
        object.__setattr__(self, "variants", variants)
        reference = self.reference if self.reference is not None else next(iter(variants))
        if not isinstance(reference, str) or reference not in variants:
            raise ConfigError(f"reference {reference!r} is not a variant; variants: "
                              f"{', '.join(variants)}")
        object.__setattr__(self, "reference", reference)
        if self.timeline_variant is not None and self.timeline_variant not in variants:
            raise ConfigError(f"timeline_variant {self.timeline_variant!r} is not a variant; "
                              f"variants: {', '.join(variants)}")
        metrics = (self.metrics,) if isinstance(self.metrics, str) else self.metrics
        if not isinstance(metrics, Iterable) or not all(isinstance(m, str) for m in metrics):
            raise ConfigError(f"metrics must be a list of names, got {self.metrics!r}")
        metrics = tuple(metrics)
        if not metrics:
            raise ConfigError("metrics: at least one metric is needed")
        try:
            resolve(metrics, self.triggers)
        except KeyError as exc:
            raise ConfigError(f"metrics: unknown metric {exc.args[0]!r}; groups: "
                              f"{', '.join(metric_groups(self.triggers))} (or one metric name "
                              "of a group, see README_experiments.md)") from None
        object.__setattr__(self, "metrics", metrics)
        for name, overrides in variants.items():
            self._check_variant(name, overrides)

    def _check_variant(self, name: str, overrides: Mapping[str, Any]) -> None:
        where = f'variant "{name}"'
        if "run.seed" in overrides:
            raise ConfigError(f"{where}: run.seed is set per replicate (base seed + replicate); "
                              "set the first seed in [base]")
        config = _config_with(self.base, overrides, where)
        if self.pin_baselines:
            reference = self.config(str(self.reference))
            for key in _CHANGES_PATIENTS:
                section, setting = key.split(".")
                if getattr(getattr(config, section), setting) != \
                        getattr(getattr(reference, section), setting):
                    raise ConfigError(f"{where}: {key} changes who the patients are, so the "
                                      "reference's baselines do not apply; set "
                                      "pin_baselines = false")

    # --- derived values ------------------------------------------------------------------

    @property
    def variant_names(self) -> tuple[str, ...]:
        return tuple(self.variants)

    @property
    def seeds(self) -> tuple[int, ...]:
        """The seed of each replicate: the base seed, plus one per replicate."""
        return tuple(self.base.run.seed + r for r in range(self.replicates))

    @property
    def triggers(self) -> tuple[str, ...]:
        """The risk factors' names of the experiment's model, which name its trigger metrics
        (variants change settings, never which components there are)."""
        from abm.engine.model import Model

        return tuple(Model.build(self.base).triggers)

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Every metric name computed, in the results' order."""
        from abm.experiments.metrics import resolve

        return resolve(self.metrics, self.triggers)

    def config(self, variant: str, replicate: int = 0) -> Config:
        """The configuration of one run."""
        config = _config_with(self.base, self.variants[variant], f'variant "{variant}"')
        return config.replace(**{"run.seed": self.seeds[replicate]}) if replicate else config

    def resized(self, patients: int | None = None, days: int | None = None,
                replicates: int | None = None) -> Experiment:
        """The same experiment at another size: ``patients`` and ``days`` replace the base's
        (a variant that sets its own keeps it), ``replicates`` the number of seeds. For a quick
        look at a design before its full run; checked like any experiment."""
        import dataclasses

        changes = {k: v for k, v in (("population.num_patients", patients),
                                     ("run.days", days)) if v is not None}
        base = _config_with(self.base, changes, "size") if changes else self.base
        return dataclasses.replace(self, base=base, replicates=(
            self.replicates if replicates is None else replicates))

    def to_dict(self) -> dict[str, Any]:
        """Plain values (the manifest's record), the inverse of :meth:`from_dict`."""
        return {"name": self.name, "description": self.description,
                "replicates": self.replicates, "reference": self.reference,
                "pin_baselines": self.pin_baselines, "metrics": list(self.metrics),
                "timeline_variant": self.timeline_variant, "base": self.base.to_dict(),
                "variants": {k: {kk: list(vv) if isinstance(vv, tuple) else vv
                                 for kk, vv in v.items()} for k, v in self.variants.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], default_name: str = "experiment") -> Experiment:
        """Build from a table as read from TOML; unknown keys and wrong types are refused."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"an experiment must be a table, got {data!r}")
        unknown = [k for k in data if k not in KEYS]
        if unknown:
            raise ConfigError(f"unknown key {unknown[0]!r}; allowed: {', '.join(KEYS)}")
        base_table = data.get("base", {})
        if not isinstance(base_table, Mapping):
            raise ConfigError(f"base must be a table of settings, got {base_table!r}")
        base = _config_with(Config(), flatten(base_table), "base")
        variants = data.get("variants")
        if variants is None:
            raise ConfigError("variants: at least one variant is needed, e.g. "
                              "[variants.default] with no settings")
        # only the keys the table has: the dataclass holds the defaults and most checks
        fields = {k: data[k] for k in KEYS if k in data and k != "base"}
        fields.setdefault("name", default_name)
        if "metrics" in fields:
            metrics = fields["metrics"]
            if isinstance(metrics, str) or not isinstance(metrics, list | tuple):
                raise ConfigError(f"metrics must be a list of names, got {metrics!r}")
            fields["metrics"] = tuple(metrics)
        return cls(base=base, **fields)


def load_experiment(path: str | Path) -> Experiment:
    """Read an experiment TOML file; every problem is a one-line ConfigError naming the file."""
    path = Path(path)
    data = read_toml(path, "experiment file")
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem) or "experiment"
    try:
        return Experiment.from_dict(data, default_name=name)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


# --- running ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Task:
    variant: str
    replicate: int
    config: Config
    metrics: tuple[str, ...]
    baselines: np.ndarray | None = None
    keep_baselines: bool = False
    keep_timeline: bool = False


@dataclass
class _Output:
    variant: str
    replicate: int
    metrics: dict[str, float]
    days_per_month: np.ndarray
    denominators: dict[str, int] = field(default_factory=dict)
    baselines: np.ndarray | None = None
    timeline: Timeline | None = None


def _run_task(task: _Task) -> _Output:
    """One simulation and its metrics (runs in a worker process)."""
    from abm.engine.simulation import simulate
    from abm.experiments.figures import extract_timeline
    from abm.experiments.metrics import days_per_month, run_denominators, run_metrics
    from abm.validation.checks import patient_day_matrix

    result = simulate(task.config, baselines=task.baselines)
    has = patient_day_matrix(result.daily, "has_migraine", result.patients.height,
                             task.config.run.days)
    return _Output(
        variant=task.variant, replicate=task.replicate,
        metrics=run_metrics(result, task.metrics),
        days_per_month=days_per_month(has),
        denominators=run_denominators(result, task.metrics),
        baselines=(result.patients["baseline_onset_probability"].to_numpy().copy()
                   if task.keep_baselines else None),
        timeline=extract_timeline(result, task.variant) if task.keep_timeline else None)


def _worker_start(polars_threads: str, line: Connection) -> None:
    """A worker shares the cores out as the run's workers do (``abm.scale.engines``), leaves Ctrl-C
    to the parent, and exits when the parent cuts its lifeline or dies (``abm.scale.lifeline``)."""
    from abm.scale.engines import share_cores
    from abm.scale.lifeline import hold

    share_cores(polars_threads)
    hold(line)


class _Scheduler:
    """Builds the tasks, queues variants once their reference's baselines exist."""

    def __init__(self, experiment: Experiment) -> None:
        from abm.experiments.metrics import PAIRED

        self.experiment = experiment
        self.run_metrics = tuple(m for m in experiment.metric_names if m not in PAIRED)

    def task(self, variant: str, replicate: int, baselines: np.ndarray | None = None) -> _Task:
        e = self.experiment
        return _Task(variant, replicate, e.config(variant, replicate), self.run_metrics,
                     baselines=baselines,
                     keep_baselines=e.pin_baselines and variant == e.reference,
                     keep_timeline=replicate == 0)

    def first(self) -> list[_Task]:
        e = self.experiment
        if e.pin_baselines:
            return [self.task(e.reference, r) for r in range(e.replicates)]
        return [self.task(v, r) for r in range(e.replicates) for v in e.variant_names]

    def after(self, output: _Output) -> list[_Task]:
        e = self.experiment
        if not (e.pin_baselines and output.variant == e.reference):
            return []
        return [self.task(v, output.replicate, output.baselines) for v in e.variant_names
                if v != e.reference]


def _execute(experiment: Experiment, workers: int,
             on_done: Callable[[], None]) -> dict[tuple[str, int], _Output]:
    scheduler = _Scheduler(experiment)
    outputs: dict[tuple[str, int], _Output] = {}

    def keep(output: _Output) -> list[_Task]:
        outputs[(output.variant, output.replicate)] = output
        on_done()
        return scheduler.after(output)

    if workers <= 1:
        queue = scheduler.first()
        while queue:
            queue = keep(_run_task(queue[0])) + queue[1:]
        return outputs

    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    from abm.scale.engines import polars_threads
    from abm.scale.lifeline import Lifeline
    from abm.scale.mainguard import check_main_guard, in_bootstrap

    if in_bootstrap():      # a worker re-running an unguarded script: the parent explains
        raise SystemExit(1)
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    with Lifeline(context) as line:
        pool = ProcessPoolExecutor(max_workers=workers, initializer=_worker_start,
                                   initargs=(polars_threads(workers), line.end),
                                   mp_context=context)
        try:
            pending = {pool.submit(_run_task, t) for t in scheduler.first()}
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: (f.result().replicate,
                                                          f.result().variant)):
                    pending |= {pool.submit(_run_task, t) for t in keep(future.result())}
        except BaseException as exc:
            line.cut()  # the runs under way stop now rather than finish for nothing
            pool.shutdown(wait=False, cancel_futures=True)
            if isinstance(exc, BrokenProcessPool):
                check_main_guard(f"run_experiment(workers={workers})")
            raise
        pool.shutdown(wait=True)
    return outputs


@dataclass
class ExperimentResult:
    """The outcome of :func:`run_experiment`.

    ``results`` is the tidy frame (``variant``, ``replicate``, ``seed``, ``metric``, ``value``,
    ``denominator``: the units a share counts, null for other metrics); ``summary`` has, per
    variant and metric, the mean over replicates with its 95% interval (for a share: a Wilson
    interval over the units of all replicates) and the mean paired difference from the reference
    with its 95% interval (``abm.experiments.metrics``).
    ``patient_days`` has every run's migraine days per 30 days per patient.
    """

    experiment: Experiment
    results: pl.DataFrame
    summary: pl.DataFrame
    patient_days: pl.DataFrame
    timelines: dict[str, Timeline]
    wall_seconds: float
    workers: int

    def table(self, metrics: Mapping[str, str], digits: int = 2,
              percent: Iterable[str] | None = None) -> str:
        """A Markdown table of chosen metrics (``name -> heading``), one row per variant;
        ``percent`` (default: the fractions) are shown as percentages."""
        from abm.experiments.metrics import metric_table

        return metric_table(self.summary, metrics, digits, percent)

    def timeline(self) -> Timeline:
        """The timeline to draw: ``timeline_variant``'s, or, of the first replicate's, the one
        whose patient has the most feedback-caused attacks."""
        e = self.experiment
        if e.timeline_variant is not None:
            return self.timelines[e.timeline_variant]
        return max(self.timelines.values(), key=lambda t: t.feedback_attacks)

    def write(self, out: str | Path, overwrite: bool = False) -> Path:
        """Write results, summary, figures and manifest.json to ``out``, whole or not at all."""
        from abm.experiments.output import write_experiment

        return write_experiment(self, Path(out), overwrite)


def run_experiment(experiment: Experiment, workers: int | None = None,
                   progress: bool = True) -> ExperimentResult:
    """Run every variant x replicate on ``workers`` processes (default: one per core, at most 8).

    A progress bar (stderr) appears when the experiment takes longer than two seconds.
    """
    import polars as pl
    from tqdm import tqdm

    from abm.experiments.metrics import paired_denominators, paired_metrics, summarize
    from abm.output.recorder import patient_ids
    from abm.progress import DELAY_SECONDS
    from abm.scale.engines import default_workers

    if workers is None:
        workers = default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be a whole number >= 1, got {workers!r}")
    e = experiment
    total = len(e.variants) * e.replicates
    workers = min(workers, total)
    started = time.perf_counter()
    bar = tqdm(total=total, delay=DELAY_SECONDS, disable=not progress, file=sys.stderr, unit="run",
               desc=e.name, leave=False)
    try:
        outputs = _execute(e, workers, lambda: bar.update(1))
    finally:
        bar.close()
    names = e.metric_names
    rows: list[tuple[str, int, int, str, float, int | None]] = []
    days: list[pl.DataFrame] = []
    for variant in e.variant_names:
        for r, seed in enumerate(e.seeds):
            out = outputs[(variant, r)]
            reference_days = outputs[(e.reference, r)].days_per_month
            values = dict(out.metrics)
            values |= paired_metrics(out.days_per_month, reference_days, names)
            units = out.denominators | paired_denominators(reference_days, names)
            rows += [(variant, r, seed, m, values.get(m, math.nan), units.get(m))
                     for m in names]
            n = out.days_per_month.size
            days.append(pl.DataFrame({
                "variant": [variant] * n, "replicate": np.full(n, r, dtype=np.int32),
                "seed": np.full(n, seed, dtype=np.int64),
                "patient_id": patient_ids(n),
                "migraine_days_per_month": out.days_per_month}))
    results = pl.DataFrame(rows, orient="row", schema={
        "variant": pl.String, "replicate": pl.Int32, "seed": pl.Int64, "metric": pl.String,
        "value": pl.Float64, "denominator": pl.Int64}).with_columns(
        pl.col("variant", "metric").cast(pl.Categorical))
    patient_days = pl.concat(days).with_columns(
        pl.col("variant", "patient_id").cast(pl.Categorical))
    timelines = {v: outputs[(v, 0)].timeline for v in e.variant_names}
    return ExperimentResult(experiment=e, results=results,
                            summary=summarize(results, str(e.reference)),
                            patient_days=patient_days, timelines=timelines,
                            wall_seconds=time.perf_counter() - started, workers=workers)

