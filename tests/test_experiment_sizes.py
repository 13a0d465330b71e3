"""``--patients``, ``--days`` and ``--replicates`` run an experiment design at another size: the
command, the experiment scripts and ``Experiment.resized``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from abm import Config
from abm.cli.app import main
from abm.cli.experiment import run_script
from abm.errors import ConfigError
from abm.experiments.experiment import Experiment, load_experiment

ROOT = Path(__file__).resolve().parents[1]


def test_resized_changes_the_base_and_the_replicates_only() -> None:
    e = load_experiment(ROOT / "experiments" / "feedback.toml")
    small = e.resized(patients=20, days=30, replicates=2)
    assert (small.base.population.num_patients, small.base.run.days, small.replicates) == \
        (20, 30, 2)
    assert small.variants == e.variants and small.metrics == e.metrics
    assert small.base.replace(**{"population.num_patients": 1000, "run.days": 180}) == e.base
    assert e.resized() == e
    assert small.config("doubled").feedback.stress.points == (2, 4)


def test_a_variant_that_sets_its_own_size_keeps_it() -> None:
    e = Experiment(name="x", variants={"a": {}, "long": {"run.days": 60}},
                   base=Config().replace(**{"run.days": 40}), pin_baselines=False)
    small = e.resized(days=10)
    assert small.config("a").run.days == 10 and small.config("long").run.days == 60


def test_resized_is_checked_like_any_experiment() -> None:
    e = load_experiment(ROOT / "experiments" / "feedback.toml")
    with pytest.raises(ConfigError, match="replicates must be a whole number >= 1"):
        e.resized(replicates=0)
    with pytest.raises(ConfigError, match="population.num_patients"):
        e.resized(patients=0)


def test_the_command_runs_the_file_at_the_given_size(tmp_path: Path, capsys) -> None:
    out = tmp_path / "small"
    assert main(["experiment", str(ROOT / "experiments" / "feedback.toml"), "--patients", "12",
                 "--days", "20", "--replicates", "2", "--workers", "1", "--out", str(out),
                 "--quiet"]) == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seeds"] == [42, 43] and manifest["runs"] == 6
    assert manifest["experiment"]["base"]["population"]["num_patients"] == 12
    assert manifest["experiment"]["base"]["run"]["days"] == 20
    assert main(["experiment", str(ROOT / "experiments" / "feedback.toml"), "--days", "0"]) == 2
    assert "--days must be at least 1" in capsys.readouterr().err


def test_a_resized_script_run_gets_its_own_default_folder(tmp_path: Path, capsys) -> None:
    def build(size: str) -> Experiment:
        patients = {"full": 5000, "quick": 400}[size]
        return Experiment(name="demo", variants={"a": {}, "b": {"triggers.diet_effect": 0.0}},
                          base=Config().replace(**{"population.num_patients": patients}),
                          metrics=("migraine_days",))

    script = tmp_path / "demo.py"
    argv = ["--patients", "10", "--days", "15", "--replicates", "2", "--workers", "1", "--quiet"]
    assert run_script(str(script), "Demo.", build, [{"migraine_days_per_month_mean": "days"}],
                      argv) == 0
    assert (tmp_path / "results" / "demo-10x15x2" / "manifest.json").exists()
    assert not (tmp_path / "results" / "demo").exists()
    assert "## demo (resized): 10 patients x 15 days x 2 replicates" in capsys.readouterr().out
    assert run_script(str(script), "Demo.", build, [{"migraine_days_per_month_mean": "days"}],
                      ["--quick", *argv]) == 0
    assert (tmp_path / "results" / "demo-quick-10x15x2" / "manifest.json").exists()
