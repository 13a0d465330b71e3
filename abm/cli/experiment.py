"""The ``abm experiment FILE.toml`` command: run an experiment file and write its outputs.

``abm.cli.app`` wires it with two calls: ``add_experiment_parser(sub)`` where the subcommands are
built, and ``run_experiment_command(args)`` when ``args.command == "experiment"``. The parser is
created through the subparsers object, so it inherits ``abm.cli.app``'s parser class whose
``error()`` raises instead of exiting; bad input raises :class:`~abm.errors.AbmError`, which
``abm.cli.app.main`` prints as one line with exit status 2. Everything is checked (the file, every
variant, the output folder) before the first simulation starts, so a bad invocation writes nothing.

Only ``argparse`` and ``pathlib`` are imported here; the experiment machinery (Polars, SimPy,
matplotlib) loads when the command runs, so ``abm --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from abm.cli.options import whole_number
from abm.wording import plural

if TYPE_CHECKING:
    from abm.experiments.experiment import Experiment


def add_experiment_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``experiment`` subcommand to ``subparsers`` (from ``add_subparsers``)."""
    parser = subparsers.add_parser(
        "experiment", help="run variants x replicates of a configuration and compare them",
        description="Run an experiment file: a [base] configuration, named [variants.NAME] "
        "overrides (dotted keys such as feedback.stress.enabled = false), replicates (seeds) "
        "and metrics. Writes results.parquet/.csv (one row per variant, replicate and metric), "
        "summary.parquet/.csv/.md (mean and 95% interval over replicates, paired differences "
        "from the reference variant), figures and manifest.json to --out, whole or not at all. "
        "Results are identical for any --workers. See README_experiments.md.")
    parser.add_argument("file", metavar="FILE.toml", type=Path, help="experiment TOML file")
    parser.add_argument("--workers", metavar="K", type=whole_number("--workers"), default=None,
                        help="worker processes (default: one per core, at most 8)")
    parser.add_argument("--out", metavar="DIR", type=Path, default=None,
                        help="output folder (default ./NAME-results, NAME from the file's "
                        "name key or its file name); must be new or empty unless --overwrite")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier experiment output in --out (only once the new "
                        "one is complete)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    add_size_options(parser)
    return parser


def add_size_options(parser: argparse.ArgumentParser) -> None:
    """``--patients``, ``--days`` and ``--replicates``: run a design smaller (or larger) than
    written, for a quick look before the full run."""
    parser.add_argument("--patients", metavar="N", type=whole_number("--patients"),
                        help="patients of every run (the base's population.num_patients; a "
                        "variant that sets its own keeps it)")
    parser.add_argument("--days", metavar="D", type=whole_number("--days"),
                        help="days of every run (the base's run.days; a variant that sets its "
                        "own keeps it)")
    parser.add_argument("--replicates", metavar="R", type=whole_number("--replicates"),
                        help="number of replicates (seeds run.seed, run.seed + 1, ...)")


def _sized(args: argparse.Namespace) -> bool:
    return any(getattr(args, k) is not None for k in ("patients", "days", "replicates"))


def run_experiment_command(args: argparse.Namespace) -> int:
    """Run ``abm experiment``; return the exit status (0). Bad input raises AbmError."""
    from abm.experiments.experiment import load_experiment, run_experiment
    from abm.experiments.metrics import long_table
    from abm.experiments.output import check_output

    experiment = load_experiment(args.file)
    if _sized(args):
        experiment = experiment.resized(args.patients, args.days, args.replicates)
    out = args.out if args.out is not None else Path(f"{experiment.name}-results")
    check_output(out, args.overwrite)
    result = run_experiment(experiment, workers=args.workers, progress=not args.quiet)
    result.write(out, overwrite=args.overwrite)
    if not args.quiet:
        focus = result.summary.filter(result.summary["metric"].is_in(
            ["migraine_days_per_month_mean", "chronic_share", "feedback_attack_share",
             "paired_migraine_days_per_month_diff", "chronification_share"]))
        if focus.height:
            print(long_table(focus), file=sys.stdout)
        print(f"abm: experiment {experiment.name!r}: "
              f"{plural(len(experiment.variants), 'variant')} x "
              f"{plural(experiment.replicates, 'replicate')} on "
              f"{plural(result.workers, 'worker')} -> {out}/ in {result.wall_seconds:.1f} s",
              file=sys.stderr)
    return 0


def run_script(script: str, doc: str | None, build: Callable[[str], Experiment],
               tables: Sequence[Mapping[str, str]], argv: Sequence[str] | None = None,
               draw: Callable[[Path], list[Path]] | None = None) -> int:
    """The command line shared by the scripts in ``experiments/``; a script passes its own
    ``__file__`` and ``__doc__``.

    ``python experiments/NAME.py [--quick] [--out DIR] [--workers K] [--patients N] [--days D]
    [--replicates R]``: ``build(size)`` makes the experiment for size ``"full"`` or ``"quick"``
    (fewer patients, days and replicates: well under a minute on two cores); ``--patients``,
    ``--days`` and ``--replicates`` then change that size (:meth:`Experiment.resized`). The
    outputs go to ``--out`` (default ``results/NAME`` beside the script, with ``-quick``
    appended for a quick run and ``-NxDxR`` for a resized one, so that a small run never
    replaces the full one's results); an earlier experiment output there is replaced, any other
    folder is refused. Prints each of ``tables`` (metric -> heading) as
    Markdown, shares as percentages, and the wall time. ``draw(out)``, if given, draws the
    study's own figures into the output folder once it is written; they are recorded in its
    manifest.
    """
    from abm.errors import AbmError

    path = Path(script)
    name = path.stem
    default_out = path.parent / "results" / name
    description = (doc or "").split("\n\n")[0]

    parser = argparse.ArgumentParser(prog=f"experiments/{name}.py", description=description)
    parser.add_argument("--quick", action="store_true",
                        help="fewer patients, days and replicates (under a minute)")
    parser.add_argument("--out", metavar="DIR", type=Path, default=None,
                        help=f"output folder (default {default_out}[-quick][-NxDxR])")
    parser.add_argument("--workers", metavar="K", type=whole_number("--workers"), default=None,
                        help="worker processes (default: one per core, at most 8)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_size_options(parser)
    args = parser.parse_args(argv)
    size = "quick" if args.quick else "full"
    started = time.perf_counter()
    try:
        from abm.experiments.experiment import run_experiment
        from abm.experiments.output import check_output

        experiment = build(size)
        suffix = "-quick" if args.quick else ""
        if _sized(args):
            experiment = experiment.resized(args.patients, args.days, args.replicates)
            size = "resized"
            suffix += (f"-{experiment.base.population.num_patients}x{experiment.base.run.days}"
                       f"x{experiment.replicates}")
        out = args.out or default_out.with_name(default_out.name + suffix)
        check_output(out, overwrite=True)
        result = run_experiment(experiment, workers=args.workers, progress=not args.quiet)
        result.write(out, overwrite=True)
        drawn: list[Path] = []
        if draw is not None:
            from abm.experiments.figures import add_to_manifest

            drawn = draw(out)
            add_to_manifest(out, drawn)
    except AbmError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted; nothing was written", file=sys.stderr)
        return 130
    e = experiment
    n, days = e.base.population.num_patients, e.base.run.days
    print(f"## {name} ({size}): {plural(n, 'patient')} x {plural(days, 'day')} x "
          f"{plural(e.replicates, 'replicate')} (seeds {e.seeds[0]}-{e.seeds[-1]}), "
          f"{plural(len(e.variants), 'variant')}, {plural(result.workers, 'worker')}\n")
    for table in tables:
        print(result.table(table) + "\n")
    print(f"experiment wall time {result.wall_seconds:.1f} s; script wall time "
          f"{time.perf_counter() - started:.1f} s; outputs in {out}/")
    if drawn:
        print("figures: " + ", ".join(p.name for p in drawn))
    return 0
