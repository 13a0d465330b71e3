"""Writing an experiment's outputs to a folder, whole or not at all.

Files (all in ``OUT/``):

- ``results.parquet``, ``results.csv``: the tidy frame, one row per variant, replicate and metric;
- ``summary.parquet``, ``summary.csv``, ``summary.md``: per variant and metric, the mean over
  replicates with its 95% interval, and the paired difference from the reference;
- ``patient_days.parquet``: migraine days per 30 days of every patient in every run;
- ``risk_ratios.png``, ``migraine_days.png``, ``timeline.png``: the figures
(``abm.experiments.figures``);
- ``manifest.json``: the experiment's definition, package version, seeds, wall time and the
  SHA-256 and size of every file.

Everything is written to a hidden staging folder beside ``OUT`` and renamed into place once
complete, the same protocol as ``abm run`` (``abm.output.write``). An existing folder is replaced
only with ``overwrite`` and only if it holds an earlier experiment output; anything else is refused
before any work is done (:func:`check_output`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from abm.output.files import check_folder, file_record, write_folder
from abm.output.write import MANIFEST
from abm.wording import plural


class ExperimentResult(Protocol):
    """What is written of an experiment's result (``abm.experiments.experiment``): this module
    reads these attributes only, so it needs no import of the runner that makes results."""

    experiment: Any
    results: Any
    summary: Any
    patient_days: Any
    workers: int
    wall_seconds: float

    def timeline(self) -> Any:
        """The timeline to draw."""



def _is_experiment_output(folder: Path) -> bool:
    try:
        return bool(json.loads((folder / MANIFEST).read_text("utf-8")).get("abm_experiment"))
    except (OSError, ValueError, AttributeError):
        return False


def check_output(out: Path, overwrite: bool) -> None:
    """Refuse an output folder that cannot or must not be written, before running anything."""
    check_folder(out, overwrite, "--out", lambda entries: None if _is_experiment_output(out)
                 else "holds files that are not an abm experiment output")


def _write_files(result: ExperimentResult, folder: Path) -> None:
    import polars as pl

    from abm.experiments import figures
    from abm.experiments.metrics import long_table

    e = result.experiment
    result.results.write_parquet(folder / "results.parquet")
    result.results.write_csv(folder / "results.csv")
    result.summary.write_parquet(folder / "summary.parquet")
    result.summary.write_csv(folder / "summary.csv")
    result.patient_days.write_parquet(folder / "patient_days.parquet")
    names = e.metric_names
    (folder / "summary.md").write_text(
        f"# {e.name}\n\n{e.description}\n\n{plural(len(e.variants), 'variant')} x "
        f"{plural(e.replicates, 'replicate')} (seeds {e.seeds[0]}-{e.seeds[-1]}); reference: "
        f"{e.reference}; baselines "
        f"{'pinned to the reference' if e.pin_baselines else 'calibrated per run'}.\n\n"
        + long_table(result.summary) + "\n", encoding="utf-8")
    if any(m.startswith("risk_ratio_") for m in names):
        figures.risk_ratio_forest(result.summary, folder / "risk_ratios.png",
                                  f"{e.name}: risk ratio per trigger by variant")
    first = result.patient_days.filter(result.patient_days["replicate"] == 0)
    per_variant = {v: first.filter(pl.col("variant").cast(pl.String) == v)
                   ["migraine_days_per_month"].to_numpy() for v in e.variant_names}
    figures.migraine_days_boxplot(per_variant, folder / "migraine_days.png",
                                  f"{e.name}: migraine days per 30 days, patients of seed "
                                  f"{e.seeds[0]}")
    figures.timeline_plot(result.timeline(), folder / "timeline.png")


def write_experiment(result: ExperimentResult, out: Path, overwrite: bool = False) -> Path:
    """Write every output file of ``result`` to ``out`` through a staging folder."""
    check_output(out, overwrite)

    def fill(staging: Path) -> None:
        _write_files(result, staging)
        files = {p.name: file_record(p) for p in sorted(staging.iterdir())}
        (staging / MANIFEST).write_text(_manifest(result, files), encoding="utf-8")

    write_folder(out, fill)
    return out


def _manifest(result: ExperimentResult, files: Mapping[str, Mapping[str, Any]]) -> str:
    """The manifest.json text: the definition, versions, seeds, wall time, files."""
    import platform

    import matplotlib
    import numpy as np
    import polars as pl

    from abm import __version__

    e = result.experiment
    record = {
        "abm_experiment": True,
        "abm_version": __version__,
        "experiment": e.to_dict(),
        "seeds": list(e.seeds),
        "metrics": list(e.metric_names),
        "runs": len(e.variants) * e.replicates,
        "workers": result.workers,
        "wall_seconds": round(result.wall_seconds, 3),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "polars": pl.__version__,
        "matplotlib": matplotlib.__version__,
        "files": dict(files),
    }
    return json.dumps(record, indent=2) + "\n"
