"""The ``abm`` command: runs, validates, and refuses bad input with exit 2 and nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from abm.cli.app import main

SMALL = ["--patients", "30", "--days", "40", "--quiet"]


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_run_writes_every_frame_and_manifest(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["run", *SMALL, "--out", str(out)]) == 0
    assert _files(out) == ["attacks.parquet", "causal_graph.json", "daily.parquet",
                           "events.parquet", "manifest.json", "observed.parquet",
                           "patients.parquet", "weather.parquet"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows"]["daily"] == 30 * 40 == pl.read_parquet(out / "daily.parquet").height
    assert manifest["config"]["population"]["num_patients"] == 30
    assert manifest["seed"] == 42
    assert set(manifest["files"]) == set(_files(out)) - {"manifest.json"}
    # nothing is left beside the output
    assert _files(tmp_path) == ["out"]


def test_csv_and_seed_csv_layouts(tmp_path: Path) -> None:
    assert main(["run", *SMALL, "--out", str(tmp_path / "c"), "--format", "csv"]) == 0
    assert "daily.csv" in _files(tmp_path / "c")
    assert main(["run", *SMALL, "--out", str(tmp_path / "s"), "--format", "seed-csv"]) == 0
    assert _files(tmp_path / "s") == sorted(["causal_graph.json", "combined_data.csv",
                                             "manifest.json",
                                             "migraine_events.csv", "patient_profiles.csv",
                                             "sleep_data.csv", "stress_diet_data.csv",
                                             "weather_data.csv"])
    import pandas as pd
    sleep = pd.read_csv(tmp_path / "s" / "sleep_data.csv")
    assert list(sleep.columns) == ["patient_id", "date", "total_sleep_hours", "deep_sleep_pct",
                                   "rem_sleep_pct", "light_sleep_pct", "awake_time_mins",
                                   "sleep_quality", "sleep_efficiency"]
    profiles = pd.read_csv(tmp_path / "s" / "patient_profiles.csv")
    for column in ("patient_id", "age", "sex", "is_chronic", "base_frequency",
                   "with_aura_ratio", "trigger_susceptibility"):
        assert column in profiles.columns
    assert len(pd.read_csv(tmp_path / "s" / "combined_data.csv")) == 30 * 40


def test_existing_output_needs_overwrite_and_is_replaced_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["run", *SMALL, "--out", str(out)]) == 0
    before = (out / "daily.parquet").read_bytes()
    assert main(["run", *SMALL, "--out", str(out), "--seed", "1"]) == 2
    assert (out / "daily.parquet").read_bytes() == before
    assert main(["run", *SMALL, "--out", str(out), "--seed", "1", "--overwrite"]) == 0
    assert (out / "daily.parquet").read_bytes() != before
    assert json.loads((out / "manifest.json").read_text())["seed"] == 1
    assert _files(tmp_path) == ["out"]


def test_overwrite_never_replaces_a_foreign_folder(tmp_path: Path, capsys) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    assert main(["run", *SMALL, "--out", str(out), "--overwrite"]) == 2
    assert "not an abm output" in capsys.readouterr().err
    assert _files(out) == ["thesis.tex"]


@pytest.mark.parametrize("args, words", [
    (["run", "--patients", "0"], "--patients must be at least 1"),
    (["run", "--patients", "ten"], "--patients must be a whole number"),
    (["run", "--days", "-3"], "--days must be at least 1"),
    (["run", "--seed", "-1"], "--seed must be in"),
    (["run", "--format", "xlsx"], "invalid choice"),
    (["run", "--bogus"], "unrecognized argument --bogus"),
    (["frobnicate"], "unknown command 'frobnicate'"),
])
def test_bad_options_exit_2_with_one_line(tmp_path: Path, capsys, args, words) -> None:
    out = tmp_path / "out"
    assert main([*args, "--out", str(out)] if args[0] == "run" else args) == 2
    err = capsys.readouterr().err.strip()
    assert words in err
    assert len(err.splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("toml, words", [
    ("[population]\nchronic_ratio = 1.5\n", "population.chronic_ratio must be in [0, 1], got 1.5"),
    ("[population]\nnum_patient = 5\n", "unknown setting population.num_patient"),
    ("[weather]\nvolatility = nan\n", "weather.volatility must be a finite number"),
    ("[run]\ndays = 'long'\n", "run.days must be an integer"),
    ("[population\n", "malformed TOML"),
])
def test_bad_config_files_exit_2(tmp_path: Path, capsys, toml, words) -> None:
    config = tmp_path / "c.toml"
    config.write_text(toml)
    out = tmp_path / "out"
    assert main(["run", "--config", str(config), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_bad_paths_exit_2(tmp_path: Path, capsys) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(["run", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["run", *SMALL, "--out", str(a_file)]) == 2
    assert "is a file" in capsys.readouterr().err
    assert main(["validate", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["validate", str(tmp_path)]) == 2
    assert "no manifest.json" in capsys.readouterr().err


def test_validate_reports_pass_and_fail(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["run", *SMALL, "--out", str(out)]) == 0
    status = main(["validate", str(out)])
    table = capsys.readouterr().out
    for row in ("chronic share", "label agreement", "aura share", "trigger effect: weather",
                "triggers recomputable", "consistency", "determinism", "learnability"):
        assert row in table
    # 30 patients are too few for every target, so some fail and the status says so
    assert status == (0 if "FAIL" not in table else 1)
    assert "determinism" in table and "identical" in table


def test_validate_names_damaged_missing_and_foreign_files(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["run", *SMALL, "--out", str(out)]) == 0
    capsys.readouterr()
    daily = pl.read_parquet(out / "daily.parquet")
    daily.with_columns(pl.col("sleep_trigger").not_()).write_parquet(out / "daily.parquet")
    assert main(["validate", str(out)]) == 2
    err = capsys.readouterr().err
    assert "daily.parquet" in err and "changed" in err and len(err.strip().splitlines()) == 1

    assert main(["run", *SMALL, "--out", str(out), "--overwrite"]) == 0
    data = (out / "events.parquet").read_bytes()
    (out / "events.parquet").write_bytes(data[: len(data) // 2])
    assert main(["validate", str(out)]) == 2
    assert "events.parquet: changed since it was written (truncated" in capsys.readouterr().err

    assert main(["run", *SMALL, "--out", str(out), "--overwrite"]) == 0
    (out / "attacks.parquet").unlink()
    assert main(["validate", str(out)]) == 2
    assert "attacks.parquet: missing" in capsys.readouterr().err

    assert main(["run", *SMALL, "--out", str(out), "--overwrite"]) == 0
    (out / "notes.txt").write_text("mine")
    assert main(["validate", str(out)]) == 2
    assert "notes.txt: not part of this output" in capsys.readouterr().err


def test_console_script_and_module_entry_point(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "abm", "run", *SMALL, "--out", str(out)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert (out / "manifest.json").is_file()
    helped = subprocess.run([sys.executable, "-m", "abm", "run", "--help"], capture_output=True,
                            text=True, check=False)
    for option in ("--config", "--patients", "--days", "--seed", "--out", "--format",
                   "--overwrite"):
        assert option in helped.stdout
