"""Large runs in shards: each shard of patients is simulated alone and written as part files.

A run of more than ``run.shard_patients`` patients is split into shards of consecutive patients.
Patients are independent and their random streams are keyed by patient index
(``abm.engine.streams``), and every shard computes the same location weather, so a shard's rows
are exactly the rows those
patients have in a run of the whole cohort: the data for a seed is the same however many shards,
workers or machines produce it. Each shard streams its frames to part files, so peak memory is
bounded by the shard, not the cohort.

Layout of a sharded output (each frame is one dataset that ``pl.scan_parquet("OUT/daily")``,
DuckDB's ``read_parquet('OUT/daily/*.parquet')`` and ``pandas.read_parquet("OUT/daily")`` read)::

    OUT/manifest.json                       written last
    OUT/causal_graph.json                   the model's causal graph, written once
    OUT/<frame>/part-00000.parquet          one part per shard (weather: one part)

While it runs, the output lives in a hidden staging folder beside ``OUT``
(``.OUT.abm-partial``): a part file appears there only when whole (written under a temporary name,
then renamed), a shard counts as done when its marker ``shards/NNNNN.json`` exists, and the
manifest is written last, when the staging folder is renamed to ``OUT``. An interrupted run
(Ctrl-C, a killed worker, a lost machine) never looks complete, and ``--resume`` finishes it by
running only the shards that are not done; the result equals an uninterrupted run. The events of
each part are in time order; order by ``time`` to merge parts.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from abm import wording
from abm.config.settings import Config
from abm.errors import OutputError
from abm.output.files import file_record, is_partial, swap_into_place, write_atomic

PARTIAL_SUFFIX = ".abm-partial"
MARKERS = "shards"
RUN_FILE = "run.json"
FRAMES = ("patients", "daily", "weather", "attacks", "events", "observed")


@dataclass(frozen=True)
class Shard:
    """Patients ``first … first + count - 1`` of a run, written as part ``index``."""

    index: int
    first: int
    count: int


def plan(config: Config) -> list[Shard]:
    """The shards of a run, in patient order (they depend on the configuration only)."""
    n, size = config.population.num_patients, config.run.shard_patients
    return [Shard(i, first, min(size, n - first)) for i, first in enumerate(range(0, n, size))]


def staging_folder(out: Path) -> Path:
    """Where a sharded run into ``out`` is assembled (the same path on every attempt)."""
    out = out.absolute()
    return out.parent / f".{out.name}{PARTIAL_SUFFIX}"


def part_name(frame: str, shard: int, fmt: str) -> str:
    """Relative path of a frame's part file."""
    return f"{frame}/part-{shard:05d}.{fmt}"


def run_shard(config: Config, shard: Shard, staging: str, fmt: str) -> dict:
    """Simulate one shard and write its part files and marker; return the marker.

    Runs in a worker process (local or Dask): everything it needs comes in its arguments.
    """
    from abm.engine.model import Model
    from abm.engine.simulation import build_cohort, run_agents
    from abm.output.recorder import record
    from abm.output.write import write_frame

    started = time.perf_counter()
    root = Path(staging)
    cohort = build_cohort(Model.build(config),
                          patients=range(shard.first, shard.first + shard.count))
    run_agents(cohort)
    result = record(cohort, weather_events=shard.index == 0, release=True)
    files = {}
    for name, frame in result.frames().items():
        if name == "weather" and shard.index != 0:
            continue  # the same in every shard: written once
        rel = part_name(name, shard.index, fmt)
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda p, f=frame: write_frame(f, p, fmt))
        files[rel] = {**file_record(path), "rows": frame.height}
    marker = {"shard": shard.index, "first": shard.first, "count": shard.count,
              "files": files, "seconds": round(time.perf_counter() - started, 3)}
    markers = root / MARKERS
    markers.mkdir(exist_ok=True)
    write_atomic(markers / f"{shard.index:05d}.json",
                 lambda p: p.write_text(json.dumps(marker), encoding="utf-8"))
    return marker


def done_markers(staging: Path) -> dict[int, dict]:
    """Markers of the shards already written in ``staging``."""
    found = {}
    folder = staging / MARKERS
    if folder.is_dir():
        for path in folder.glob("*.json"):
            try:
                marker = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # a damaged marker: that shard runs again
            if all((staging / rel).is_file() for rel in marker.get("files", {})):
                found[int(marker["shard"])] = marker
    return found


def prepare(config: Config, out: Path, fmt: str, resume: bool) -> Path:
    """The staging folder of a run into ``out``: new, or an unfinished one to resume."""
    staging = staging_folder(out)
    run_file = staging / RUN_FILE
    wanted = {"format": fmt, "config": config.to_dict()}
    if staging.exists():
        if not resume:
            raise OutputError(f"{staging}: an unfinished run into {out} is there; pass "
                              f"{wording.switch('--resume')} to finish it, or delete that folder "
                              "to start again")
        try:
            recorded = json.loads(run_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise OutputError(f"{run_file}: unreadable; delete {staging} to start again") from None
        if recorded != wanted:
            raise OutputError(f"{staging}: the unfinished run was started with another "
                              "configuration or format; use the same options to resume, or "
                              "delete that folder")
        return staging
    if resume:
        raise OutputError(f"{out}: no unfinished run to resume (no {staging.name} beside it)")
    staging.mkdir(parents=True)
    write_atomic(run_file, lambda p: p.write_text(json.dumps(wanted), encoding="utf-8"))
    return staging


def finish(config: Config, fmt: str, staging: Path, out: Path, markers: Iterable[dict]) -> None:
    """Write the manifest (last) and move the finished output into place."""
    from abm import __version__
    from abm.engine.model import Model
    from abm.output.causal_graph import GRAPH_FILE, write_graph
    from abm.output.write import MANIFEST

    files: dict[str, dict] = {}
    rows = dict.fromkeys(FRAMES, 0)
    for marker in sorted(markers, key=lambda m: m["shard"]):
        for rel, record in marker["files"].items():
            files[rel] = {"sha256": record["sha256"], "bytes": record["bytes"]}
            rows[rel.split("/", 1)[0]] += record["rows"]
    # every shard runs the built-in model of the configuration: one graph for the whole run
    files[GRAPH_FILE] = write_graph(staging, Model.build(config), write_atomic)
    manifest = {"abm_version": __version__, "format": fmt, "layout": "parts",
                "seed": config.run.seed, "shards": len(plan(config)), "rows": rows,
                "files": files, "config": config.to_dict()}
    shutil.rmtree(staging / MARKERS, ignore_errors=True)
    (staging / RUN_FILE).unlink(missing_ok=True)
    # a worker killed while writing leaves its temporary file; the retry wrote the part again
    for path in staging.rglob("*"):
        if is_partial(path) and path.is_file():
            path.unlink()
    write_atomic(staging / MANIFEST,
                 lambda p: p.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8"))
    swap_into_place(staging, out)


def run_sharded(config: Config, out: Path, fmt: str, engine: object, resume: bool = False,
                progress: Callable[[int, int, int], None] | None = None) -> dict[int, dict]:
    """Run every shard not yet done on ``engine``, then finish the output.

    ``progress(shards_done, shards_total, patient_days_done)`` is called as shards finish.
    """
    if fmt not in ("parquet", "csv"):
        raise OutputError(f"{wording.option('--format', 'fmt')} {fmt} is written as single "
                          "files; sharded runs (more than run.shard_patients = "
                          f"{wording.plural(config.run.shard_patients, 'patient')}) write parquet "
                          "or csv")
    shards = plan(config)
    staging = prepare(config, out, fmt, resume)
    done = done_markers(staging)
    days = config.run.days

    def report() -> None:
        if progress:
            progress(len(done), len(shards), sum(m["count"] for m in done.values()) * days)

    def on_done(marker: dict) -> None:
        done[int(marker["shard"])] = marker
        report()

    report()
    todo = [s for s in shards if s.index not in done]
    engine.run(config, todo, str(staging), fmt, on_done)  # type: ignore[attr-defined]
    finish(config, fmt, staging, out, done.values())
    return done
