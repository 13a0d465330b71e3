"""Bad input, interruptions, failed writes and impossible runs: clear errors, no lost data."""

from __future__ import annotations

import errno
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from abm.cli.app import main

SMALL = ["--patients", "20", "--days", "30", "--quiet"]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".abm-" in p.name)


def _start_long_run(out: Path, *extra: str) -> subprocess.Popen:
    # 40,000 patients in one shard take several seconds here: long enough to be interrupted.
    config = out.parent / "one-shard.toml"
    config.write_text("[run]\nshard_patients = 40000\n")
    return subprocess.Popen([sys.executable, "-m", "abm", "run", "--config", str(config),
                             "--patients", "40000", "--out", str(out), "--quiet", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_a_run_cleanly(tmp_path: Path, signum: int, status: int) -> None:
    out = tmp_path / "out"
    proc = _start_long_run(out)
    time.sleep(2.0)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "no output was written" in err
    assert not out.exists()
    assert _leftovers(tmp_path) == []


def test_signal_stops_a_sharded_run_and_keeps_its_shards_for_resume(tmp_path: Path) -> None:
    out = tmp_path / "out"
    config = tmp_path / "shards.toml"
    config.write_text("[run]\nshard_patients = 2000\n")
    proc = subprocess.Popen([sys.executable, "-m", "abm", "run", "--config", str(config),
                             "--patients", "40000", "--workers", "1", "--out", str(out),
                             "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    time.sleep(3.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err and "--resume" in err
    assert not out.exists()
    assert _leftovers(tmp_path) == [".out.abm-partial"]


def test_interrupted_overwrite_keeps_the_earlier_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["run", *SMALL, "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    proc = _start_long_run(out, "--overwrite")
    time.sleep(2.0)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _leftovers(tmp_path) == []


def test_failed_write_leaves_nothing_and_keeps_earlier_data(tmp_path: Path, monkeypatch,
                                                            capsys) -> None:
    out = tmp_path / "out"
    assert main(["run", *SMALL, "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real = pl.DataFrame.write_parquet
    calls = []

    def fail_on_third(self, file, *args, **kwargs):
        calls.append(file)
        if len(calls) == 3:  # the disk fills up midway through the output
            raise OSError(errno.ENOSPC, "No space left on device", str(file))
        return real(self, file, *args, **kwargs)

    monkeypatch.setattr(pl.DataFrame, "write_parquet", fail_on_third)
    assert main(["run", *SMALL, "--out", str(out), "--seed", "5", "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "nothing was written" in err
    assert len(err.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _leftovers(tmp_path) == []


def test_unwritable_folder_is_refused_up_front(tmp_path: Path, monkeypatch, capsys) -> None:
    real_access = os.access
    locked = tmp_path / "locked"
    locked.mkdir()
    # Tests may run as root, for whom every folder is writable: simulate the permission.
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == locked
                        else real_access(p, mode))
    assert main(["run", *SMALL, "--out", str(locked / "out")]) == 2
    assert "not writable" in capsys.readouterr().err
    assert list(locked.iterdir()) == []


def test_impossible_run_is_refused_with_an_estimate(tmp_path: Path, capsys) -> None:
    # 10^9 patients stream shard by shard, so memory is bounded; the output is not (terabytes)
    out = tmp_path / "out"
    assert main(["run", "--patients", str(10**9), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "1000000000 patients x 180 days" in err and "GiB" in err
    assert not out.exists()


# --- generated configurations: a run either succeeds whole or fails cleanly ----------------

GOOD = {
    ("population", "chronic_ratio"): st.floats(0, 1),
    ("population", "aura_ratio"): st.floats(0, 1),
    ("population", "num_locations"): st.integers(1, 5),
    ("sleep", "mean_hours"): st.floats(5, 9),
    ("stress", "spike_probability"): st.floats(0, 1),
    ("triggers", "stress_effect"): st.floats(0, 3),
    ("feedback.stress", "enabled"): st.booleans(),
    ("weather", "volatility"): st.floats(0, 3),
}
BAD_VALUES = st.sampled_from([math.nan, math.inf, -math.inf, -1, 10**6, "text", True, [1, 2]])


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") \
            if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return str(value)


@st.composite
def configurations(draw) -> tuple[str, bool]:
    """A TOML configuration and whether it is valid."""
    keys = draw(st.lists(st.sampled_from(sorted(GOOD)), unique=True, max_size=4))
    values = {key: draw(GOOD[key]) for key in keys}
    broken = draw(st.sampled_from(["none", "value", "key", "section", "syntax"]))
    if broken == "value" and keys:
        values[keys[0]] = draw(BAD_VALUES)
    sections: dict[str, list[str]] = {"population": ["num_patients = 3"], "run": ["days = 12"]}
    for (section, name), value in values.items():
        sections.setdefault(section, []).append(f"{name} = {_toml_value(value)}")
    if broken == "key":
        sections["population"].append("num_patiens = 3")
    if broken == "section":
        sections["bogus"] = ["x = 1"]
    text = "\n".join(f"[{s}]\n" + "\n".join(lines) for s, lines in sections.items()) + "\n"
    if broken == "syntax":
        text += "[population\n"
    valid = broken == "none" or (broken == "value" and not keys)
    if broken == "value" and keys:
        section, name = keys[0]
        bad = values[keys[0]]
        # a bad value for a bool field may be another bool; these are still valid
        valid = name == "enabled" and isinstance(bad, bool)
    return text, valid


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(configurations())
def test_no_configuration_gives_a_traceback_or_partial_output(tmp_path: Path, generated) -> None:
    text, valid = generated
    case = Path(tempfile.mkdtemp(dir=tmp_path))
    config = case / "config.toml"
    config.write_text(text)
    out = case / "out"
    proc = subprocess.run([sys.executable, "-m", "abm", "run", "--config", str(config),
                           "--out", str(out), "--quiet"], capture_output=True, text=True,
                          check=False)
    assert "Traceback" not in proc.stderr
    if valid:
        assert proc.returncode == 0, proc.stderr
        assert (out / "manifest.json").is_file()
    else:
        assert proc.returncode == 2
        assert len(proc.stderr.strip().splitlines()) == 1
        assert not out.exists()
    assert _leftovers(case) == []
