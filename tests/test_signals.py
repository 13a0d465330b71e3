"""Ctrl-C and a killed main process, with real processes: runs stop at once and leave no workers.

Each test starts ``python -m abm run`` in a session of its own, as a terminal starts a job, then
sends Ctrl-C to the whole process group, workers included, as a terminal does; or SIGINT to the
main process alone (``kill -INT PID``); or SIGKILL to the main process alone, as an out-of-memory
killer does. The shards are long enough that a run which waited for the shards under way, or
for the one queued next, would take well over ``STOP_SECONDS`` to stop. Linux only (``/proc``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import abm
from abm.cli.app import main
from abm.output.files import file_record
from abm.scale.sharding import MARKERS, staging_folder

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

STOP_SECONDS = 2.0     # Ctrl-C to exit status 130
ORPHAN_SECONDS = 5.0   # SIGKILL of the main process to the last worker gone
ROOT = Path(abm.__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

# (configuration file, patients, shards)
#: three shards of about 2 CPU seconds and a small last one; with a worker for each, the small
#: one is done first and the others are under way
MEDIUM = ("[run]\nshard_patients = 3300\n", "10200", 4)
MEDIUM_POOL = ["--workers", "4"]
#: shards of about 3 CPU seconds (two under way, one queued); the run is never finished
LONG = ("[run]\nshard_patients = 6000\n", "18000", 3)
#: shards of a fraction of a second: the run is soon under way
SHORT = ("[run]\nshard_patients = 250\ndays = 60\n", "10000", 40)
POOL = ["--workers", "2"]
DASK = ["--scheduler", "local", "--workers", "2"]


def _options(tmp_path: Path, size: tuple[str, str, int]) -> list[str]:
    """``--config FILE --patients N`` of a run of ``size``."""
    path = tmp_path / "shards.toml"
    path.write_text(size[0])
    return ["--config", str(path), "--patients", size[1]]


def _start(tmp_path: Path, out: Path, size: tuple[str, str, int], engine: list[str],
           output: int = subprocess.PIPE) -> subprocess.Popen:
    """``abm run`` in a session of its own (its process group is the terminal's job)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "abm", "run", *_options(tmp_path, size),
                             "--out", str(out), "--quiet", *engine], cwd=ROOT, env=env,
                            start_new_session=True, stdout=output, stderr=output, text=True)


def _stat(pid: int) -> list[str]:
    """Fields of ``/proc/PID/stat`` after the command name (state, ppid, pgrp, ...)."""
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().rsplit(")", 1)[1].split()


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie waiting for its exit to be collected does not)."""
    try:
        return _stat(pid)[0] != "Z"
    except OSError:
        return False


def _workers(pid: int) -> list[int]:
    """The worker processes ``pid`` started (a local pool's or a LocalCluster's: spawned)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(_stat(int(entry))[1])
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    spawned = b"spawn_main" in handle.read()
            except OSError:
                continue
            if parent == pid and spawned and _alive(int(entry)):
                found.append(int(entry))
    return found


def _cpu_seconds(pid: int) -> float:
    try:
        fields = _stat(pid)
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def _done_markers(out: Path) -> list[Path]:
    folder = staging_folder(out) / MARKERS
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def _running(proc: subprocess.Popen, deadline: float) -> None:
    assert proc.poll() is None, f"the run ended (status {proc.returncode}) before it could " \
                                "be stopped"
    assert time.monotonic() < deadline, "the run did not get under way within a minute"
    time.sleep(0.05)


def _wait_for_a_shard(proc: subprocess.Popen, out: Path) -> list[Path]:
    """Wait until a shard is done (its marker written) while the run goes on."""
    deadline = time.monotonic() + 60
    while not _done_markers(out):
        _running(proc, deadline)
    return _done_markers(out)


def _wait_for_busy_workers(proc: subprocess.Popen, cpu_seconds: float = 1.0) -> list[int]:
    """Wait until two workers have each computed ``cpu_seconds`` (more than their start-up
    takes, so they are inside their shards)."""
    deadline = time.monotonic() + 60
    while True:
        workers = _workers(proc.pid)
        if len(workers) == 2 and min(map(_cpu_seconds, workers)) >= cpu_seconds:
            return workers
        _running(proc, deadline)


def _group(pgid: int) -> list[int]:
    """The running processes of process group ``pgid`` (the run and all it started)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(_stat(int(entry))[2]) == pgid and _alive(int(entry)):
                    found.append(int(entry))
            except OSError:
                continue
    return found


def _kill_group(proc: subprocess.Popen) -> None:
    """Leave nothing running that the test started, whatever a failure left behind."""
    for pid in _group(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=60)


def _stop(proc: subprocess.Popen, signum: int, group: bool) -> tuple[float, str, list[int]]:
    """Send ``signum`` to the process group (a terminal's Ctrl-C) or the main process alone;
    return the seconds to the main process's exit, its stderr, and the worker processes still
    running when it exited."""
    workers = _workers(proc.pid)
    assert workers, "no worker processes to stop"
    sent = time.monotonic()
    if group:
        os.killpg(proc.pid, signum)
    else:
        proc.send_signal(signum)
    try:
        _, err = proc.communicate(timeout=60)
        seconds = time.monotonic() - sent
        return seconds, err, [pid for pid in workers if _alive(pid)]
    finally:
        _kill_group(proc)


def _interrupted(proc: subprocess.Popen, seconds: float, err: str, running: list[int]) -> None:
    """Exit status 130 within STOP_SECONDS, no worker left, one line saying how to resume."""
    assert proc.returncode == 130, err
    assert seconds < STOP_SECONDS, f"took {seconds:.2f} s to stop"
    assert not running, "worker processes outlived the run"
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("abm: interrupted") and "--resume" in last, err


def _files(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())["files"]


@pytest.fixture(scope="module")
def calm(tmp_path_factory) -> dict:
    """The files (name -> checksum, size) of the MEDIUM run, uninterrupted."""
    tmp = tmp_path_factory.mktemp("calm")
    assert main(["run", *_options(tmp, MEDIUM), "--out", str(tmp / "out"), *MEDIUM_POOL,
                 "--quiet"]) == 0
    return _files(tmp / "out")


def test_an_interrupted_run_keeps_its_finished_shards_and_resume_completes_it(
        tmp_path: Path, calm: dict) -> None:
    """``kill -INT`` of the main process alone: the workers never see the signal, so the main
    process stops them; the shards finished before are kept whole and --resume finishes the
    run, byte for byte the uninterrupted one."""
    out = tmp_path / "out"
    proc = _start(tmp_path, out, MEDIUM, MEDIUM_POOL)
    finished = _wait_for_a_shard(proc, out)
    seconds, err, running = _stop(proc, signal.SIGINT, group=False)
    _interrupted(proc, seconds, err, running)
    assert len(err.strip().splitlines()) == 1, err
    assert not out.exists()  # nothing looks complete
    kept = _done_markers(out)
    assert set(finished) <= set(kept) and len(kept) < MEDIUM[2]
    staging = staging_folder(out)
    for marker in kept:
        for rel, record in json.loads(marker.read_text())["files"].items():
            assert file_record(staging / rel) == {k: record[k] for k in ("sha256", "bytes")}
    assert main(["run", *_options(tmp_path, MEDIUM), "--out", str(out), "--resume",
                 *MEDIUM_POOL, "--quiet"]) == 0
    assert _files(out) == calm


@pytest.mark.parametrize("engine", [POOL, DASK], ids=["local-pool", "dask"])
def test_ctrl_c_stops_a_sharded_run_at_once(tmp_path: Path, engine: list[str]) -> None:
    """Ctrl-C in a terminal reaches the workers too: they leave it to the main process."""
    if engine is DASK:
        pytest.importorskip("distributed")
    out = tmp_path / "out"
    proc = _start(tmp_path, out, LONG, engine)
    _wait_for_busy_workers(proc)
    seconds, err, running = _stop(proc, signal.SIGINT, group=True)
    _interrupted(proc, seconds, err, running)
    if engine is POOL:  # a LocalCluster may warn about a dashboard port another one holds
        assert len(err.strip().splitlines()) == 1, err
    assert not out.exists() and (staging_folder(out) / "run.json").is_file()


@pytest.mark.parametrize("engine", [POOL, DASK], ids=["local-pool", "dask"])
def test_workers_of_a_killed_main_process_exit_on_their_own(tmp_path: Path,
                                                            engine: list[str]) -> None:
    if engine is DASK:
        pytest.importorskip("distributed")
    out = tmp_path / "out"
    proc = _start(tmp_path, out, SHORT, engine, output=subprocess.DEVNULL)
    try:
        _wait_for_a_shard(proc, out)
        workers = _workers(proc.pid)
        assert len(workers) == 2
        proc.kill()
        proc.wait(timeout=60)
        deadline = time.monotonic() + ORPHAN_SECONDS
        while [pid for pid in workers if _alive(pid)] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in workers if _alive(pid)], "workers outlived the main process"
    finally:
        _kill_group(proc)


def test_experiment_workers_of_a_killed_main_process_exit_on_their_own(tmp_path: Path) -> None:
    """``abm experiment`` starts its workers through a fork server: none of them, nor the fork
    server, outlives a killed main process."""
    spec = tmp_path / "e.toml"
    spec.write_text('name = "e"\nreplicates = 3\n[base]\npopulation.num_patients = 1000\n'
                    '[variants.on]\n[variants.off]\n"feedback.stress.enabled" = false\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "abm", "experiment", str(spec), "--workers",
                             "2", "--out", str(tmp_path / "out"), "--quiet"], cwd=ROOT, env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:  # two workers computing
            started = [pid for pid in _group(proc.pid) if pid != proc.pid]
            if sum(_cpu_seconds(pid) >= 1.0 for pid in started) >= 2:
                break
            _running(proc, deadline)
        proc.kill()
        proc.wait(timeout=60)
        deadline = time.monotonic() + ORPHAN_SECONDS
        while [pid for pid in started if _alive(pid)] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in started if _alive(pid)], "processes outlived the main process"
    finally:
        _kill_group(proc)
