"""Writing a result to disk, and reading it back.

Formats:

- ``parquet`` (default): ``OUT/<frame>.parquet`` for each frame (``observed`` among them: what the
  observation layer recorded);
- ``csv``: ``OUT/<frame>.csv`` for each frame;
- ``seed-csv``: the user's design layout, ``patient_profiles.csv``, ``migraine_events.csv``,
  one file per modality as the components declare (``seed_file``: ``sleep_data.csv``,
  ``weather_data.csv``, ``stress_diet_data.csv``), and the per-patient-day ``combined_data.csv``
  that the design left unwritten.

Every folder gets ``causal_graph.json``, the model's causal graph (``abm.output.causal_graph``),
and ``manifest.json``: configuration, seed, package version, row count of every frame, the SHA-256
and size of every file, which ``abm validate`` checks before reading, and the components'
declarations (``abm.output.declared``), so that a folder made with components of the user's own
reads and exports with their columns. The
folder is written whole or not at all: everything goes to a hidden staging folder beside the
target, which is renamed into place only when complete; an existing output is replaced (with
``overwrite``) only at that moment, so a failed run leaves the earlier data intact. A folder that
holds anything but an ``abm`` output is never replaced.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

from abm.config.settings import Config
from abm.errors import ConfigError, InputError
from abm.output import declared, schemas
from abm.output.causal_graph import FIGURE_FILES, GRAPH_FILE, model_of, write_graph
from abm.output.files import check_folder, file_record, sha256, write_folder
from abm.wording import plural

FORMATS = ("parquet", "csv", "seed-csv")
MANIFEST = "manifest.json"


def check_target(out: Path, overwrite: bool, option: str = "--out") -> None:
    """Refuse an output path that cannot or must not be written, before any work is done;
    ``option`` names the path in messages (``abm.wording.option``)."""
    check_folder(out, overwrite, option, lambda entries: None if MANIFEST in entries
                 else "holds files that are not an abm output")


def write_frame(frame: pl.DataFrame, path: Path, fmt: str) -> None:
    """Write one frame as ``fmt``: ``parquet`` (zstd level 1) or ``csv`` (enums as text)."""
    if fmt == "parquet":
        frame.write_parquet(path, compression="zstd", compression_level=1)
    else:
        _csv_ready(frame).write_csv(path)


def _csv_ready(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col(pl.Enum).cast(pl.String))


def _seed_frames(frames: dict[str, pl.DataFrame], model: Any) -> dict[str, pl.DataFrame]:
    """The seed document's CSV layout, column names as it names them: the profiles with each
    trigger's susceptibility, the attacks, one file per ``seed_file`` that components declare
    (their daily columns, in the components' order), and the whole ``daily`` frame."""
    p = frames["patients"]
    daily = frames["daily"]
    susceptibility_columns = [rf.susceptibility_column for rf in model.risk_factors]
    parts: list[pl.Expr] = []
    for i, rf in enumerate(model.risk_factors):
        parts += [pl.lit(("{" if i == 0 else ", ") + f"'{rf.trigger}': "),
                  pl.col(rf.susceptibility_column).cast(pl.String)]
    susceptibility = pl.concat_str([*parts, pl.lit("}")]) if parts else pl.lit("{}")
    profiles = p.select(
        "patient_id", "age", "sex", "is_chronic",
        base_frequency=pl.col("target_migraine_days_per_month") / 30.0,
        with_aura_ratio=pl.col("with_aura"),
        trigger_susceptibility=susceptibility,
    ).hstack(p.select("location_id", "target_migraine_days_per_month", *susceptibility_columns))
    events = frames["attacks"].select(
        "patient_id", date=pl.col("onset").dt.date(), with_aura=pl.col("with_aura"),
        severity=pl.col("severity"), duration=pl.col("duration_hours"),
        attack_id=pl.col("attack_id"), onset=pl.col("onset"), end=pl.col("end"))
    key = ["patient_id", "date"]
    by_file: dict[str, list[str]] = {}
    for component in model.components:
        if component.seed_file:
            by_file.setdefault(component.seed_file, []).extend(
                col.name for col in component.outputs() if col.frame == "daily")
    return {
        "patient_profiles.csv": profiles,
        "migraine_events.csv": events,
        **{name: daily.select(*key, *columns) for name, columns in by_file.items()},
        "combined_data.csv": daily,
    }


def write_outputs(result: object, out: str | Path, fmt: str = "parquet",
                  overwrite: bool = False,
                  on_file: Callable[[str], None] | None = None) -> Path:
    """Write ``result``'s frames to the folder ``out`` in ``fmt``; return the folder."""
    from abm import __version__

    if fmt not in FORMATS:
        raise ConfigError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    out = Path(out)
    check_target(out, overwrite)
    frames: dict[str, pl.DataFrame] = result.frames()  # type: ignore[attr-defined]
    config: Config = result.config  # type: ignore[attr-defined]
    model = model_of(result)
    if fmt == "seed-csv":
        to_write = _seed_frames(frames, model)
    else:
        to_write = {f"{name}.{fmt}": frame for name, frame in frames.items()}

    def fill(staging: Path) -> None:
        def write(filename: str) -> dict:
            path = staging / filename
            write_frame(to_write[filename], path, "csv" if fmt == "seed-csv" else fmt)
            return file_record(path)

        files: dict[str, dict] = {}
        # Polars writes without holding the interpreter lock: files are written side by side.
        pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1))
        try:
            futures = {name: pool.submit(write, name) for name in to_write}
            for filename, future in futures.items():
                files[filename] = future.result()
                if on_file:
                    on_file(filename)
        finally:  # on Ctrl-C or an error, the files not yet begun are not written at all
            pool.shutdown(wait=True, cancel_futures=True)
        files[GRAPH_FILE] = write_graph(staging, model)
        manifest = {
            "abm_version": __version__,
            "format": fmt,
            "seed": config.run.seed,
            "rows": {name: frame.height for name, frame in frames.items()},
            "files": files,
            "config": config.to_dict(),
            "model": declared.record(model),
        }
        with open(staging / MANIFEST, "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=2)
            handle.write("\n")

    write_folder(out, fill)
    return out


def read_manifest(folder: Path) -> dict:
    """The manifest of an output folder, or an :class:`InputError` saying what is wrong."""
    if not folder.exists():
        raise InputError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise InputError(f"{folder}: is a file; expected an abm output folder")
    path = folder / MANIFEST
    if not path.is_file():
        raise InputError(f"{folder}: no {MANIFEST}; not an abm output (or an unfinished one)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: unreadable manifest ({exc})") from None
    if not isinstance(manifest, dict) or "config" not in manifest or "format" not in manifest:
        raise InputError(f"{path}: not an abm manifest")
    return manifest


def verify_files(folder: Path, manifest: dict) -> None:
    """Check every file against the manifest: missing, truncated, edited or foreign files."""
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise InputError(f"{folder / MANIFEST}: lists no files")
    for name, record in listed.items():
        path = folder / name
        if not path.is_file():
            raise InputError(f"{path}: missing (listed in {MANIFEST})")
        if not isinstance(record, dict) or "sha256" not in record:
            raise InputError(f"{folder / MANIFEST}: no checksum for {name}")
        size, expected = path.stat().st_size, record.get("bytes")
        if expected is not None and size != expected:
            detail = (f"truncated, {size} of {plural(expected, 'byte')}" if size < expected
                      else f"{plural(size, 'byte')} instead of {expected}")
            raise InputError(f"{path}: changed since it was written ({detail})")
        if sha256(path) != record["sha256"]:
            raise InputError(f"{path}: changed since it was written (SHA-256 differs from "
                             f"{MANIFEST})")
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if rel in FIGURE_FILES:
            continue  # drawn from the output by ``abm graph``, not part of it
        if path.is_file() and rel != MANIFEST and rel not in listed:
            raise InputError(f"{path}: not part of this output (not in {MANIFEST})")


def read_outputs(folder: Path) -> tuple[dict[str, pl.DataFrame], Config]:
    """Read the frames of a ``parquet`` or ``csv`` output folder and its configuration.

    Every file is first checked against the manifest's checksums (:func:`verify_files`).
    """
    frames, config, _model = read_run(folder)
    return frames, config


def read_run(folder: Path) -> tuple[dict[str, pl.DataFrame], Config, Any]:
    """The frames, configuration and model of a ``parquet`` or ``csv`` output folder: the model
    declares the components that made it, the user's own included
    (:func:`abm.output.declared.model_of`), and the frames are read in its schemas."""
    manifest = read_manifest(folder)
    verify_files(folder, manifest)
    try:
        config = Config.from_dict(manifest["config"])
    except ConfigError as exc:
        raise InputError(f"{folder / MANIFEST}: invalid configuration ({exc})") from None
    model = declared.model_of(manifest, config, str(folder / MANIFEST))
    fmt = manifest["format"]
    if fmt not in ("parquet", "csv"):
        raise InputError(f"{folder}: format {fmt!r} cannot be validated; write with "
                         "--format parquet or csv")
    frames = {}
    for name in schemas.FRAME_NAMES:
        single = folder / f"{name}.{fmt}"
        parts = sorted((folder / name).glob(f"part-*.{fmt}")) if (folder / name).is_dir() else []
        if not single.is_file() and not parts:
            if name == "observed" and name not in manifest.get("rows", {}):
                continue  # written before the observation layer: the truth only
            raise InputError(f"{single}: missing")
        paths = [single] if single.is_file() else parts
        path = paths[0]
        want = schemas.schema(name, model)
        try:
            pieces = []
            for path in paths:
                if fmt == "parquet":
                    piece = pl.read_parquet(path)
                else:
                    overrides = {c: (pl.String if isinstance(t, pl.Enum | pl.Categorical) else t)
                                 for c, t in want.items()}
                    piece = pl.read_csv(path, schema_overrides=overrides)
                pieces.append(piece.select([pl.col(c).cast(t) for c, t in want.items()]))
            frame = pl.concat(pieces)
        except Exception as exc:  # any reader failure means a damaged or foreign file
            raise InputError(f"{path}: unreadable ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
        frames[name] = frame
    return frames, config, model
