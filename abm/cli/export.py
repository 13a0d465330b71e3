"""The ``abm export`` subcommand: ``abm export eventlog`` and ``abm export fusemoe``.

:func:`add_export_parser` adds the subcommand to the ``abm`` parser's subparsers (its
sub-subcommands use the same parser class, so usage errors are reported as ``abm run``'s are) and
:func:`run_export` runs the parsed command. Bad input raises :class:`~abm.errors.AbmError`
before anything is written; the ``abm`` command turns it into one line on stderr and exit
status 2. Wiring it into ``abm.cli.app``::

    from abm.cli.export import add_export_parser, run_export
    add_export_parser(sub)                                  # in build_parser()
    if args.command == "export": return run_export(args)    # in main(), before run/validate

Only ``argparse`` and ``pathlib`` are imported here, so ``abm --help`` stays instant; the
exporters (Polars, NumPy) are imported when a command runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from abm.cli.options import whole_number
from abm.wording import plural

EVENTLOG_FORMATS = ("xes", "ocel", "parquet", "csv")


def _common(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("folder", metavar="OUT", type=Path,
                        help="output folder of abm run, written with --format parquet or csv "
                        "(its checksums are verified first)")
    parser.add_argument("--overwrite", action="store_true",
                        help=f"replace an existing {what} (only once the new one is complete)")
    parser.add_argument("--quiet", action="store_true", help="no summary line on stderr")
    parser.add_argument("--truth", action="store_true",
                        help="export the truth (the daily frame: every value on every day) "
                        "instead of what the diary, the wearable and the weather service "
                        "recorded (the observed frame, the default)")


def _eventlog_parser(kinds: argparse._SubParsersAction) -> None:
    parser = kinds.add_parser(
        "eventlog", help="the event log as XES, OCEL 2.0 JSON, Parquet or CSV",
        description="Write the event log of an abm run folder for process-mining tools. "
        "xes: IEEE 1849-2016 XES, one trace per patient (concept:name = patient id), each "
        "patient event with concept:name = event kind, time:timestamp (UTC) and its attributes "
        "(sleep, stress, diet, trigger, attack severity and aura, feedback rule); weather events "
        "belong to locations and are left out. ocel: OCEL 2.0 JSON with object types patient, "
        "location, attack and trigger (one per patient and trigger type, id P0000:sleep) and "
        "every event linked to the objects it involves. parquet, csv: the events frame. "
        "By default the log events (stress, diet, sleep) and their attributes are what was "
        "observed: a day the diary or the wearable recorded nothing has no such event, and the "
        "values are as recorded; --truth exports every value of every day. Onsets, attacks and "
        "triggers are the truth either way. The file "
        "is written under a temporary name and renamed into place when complete.")
    _common(parser, "--to file")
    parser.add_argument("--format", metavar="FORMAT", default=None,
                        help=f"one of {', '.join(EVENTLOG_FORMATS)}; default: from --to's "
                        "suffix (.xes, .jsonocel or .json, .parquet, .csv)")
    parser.add_argument("--to", metavar="FILE", type=Path, required=True,
                        help="the file to write, outside OUT; an existing file is replaced "
                        "only with --overwrite")


def _positive_number(name: str):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not value > 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{name} must be a number > 0, got {text!r}")
        return value
    return parse


def _fusemoe_parser(kinds: argparse._SubParsersAction) -> None:
    parser = kinds.add_parser(
        "fusemoe", help="per-patient-day prediction samples for FuseMoE",
        description="Write train_<task>_stays.pkl, val_<task>_stays.pkl and "
        "test_<task>_stays.pkl in the layout of FuseMoE's MIMIC-IV loader, plus fusemoe.json "
        "(features, training statistics, split). One sample per patient and label day: the "
        "window of W days before it as an irregular series (ts_tt, irg_ts, irg_ts_mask: 30 "
        "columns), reg_ts None (FuseMoE recomputes it; --hourly-grid writes it), label 1 if an "
        "attack starts on the label day; with --diary-vectors also the diary entries as "
        "FuseMoE's CXR modality (cxr_feats, cxr_time, cxr_missing). Label days with an attack "
        "already under way at midnight are not at risk and are dropped. Patients are split "
        "70/15/15 (seeded); values are z-scored with the training split's statistics. By "
        "default the values are what was observed (the observed frame): a value the diary, the "
        "wearable or the weather service did not record has mask 0, and a recorded value is "
        "placed at its entry time (diary_time, wearable_time); --truth exports the daily "
        "frame's values at fixed hours. Labels are the truth either way. The size is estimated "
        "first and an export above --max-gb is refused unless --force. Run FuseMoE "
        "(src/scripts/main_mimiciv.py) with --file_path DIR --task NAME --tt_max 24*W "
        "--num_labels 2 --modeltype TS --embed_dim 128 --num_heads 8 --irregular_learn_emb_ts "
        "--reg_ts, or --modeltype TS_CXR with --diary-vectors (the README gives the flags). The "
        "pickles load with NumPy 1.x and 2.x. The folder is written whole or not at all.")
    _common(parser, "export in --to")
    parser.add_argument("--to", metavar="DIR", type=Path, required=True,
                        help="the folder to write, outside OUT; one holding an earlier fusemoe "
                        "export is replaced only with --overwrite, any other is refused")
    parser.add_argument("--window-days", metavar="W", type=whole_number("--window-days", 1),
                        default=2, help="days of observations before the label day (default "
                        "2, i.e. tt_max = 48 hours)")
    parser.add_argument("--task", metavar="NAME", default="ihm-migraine",
                        help="task name in the file names (default ihm-migraine); must contain "
                        "'ihm', the binary task FuseMoE's models share")
    parser.add_argument("--seed", metavar="S", type=whole_number("--seed", 0), default=None,
                        help="seed of the patient split (default: the run's seed)")
    parser.add_argument("--hourly-grid", action="store_true",
                        help="write reg_ts as the hourly grid (24*W x 60: values carried "
                        "forward, then the mask) instead of None; FuseMoE does not read it "
                        "(it recomputes the grid with --reg_ts), other readers may; about 12 kB "
                        "a sample more")
    parser.add_argument("--diary-vectors", action="store_true",
                        help="also write each window's diary entries as FuseMoE's CXR modality "
                        "(cxr_feats: one 1024-d row per day with an entry, cxr_time, "
                        "cxr_missing), for --modeltype TS_CXR; about 4 kB a diary day more")
    parser.add_argument("--max-gb", metavar="G", type=_positive_number("--max-gb"),
                        default=1.0, help="refuse an export whose estimated size is above G "
                        "gigabytes (default 1), writing nothing")
    parser.add_argument("--force", action="store_true",
                        help="write the export whatever its estimated size")


def add_export_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``export`` (with ``eventlog`` and ``fusemoe``) to ``subparsers``; return it."""
    export = subparsers.add_parser(
        "export", help="export an output folder for process-mining tools or FuseMoE",
        description="Export an abm run folder: 'abm export eventlog OUT --to FILE' for "
        "process mining (XES, OCEL 2.0, Parquet, CSV), 'abm export fusemoe OUT --to DIR' for "
        "FuseMoE. 'abm export KIND --help' explains each.")
    kinds = export.add_subparsers(dest="export_command", metavar="KIND", required=True)
    _eventlog_parser(kinds)
    _fusemoe_parser(kinds)
    return export


def _size(count: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"


def run_export(args: argparse.Namespace) -> int:
    """Run ``abm export eventlog`` or ``abm export fusemoe``; return the exit status (0)."""
    started = time.perf_counter()
    if args.export_command == "eventlog":
        from abm.exports.eventlog import export_eventlog

        done = export_eventlog(args.folder, args.to, args.format, args.overwrite, args.truth)
        line = (f"{plural(done.events, 'event', spec=',')} -> {args.to} ({done.fmt}, "
                f"{_size(done.bytes)})")
    else:
        from abm.exports.fusemoe import Layout, export_fusemoe

        summary = export_fusemoe(args.folder, args.to, args.window_days, args.task, args.seed,
                                 args.overwrite, Layout(args.hourly_grid, args.diary_vectors),
                                 args.max_gb, args.force, args.truth)
        counts = "/".join(f"{n:,}" for n in summary.samples.values())
        line = (f"{counts} samples (train/val/test) -> {args.to}/ ({_size(summary.bytes)}, "
                f"estimated {_size(summary.estimate)})")
    if not args.quiet:
        print(f"abm: {line} in {time.perf_counter() - started:.2f} s", file=sys.stderr)
    return 0
