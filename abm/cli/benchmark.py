"""The ``abm benchmark OUT`` command: the oracle and the baselines on the FuseMoE export's split,
as a table a model builder compares their model with.

The models are those of ``abm validate``'s ceiling rows (``abm.validation.ceiling``): the
ground-truth onset probability (the oracle), a logistic regression on attack history, one on the
observed features of day d, and one on both. They are fitted on the training patients and
scored on the test patients' at-risk label days, from the first label day of a W-day window on
(the days the FuseMoE export makes samples of), so the test days are the export's test samples.
The split is read from ``--fusemoe DIR`` (its ``fusemoe.json``), or made as the export makes it
(``abm.exports.fusemoe.split_patients``, 70/15/15 with the run's seed or ``--seed``).

The table is printed as Markdown; ``--to FILE`` also writes it as CSV, under a temporary name
renamed into place when complete. Bad input is one line and exit status 2, checked before
anything is written.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from abm.cli.options import whole_number

COLUMNS = ("model", "auroc", "auroc_low", "auroc_high", "auprc", "onsets", "days")
MODELS = (("oracle", "oracle (ground-truth p_onset)"), ("history", "attack history"),
          ("features", "observed features"), ("both", "history + observed features"))


def add_benchmark_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``benchmark`` subcommand to ``subparsers`` (from ``add_subparsers``)."""
    parser = subparsers.add_parser(
        "benchmark", help="AUROC of the oracle and baselines on the FuseMoE export's test "
        "patients", description="Fit the baselines of abm validate's ceiling rows on the "
        "training patients of an abm run and score them on its test patients: the oracle (the "
        "ground-truth onset probability, the ceiling no model beats in expectation), a logistic "
        "regression on attack history (days since the last onset, onsets in the last 7 and 28 "
        "days, onsets so far per day, a migraine on day d), one on the features of day d as "
        "the diary, the wearable and the weather service recorded them (missing values: the "
        "patient's last recorded value plus a missing indicator), and one on both. Each "
        "predicts an onset on day d+1 on the at-risk days (no attack under way at their "
        "start) from the first label day of a W-day window on: the samples of abm export "
        "fusemoe. Prints a Markdown table of AUROC (95% CI: DeLong's variance with patients "
        "as clusters) and AUPRC; --to writes it as CSV. The split is that of --fusemoe DIR, "
        "else the one abm export fusemoe makes (70/15/15, seeded).")
    parser.add_argument("folder", metavar="OUT", type=Path,
                        help="output folder of abm run, written with --format parquet or csv")
    parser.add_argument("--fusemoe", metavar="DIR", type=Path, default=None,
                        help="a FuseMoE export of OUT (abm export fusemoe OUT --to DIR): use its "
                        "split and window from DIR/fusemoe.json")
    parser.add_argument("--seed", metavar="S", type=whole_number("--seed", 0), default=None,
                        help="seed of the patient split without --fusemoe (default: the run's "
                        "seed, as abm export fusemoe)")
    parser.add_argument("--window-days", metavar="W", type=whole_number("--window-days", 1),
                        default=None, help="the first label day is day W (default 2, as abm "
                        "export fusemoe; with --fusemoe, the export's)")
    parser.add_argument("--to", metavar="FILE", type=Path, default=None,
                        help="also write the table as CSV (e.g. benchmark.csv), outside OUT; an "
                        "existing file is replaced only with --overwrite")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing --to file (only once the new one is complete)")
    parser.add_argument("--quiet", action="store_true", help="no summary line on stderr")
    return parser


def _read_split(folder: Path, ids: list[str]) -> tuple[dict[str, Any], int]:
    """The export's split (row indices into ``ids``) and window days, from ``fusemoe.json``."""
    import json

    import numpy as np

    from abm.errors import InputError
    from abm.exports.fusemoe import META, SPLITS

    path = folder / META
    if not path.is_file():
        raise InputError(f"{folder}: no {META}; --fusemoe must name the folder abm export "
                         "fusemoe wrote")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        window = int(meta["window_days"])
        lists = {s: [str(p) for p in meta["splits"][s]["patients"]] for s in SPLITS}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a fusemoe.json abm export fusemoe writes ({exc})") \
            from None
    row = {pid: i for i, pid in enumerate(ids)}
    unknown = [p for s in SPLITS for p in lists[s] if p not in row]
    if unknown or sum(len(v) for v in lists.values()) != len(ids):
        raise InputError(f"{path}: its split is not of this run's {len(ids)} patients (unknown "
                         f"patients such as {unknown[0]!r})" if unknown else
                         f"{path}: its split has {sum(len(v) for v in lists.values())} "
                         f"patients, this run {len(ids)}; export this run with abm export "
                         "fusemoe")
    return {s: np.sort(np.array([row[p] for p in lists[s]], dtype=np.int64))
            for s in SPLITS}, window


def benchmark(folder: Path, fusemoe: Path | None = None, seed: int | None = None,
              window_days: int | None = None) -> list[dict[str, Any]]:
    """The table's rows (``COLUMNS``) for the run in ``folder``; see the module."""
    import numpy as np
    import polars as pl

    from abm.engine.model import Model
    from abm.errors import InputError
    from abm.exports import atomic
    from abm.exports.fusemoe import WINDOW_DAYS, split_patients
    from abm.validation.ceiling import at_risk_days, measure

    frames, config, recorded = atomic.load_run(folder)
    model = Model.build(config)
    own = [c.name for c in recorded.components if c.name not in {m.name for m in model.components}]
    if own:
        raise InputError(f"{folder}: made with components of your own ({', '.join(own)}), whose "
                         "code an output folder does not hold; the oracle cannot be recomputed")
    patients = frames["patients"]
    ids = patients["patient_id"].cast(pl.String).to_list()
    n, days = patients.height, config.run.days
    if fusemoe is not None:
        if seed is not None:
            raise InputError("--seed makes a split; with --fusemoe the split is the export's: "
                             "leave --seed out")
        split, window = _read_split(fusemoe, ids)
        if window_days is not None and window_days != window:
            raise InputError(f"--window-days {window_days} disagrees with the export's "
                             f"{window} ({fusemoe}); leave it out")
    else:
        split = split_patients(n, config.run.seed if seed is None else seed)
        window = WINDOW_DAYS if window_days is None else window_days
    if window >= days:
        raise InputError(f"--window-days must be less than the run's {days} days, got {window}")
    daily = frames["daily"].sort(["patient_id", "date"])
    frames = {**frames, "daily": daily, "patients": patients}
    data = at_risk_days(frames, model, n, days)
    # the label days of the FuseMoE export: day window on (column window - 1 of the d+1 matrix)
    data.at_risk[:, :window - 1] = False
    # the matrices are in patient_id order, the split in the patients frame's order
    order = {pid: i for i, pid in enumerate(daily["patient_id"].cast(pl.String)
                                             .gather_every(days).to_list())}
    to_rows = np.array([order[p] for p in ids], dtype=np.int64)
    c = measure(data, to_rows[split["train"]], to_rows[split["test"]])
    rows = []
    for key, label in MODELS:
        s = getattr(c, key)
        rows.append({"model": label, "auroc": s.auroc, "auroc_low": s.low,
                     "auroc_high": s.high, "auprc": s.auprc, "onsets": s.onsets,
                     "days": s.days})
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table."""
    def number(x: float) -> str:
        return "n/a" if x != x else f"{x:.3f}"

    lines = ["| model | AUROC | 95% CI | AUPRC | onsets | at-risk days |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        ci = "n/a" if r["auroc_low"] != r["auroc_low"] else \
            f"{r['auroc_low']:.3f}-{r['auroc_high']:.3f}"
        lines.append(f"| {r['model']} | {number(r['auroc'])} | {ci} | {number(r['auprc'])} | "
                     f"{r['onsets']:,} | {r['days']:,} |")
    return "\n".join(lines)


def run_benchmark_command(args: argparse.Namespace) -> int:
    """Run ``abm benchmark``; return the exit status (0). Bad input raises AbmError."""
    import polars as pl

    from abm.exports import atomic
    from abm.output.files import check_file, write_file

    started = time.perf_counter()
    if args.to is not None:
        atomic.check_outside(args.to, args.folder, "--to")
        check_file(args.to, args.overwrite, "--to")
    rows = benchmark(args.folder, args.fusemoe, args.seed, args.window_days)
    print(markdown(rows))
    if args.to is not None:
        table = pl.DataFrame(rows, schema={"model": pl.String, "auroc": pl.Float64,
                                           "auroc_low": pl.Float64, "auroc_high": pl.Float64,
                                           "auprc": pl.Float64, "onsets": pl.Int64,
                                           "days": pl.Int64})
        write_file(args.to, lambda path: table.write_csv(path))
    if not args.quiet:
        where = f" -> {args.to}" if args.to is not None else ""
        print(f"abm: benchmark of {args.folder}{where} in {time.perf_counter() - started:.2f} s",
              file=sys.stderr)
    return 0
