"""The ``abm`` command: ``abm run``, ``abm validate``, ``abm experiment``, ``abm export``,
``abm benchmark``, ``abm config``, ``abm graph``.

Bad input never produces a traceback: every :class:`~abm.errors.AbmError` and every usage error
becomes one line on stderr and exit status 2, checked before anything is written. ``validate``
exits 0 when no target fails (rows a run is too small to judge are n/a) and 1 when one fails.
Ctrl-C and SIGTERM stop a run with a short message and status 130 or 143; outputs are written
whole or not at all (``abm.output.write``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from abm import __version__
from abm.cli.options import Parser, UsageError, whole_number
from abm.errors import AbmError
from abm.model.presets import NAMES as PRESET_NAMES
from abm.wording import command_line

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143  # 128 + SIGINT, 128 + SIGTERM


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--seed must be a whole number, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"--seed must be in [0, 2**63), got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="abm", description="Simulate cohorts of migraine patients as SimPy "
                     "agents and write multimodal synthetic data with a known ground truth.")
    parser.add_argument("--version", action="version", version=f"abm {__version__}",
                        help="print abm's version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    run = sub.add_parser("run", help="simulate a cohort and write its frames",
                         description="Simulate a cohort (default: 1000 patients x 180 days, "
                         "seed 42) and write patients, daily, weather, attacks and events, the "
                         "model's causal_graph.json and a manifest.json. Options given here "
                         "override the configuration file.")
    run.add_argument("--config", metavar="FILE", type=Path,
                     help="TOML configuration file, one section per component ([population], "
                     "[sleep], [triggers.letdown], [couplings.sleep_stress], [observation.diary], "
                     "..., [run]); unknown keys are refused; 'abm config' prints a complete one "
                     "to start from")
    run.add_argument("--preset", choices=PRESET_NAMES,
                     help="a named cohort and model (population.preset): 'clinic' (default: "
                     "the original design's clinic-like cohort), 'population' (AMPP's "
                     "population cohort: 6.8%% chronic, 80%% women), 'evidence' (the population "
                     "cohort with the literature's risk factors); settings of --config and the "
                     "options below win over it")
    run.add_argument("--patients", metavar="N", type=whole_number("--patients"),
                     help="number of patients (population.num_patients; default 1000)")
    run.add_argument("--days", metavar="D", type=whole_number("--days"),
                     help="number of days (run.days; default 180)")
    run.add_argument("--seed", metavar="S", type=_seed,
                     help="root random seed (run.seed; default 42)")
    run.add_argument("--out", metavar="DIR", type=Path, default=Path("out"),
                     help="output folder (default ./out); must be new or empty unless "
                     "--overwrite")
    run.add_argument("--format", choices=("parquet", "csv", "seed-csv"), default="parquet",
                     help="parquet (default): OUT/<frame>.parquet; csv: OUT/<frame>.csv; "
                     "seed-csv: the original design's CSV files plus combined_data.csv")
    run.add_argument("--overwrite", action="store_true",
                     help="replace an earlier abm output in --out (only once the new one is "
                     "complete)")
    run.add_argument("--workers", metavar="K", type=whole_number("--workers"),
                     help="local worker processes for runs of several shards (more than "
                     "run.shard_patients patients); default: 1 for one shard, else one per core")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="run the shards on a Dask distributed cluster at ADDRESS "
                     "(tcp://host:8786), or 'local' to start a LocalCluster of --workers "
                     "processes; needs pip install -e '.[dask]'")
    run.add_argument("--resume", action="store_true",
                     help="finish an interrupted sharded run into --out, reusing the shards "
                     "already written (same options as the first attempt)")
    run.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    val = sub.add_parser("validate", help="check an output folder against the validation "
                         "targets", description="Print the validation table (measured value, "
                         "target, pass/FAIL/n/a) of an output folder written with --format "
                         "parquet or csv. A target the run is too small to judge is n/a "
                         "(too few patients, days or attacks), not a failure. Exit 0 when no "
                         "target fails, 1 when one fails, 2 on bad input.")
    val.add_argument("folder", metavar="DIR", type=Path, help="output folder of abm run")
    from abm.cli.benchmark import add_benchmark_parser
    from abm.cli.config import add_config_parser
    from abm.cli.experiment import add_experiment_parser
    from abm.cli.export import add_export_parser
    from abm.cli.graph import add_graph_parser

    add_experiment_parser(sub)
    add_export_parser(sub)
    add_benchmark_parser(sub)
    add_config_parser(sub)
    add_graph_parser(sub)
    return parser


def _run(args: argparse.Namespace) -> int:
    import time

    from abm.config.settings import Config, load_config
    from abm.engine.simulation import simulate
    from abm.output.write import check_target, write_outputs
    from abm.progress import RunProgress
    from abm.scale.resources import check_resources
    from abm.scale.sharding import plan
    from abm.wording import plural

    if args.config:
        config = load_config(args.config, preset=args.preset)
    else:
        config = Config.from_dict({"population": {"preset": args.preset or "clinic"}})
    changes = {}
    if args.patients is not None:
        changes["population.num_patients"] = args.patients
    if args.days is not None:
        changes["run.days"] = args.days
    if args.seed is not None:
        changes["run.seed"] = args.seed
    if changes:
        config = config.replace(**changes)
    check_target(args.out, args.overwrite)
    shards = plan(config)
    sharded = len(shards) > 1 or args.scheduler is not None or args.resume
    processes = 1
    if sharded and args.scheduler is None:
        from abm.scale.engines import default_workers
        processes = min(len(shards), args.workers or default_workers())
    check_resources(config, args.out, args.format, processes)
    started = time.perf_counter()
    if sharded:
        _run_shards(config, args)
        attacks = None
    else:
        progress = RunProgress(enabled=not args.quiet)
        try:
            result = simulate(config, progress=progress)
            files = 5 if args.format != "seed-csv" else 6
            written: list[str] = []

            def on_file(name: str) -> None:
                written.append(name)
                progress("write", len(written), files)

            write_outputs(result, args.out, fmt=args.format, overwrite=args.overwrite,
                          on_file=on_file)
        finally:
            progress.close()
        attacks = result.attacks.height
    if not args.quiet:
        elapsed = time.perf_counter() - started
        n, d = config.population.num_patients, config.run.days
        what = plural(attacks, "attack") if attacks is not None else plural(len(shards), "shard")
        print(f"abm: {plural(n, 'patient')} x {plural(d, 'day')} -> {args.out}/ ({args.format}, "
              f"{what}) in {elapsed:.2f} s", file=sys.stderr)
    return EXIT_OK


def _run_shards(config: object, args: argparse.Namespace) -> None:
    from abm.progress import ShardProgress
    from abm.scale.engines import DaskEngine, LocalEngine, default_workers
    from abm.scale.sharding import run_sharded

    if args.scheduler is not None:
        engine: object = DaskEngine(args.scheduler, args.workers)
    else:
        engine = LocalEngine(args.workers or default_workers())
    progress = ShardProgress(enabled=not args.quiet)
    try:
        run_sharded(config, args.out, args.format, engine, resume=args.resume,  # type: ignore
                    progress=progress)
    except (KeyboardInterrupt, _Terminated):
        progress.close()
        _RESUMABLE.append(str(args.out))
        raise
    finally:
        progress.close()


def _validate(args: argparse.Namespace) -> int:
    from abm.validation.checks import format_table, validate

    checks = validate(args.folder)
    print(format_table(checks))
    return EXIT_FAILED if any(c.failed for c in checks) else EXIT_OK


_RESUMABLE: list[str] = []  # the output of an interrupted sharded run, for the message


class _Terminated(BaseException):
    """SIGTERM, turned into an exception so that cleanup runs as it does for Ctrl-C."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated()


def _dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse ``argv`` and run the command it names."""
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command == "export":
        from abm.cli.export import run_export

        return run_export(args)
    if args.command == "experiment":
        from abm.cli.experiment import run_experiment_command

        return run_experiment_command(args)
    if args.command == "benchmark":
        from abm.cli.benchmark import run_benchmark_command

        return run_benchmark_command(args)
    if args.command == "config":
        from abm.cli.config import run_config_command

        return run_config_command(args)
    if args.command == "graph":
        from abm.cli.graph import run_graph_command

        return run_graph_command(args)
    return _run(args) if args.command == "run" else _validate(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Messages name command-line options (``--overwrite``), not the Python arguments the same
    checks name for library callers (:mod:`abm.wording`).
    """
    parser = build_parser()
    _RESUMABLE.clear()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with command_line():
            return _dispatch(parser, argv)
    except SystemExit as exc:  # --help and --version print, then argparse exits
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except AbmError as exc:
        print(f"abm: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (KeyboardInterrupt, _Terminated) as exc:
        status = EXIT_INTERRUPTED if isinstance(exc, KeyboardInterrupt) else EXIT_TERMINATED
        word = "interrupted" if status == EXIT_INTERRUPTED else "terminated"
        if _RESUMABLE:
            print(f"abm: {word}; the shards already written are kept: run the same command with "
                  f"--resume to finish {_RESUMABLE[-1]}", file=sys.stderr)
        else:
            print(f"abm: {word}; no output was written or changed", file=sys.stderr)
        return status
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
