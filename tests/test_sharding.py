"""Sharded runs: the same data for any number of workers and engines; resume; killed workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

import abm
from abm.cli.app import main
from abm.config.settings import Config
from abm.output.write import read_manifest, verify_files
from abm.scale.engines import LocalEngine
from abm.scale.sharding import plan, prepare, run_sharded, staging_folder

FRAMES = ("patients", "daily", "weather", "attacks", "events")


def _config_file(tmp_path: Path, shard_patients: int) -> Path:
    path = tmp_path / "shards.toml"
    path.write_text(f"[run]\nshard_patients = {shard_patients}\ndays = 40\n")
    return path


def _read(out: Path) -> dict[str, pl.DataFrame]:
    return {f: pl.read_parquet(out / f / "*.parquet") for f in FRAMES}


def _same(a: dict[str, pl.DataFrame], b: dict[str, pl.DataFrame]) -> bool:
    return all(a[f].equals(b[f]) for f in FRAMES)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, dict[str, pl.DataFrame]]:
    tmp = tmp_path_factory.mktemp("ref")
    out = tmp / "one"
    assert main(["run", "--config", str(_config_file(tmp, 25)), "--patients", "90", "--out",
                 str(out), "--workers", "1", "--quiet"]) == 0
    return tmp, _read(out)


def test_shards_cover_the_cohort_in_order() -> None:
    shards = plan(Config().replace(**{"population.num_patients": 90, "run.shard_patients": 25}))
    assert [(s.first, s.count) for s in shards] == [(0, 25), (25, 25), (50, 25), (75, 15)]


def test_layout_and_equality_with_an_unsharded_run(reference) -> None:
    tmp, frames = reference
    out = tmp / "one"
    assert sorted(p.name for p in (out / "daily").iterdir()) == [
        f"part-{i:05d}.parquet" for i in range(4)]
    assert [p.name for p in (out / "weather").iterdir()] == ["part-00000.parquet"]
    whole = abm.simulate(Config().replace(**{"population.num_patients": 90, "run.days": 40}))
    for name in ("patients", "daily", "weather", "attacks"):
        assert frames[name].equals(getattr(whole, name)), name
    # the event log holds the same rows; each part is in time order
    assert frames["events"].height == whole.events.height
    for part in sorted((out / "events").iterdir()):
        assert pl.read_parquet(part)["time"].is_sorted()
    assert pl.scan_parquet(out / "daily").select(pl.len()).collect().item() == 90 * 40
    assert all(c.passed for c in abm.validate(out) if c.name in (
        "triggers recomputable", "consistency", "determinism"))


@pytest.mark.parametrize("workers", [2, 4])
def test_any_number_of_workers_gives_the_same_data(reference, tmp_path: Path,
                                                    workers: int) -> None:
    tmp, frames = reference
    out = tmp_path / "out"
    assert main(["run", "--config", str(_config_file(tmp_path, 25)), "--patients", "90",
                 "--out", str(out), "--workers", str(workers), "--quiet"]) == 0
    assert _same(_read(out), frames)


def test_dask_local_cluster_gives_the_same_data(reference, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    tmp, frames = reference
    out = tmp_path / "out"
    assert main(["run", "--config", str(_config_file(tmp_path, 25)), "--patients", "90",
                 "--out", str(out), "--scheduler", "local", "--workers", "2", "--quiet"]) == 0
    assert _same(_read(out), frames)


class _StopAfter(LocalEngine):
    """An engine that is interrupted (as by Ctrl-C) after ``shards`` shards."""

    def __init__(self, shards: int) -> None:
        super().__init__(1)
        self.left = shards

    def run(self, config, shards, staging, fmt, on_done) -> None:
        def counting(marker: dict) -> None:
            on_done(marker)
            self.left -= 1
            if self.left == 0:
                raise KeyboardInterrupt
        super().run(config, shards, staging, fmt, counting)


def test_interrupted_run_never_looks_complete_and_resume_finishes_it(reference,
                                                                      tmp_path: Path) -> None:
    tmp, frames = reference
    config = Config().replace(**{"population.num_patients": 90, "run.days": 40,
                                 "run.shard_patients": 25})
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_sharded(config, out, "parquet", _StopAfter(2))
    assert not out.exists()  # nothing where the output is expected
    staging = staging_folder(out)
    assert len(list((staging / "daily").glob("part-*.parquet"))) == 2
    assert not (staging / "manifest.json").exists()
    # resuming runs only the missing shards and gives the uninterrupted result
    started = {p.name: p.stat().st_mtime_ns for p in (staging / "daily").iterdir()}
    assert main(["run", "--config", str(_config_file(tmp_path, 25)), "--patients", "90",
                 "--out", str(out), "--resume", "--quiet"]) == 0
    assert not staging.exists()
    assert (out / "manifest.json").is_file()
    for name, mtime in started.items():
        assert (out / "daily" / name).stat().st_mtime_ns == mtime
    assert _same(_read(out), frames)


def test_resume_errors(tmp_path: Path, capsys) -> None:
    config_file = _config_file(tmp_path, 25)
    out = tmp_path / "out"
    assert main(["run", "--config", str(config_file), "--patients", "90", "--out", str(out),
                 "--resume", "--quiet"]) == 2
    assert "no unfinished run to resume" in capsys.readouterr().err
    config = Config().replace(**{"population.num_patients": 90, "run.days": 40,
                                 "run.shard_patients": 25})
    with pytest.raises(KeyboardInterrupt):
        run_sharded(config, out, "parquet", _StopAfter(1))
    # a fresh run must not silently mix with the unfinished one
    assert main(["run", "--config", str(config_file), "--patients", "90", "--out", str(out),
                 "--quiet"]) == 2
    assert "--resume" in capsys.readouterr().err
    # resuming with another configuration is refused
    assert main(["run", "--config", str(config_file), "--patients", "90", "--seed", "7",
                 "--out", str(out), "--resume", "--quiet"]) == 2
    assert "another configuration" in capsys.readouterr().err
    assert not out.exists()


def _workers_of(pid: int) -> list[int]:
    """Worker processes started by ``pid`` (spawned pool workers, not the resource tracker)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read()
        except OSError:
            continue
        if ppid == pid and b"spawn_main" in cmdline:
            found.append(int(entry))
    return found


def _kill_a_worker(proc: subprocess.Popen, settle_seconds: float) -> None:
    """Wait for ``proc``'s worker processes, let them get into their shards, kill one."""
    deadline = time.time() + 60
    while not _workers_of(proc.pid) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(settle_seconds)
    victims = _workers_of(proc.pid)
    assert victims and proc.poll() is None, "no running worker process to kill"
    os.kill(victims[-1], signal.SIGKILL)


@pytest.mark.parametrize("engine, patients, settle_seconds", [
    (["--workers", "2"], 6000, 1.0),                          # a local pool worker
    (["--scheduler", "local", "--workers", "2"], 12000, 2.5),  # a Dask worker; the cluster
])                                                             # starts first
def test_a_killed_worker_is_retried_and_the_data_is_unchanged(
        tmp_path: Path, engine: list[str], patients: int, settle_seconds: float) -> None:
    if "--scheduler" in engine:
        pytest.importorskip("distributed")
    config_file = tmp_path / "c.toml"
    config_file.write_text("[run]\nshard_patients = 400\ndays = 120\n")
    args = ["--config", str(config_file), "--patients", str(patients), "--quiet"]
    proc = subprocess.Popen([sys.executable, "-m", "abm", "run", *args, *engine,
                             "--out", str(tmp_path / "killed")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _kill_a_worker(proc, settle_seconds)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert main(["run", *args, "--workers", "1", "--out", str(tmp_path / "calm")]) == 0
    assert _same(_read(tmp_path / "killed"), _read(tmp_path / "calm"))
    # every file of the output is in its manifest, whatever the killed worker left behind
    verify_files(tmp_path / "killed", read_manifest(tmp_path / "killed"))


def test_a_temporary_file_left_by_a_killed_writer_is_not_part_of_the_output(
        tmp_path: Path) -> None:
    config = Config().replace(**{"population.num_patients": 60, "run.days": 20,
                                 "run.shard_patients": 25})
    out = tmp_path / "out"
    staging = prepare(config, out, "parquet", resume=False)
    (staging / "daily").mkdir()
    (staging / "daily" / ".part-00001.parquet.abm-partial-0123456789ab").write_bytes(b"half")
    run_sharded(config, out, "parquet", LocalEngine(1), resume=True)
    verify_files(out, read_manifest(out))
    assert not any(p.name.startswith(".") for p in out.rglob("*"))


def test_workers_share_the_cores_among_their_polars_threads(monkeypatch) -> None:
    from abm.scale import engines

    monkeypatch.setattr(engines, "cores", lambda: 8)
    assert [engines.polars_threads(k) for k in (1, 2, 3, 8, 16)] == ["8", "4", "2", "1", "1"]
    assert engines.default_workers() == 8
    monkeypatch.setattr(engines, "cores", lambda: 32)
    assert engines.default_workers() == 8
