"""What a new user meets first: a configuration to start from, the version, hints for typos,
clear refusals, messages in the caller's terms, and counts in proper English."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest

import abm
from abm import wording
from abm.cli.app import main
from abm.config.settings import Config, describe, load_config
from abm.config.toml import description, to_toml, value

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--patients", "6", "--days", "5", "--quiet"]


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


# --- abm config ------------------------------------------------------------------------------

def test_abm_config_prints_every_default_and_reads_back_unchanged(tmp_path: Path,
                                                                  capsys) -> None:
    assert main(["config"]) == 0
    text = capsys.readouterr().out
    path = tmp_path / "cohort.toml"
    path.write_text(text, encoding="utf-8")
    assert load_config(path) == Config()
    # every setting is given, each preceded by what it accepts, its default and its source
    lines = text.splitlines()
    for name, default, source in describe():
        key = name.rsplit(".", 1)[1]
        at = lines.index(f"{key} = {value(default)}", lines.index(f"[{name.rsplit('.', 1)[0]}]"))
        notes = []
        for line in reversed(lines[:at]):
            if not line.startswith("#"):
                break
            notes.insert(0, line[2:].strip())
        note = " ".join(notes)
        assert f"default {value(default)}" in note, name
        assert " ".join(source.split()) in note, name
    assert "SPEC" not in text and "LITERATURE" not in text
    assert max(len(line) for line in lines) <= 100


def test_abm_config_round_trips_a_changed_configuration(tmp_path: Path, capsys) -> None:
    changed = Config().replace(**{
        "population.num_patients": 12345, "population.age_years": [30, 31],
        "weather.volatility": 1e-7, "sleep.awake_median_minutes": 0.1 + 0.2,
        "stress.spike_points": [1, 9], "feedback.stress.enabled": False,
        "feedback.sleep.extra_hours": -4.75, "run.start_date": "1999-12-31",
        "run.seed": 2**63 - 1})
    assert Config.from_dict(tomllib.loads(to_toml(changed))) == changed
    assert Config.from_dict(tomllib.loads(to_toml(changed, comments=False))) == changed
    # --from a partial TOML file: its settings, every other one filled in with the default
    partial = tmp_path / "partial.toml"
    partial.write_text("[run]\ndays = 9\n[feedback.sleep]\nenabled = true\n")
    assert main(["config", "--from", str(partial)]) == 0
    full = tmp_path / "full.toml"
    full.write_text(capsys.readouterr().out)
    assert load_config(full) == Config().replace(**{"run.days": 9,
                                                     "feedback.sleep.enabled": True})
    # --from an output folder: the configuration its manifest records
    out = tmp_path / "out"
    assert main(["run", *TINY, "--seed", "5", "--out", str(out)]) == 0
    assert main(["config", "--from", str(out), "--out", str(tmp_path / "again.toml")]) == 0
    assert load_config(tmp_path / "again.toml") == load_config(full).replace(**{
        "run.days": 5, "run.seed": 5, "population.num_patients": 6,
        "feedback.sleep.enabled": False})


def test_abm_config_out_writes_whole_and_overwrites_only_when_asked(tmp_path: Path,
                                                                     capsys) -> None:
    target = tmp_path / "new" / "cohort.toml"
    assert main(["config", "--out", str(target)]) == 0
    assert load_config(target) == Config()
    target.write_text("# mine\n")
    assert main(["config", "--out", str(target)]) == 2
    err = _one_line(capsys.readouterr().err)
    assert str(target) in err and "--overwrite" in err
    assert target.read_text() == "# mine\n"
    assert main(["config", "--out", str(target), "--overwrite"]) == 0
    assert load_config(target) == Config()
    assert main(["config", "--out", str(tmp_path)]) == 2
    assert "is a folder" in _one_line(capsys.readouterr().err)
    assert main(["config", "--from", str(tmp_path / "missing.toml"), "--out",
                 str(tmp_path / "x.toml")]) == 2
    assert "not found" in _one_line(capsys.readouterr().err)
    # no temporary or probe file is left anywhere
    assert _files(tmp_path) == ["new"] and _files(tmp_path / "new") == ["cohort.toml"]


def test_every_section_has_a_description() -> None:
    # every table of the file is preceded by a comment saying what it holds, taken from the
    # docstring of the section its component declares
    text = to_toml().splitlines()
    tables = [i for i, line in enumerate(text) if line.startswith("[")]
    assert [text[i][1:-1] for i in tables][-1] == "run" and len(tables) >= 9
    for i in tables:
        above = i
        while above > 0 and text[above - 1].startswith("# "):
            above -= 1
        assert len(" ".join(text[above:i])) > 40, text[i]
    assert description(abm.Config().run).startswith("How long")


# --- example files ---------------------------------------------------------------------------

def test_files_the_readmes_use_are_shipped_and_valid() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    docs = readme + (ROOT / "README_experiments.md").read_text(encoding="utf-8")
    used = set(re.findall(r"(?:--config |load_config\(\")([\w./-]+\.toml)", docs))
    used |= set(re.findall(r"\b((?:examples|experiments)/[a-z][\w.-]*\.(?:toml|py))\b", docs))
    made = set(re.findall(r"(?:> |--out )([\w./-]+\.toml)", docs))  # written by the user first
    assert "examples/cohort.toml" in used and "my.toml" in made
    used -= made
    for name in sorted(used):
        assert (ROOT / name).is_file(), f"{name} is used in a README but not shipped"
    examples = sorted((ROOT / "examples").glob("*.toml"))
    for path in examples:
        load_config(path)
    # the README shows the example file as it is
    assert "```toml\n" + (ROOT / "examples" / "cohort.toml").read_text() + "```" in readme


# --- SyntheticDataGenerator ------------------------------------------------------------------

def test_generator_refuses_to_replace_an_earlier_output(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "data"
    assert main(["run", *TINY, "--out", str(out)]) == 0
    before = {name: (out / name).read_bytes() for name in _files(out)}

    def no_simulation(*args: object, **kwargs: object) -> None:
        raise AssertionError("simulated before checking the output folder")

    monkeypatch.setattr("abm.compat.simulate", no_simulation)
    generator = abm.SyntheticDataGenerator(num_patients=4, days=3, output_dir=str(out))
    with pytest.raises(abm.OutputError) as refused:
        generator.generate_data()
    message = _one_line(str(refused.value))
    assert str(out) in message and "overwrite=True" in message and "--" not in message
    assert {name: (out / name).read_bytes() for name in _files(out)} == before
    monkeypatch.undo()

    data = abm.SyntheticDataGenerator(num_patients=4, days=3, output_dir=str(out),
                                      overwrite=True).generate_data()
    assert len(data["combined"]) == 12
    assert "combined_data.csv" in _files(out)
    # a folder holding anything but an abm output is refused even with overwrite=True
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    with pytest.raises(abm.OutputError, match="not an abm output"):
        abm.SyntheticDataGenerator(num_patients=4, days=3, output_dir=str(mine),
                                   overwrite=True).generate_data()
    assert _files(mine) == ["notes.txt"]


# --- --version and typos ---------------------------------------------------------------------

def test_version(capsys) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"abm {abm.__version__}\n"


@pytest.mark.parametrize("args, line", [
    (["run", "--patient", "10"], "abm run: unrecognized argument --patient; did you mean "
                                 "--patients?"),
    (["run", "--overwrit"], "abm run: unrecognized argument --overwrit; did you mean "
                            "--overwrite?"),
    (["run", "--bogus"], "abm run: unrecognized argument --bogus; see abm run --help"),
    (["rnu"], "abm: unknown command 'rnu'; did you mean 'run'?"),
    (["--verison"], "abm: unrecognized argument --verison; did you mean --version?"),
    (["run", "--format", "parqet"], "abm run: argument --format: invalid choice 'parqet'; did "
                                    "you mean 'parquet'?"),
    (["export", "evntlog", "out", "--to", "x.xes"], "abm export: unknown command 'evntlog'; did "
                                                    "you mean 'eventlog'?"),
    (["config", "--frm", "out"], "abm config: unrecognized argument --frm; did you mean "
                                 "--from?"),
])
def test_mistyped_options_and_commands_get_the_nearest(tmp_path: Path, capsys, monkeypatch,
                                                       args, line) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    assert _one_line(capsys.readouterr().err) == line
    assert _files(tmp_path) == []


# --- unwritable output folders ---------------------------------------------------------------

def test_an_unwritable_out_is_named_as_such(tmp_path: Path, capsys) -> None:
    """Root passes every permission check, yet cannot write into /sys: only trying tells."""
    if not Path("/sys").is_dir():
        pytest.skip("no /sys on this system")
    target = Path("/sys/abm-usability-test")
    assert main(["run", *TINY, "--out", str(target)]) == 2
    err = _one_line(capsys.readouterr().err)
    assert err.startswith("abm: error: /sys: folder is not writable"), err
    assert "GiB" not in err and "MiB" not in err
    assert not target.exists()


def test_a_read_only_folder_is_refused_before_any_work(tmp_path: Path, capsys) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            try:
                (locked / "probe").mkdir()
            except OSError:
                pass
            else:
                pytest.skip("this user can write into a read-only folder")
        assert main(["run", *TINY, "--out", str(locked / "out")]) == 2
        assert "not writable" in _one_line(capsys.readouterr().err)
        assert _files(locked) == []
    finally:
        locked.chmod(0o700)


# --- the caller's language -------------------------------------------------------------------

def test_python_callers_are_told_python_and_the_command_line_its_options(tmp_path: Path,
                                                                         capsys) -> None:
    out = tmp_path / "out"
    assert main(["run", *TINY, "--out", str(out)]) == 0
    result = abm.simulate(Config().replace(**{"population.num_patients": 4, "run.days": 3}))
    with pytest.raises(abm.OutputError) as refused:
        abm.write_outputs(result, out)
    assert "pass overwrite=True" in str(refused.value) and "--" not in str(refused.value)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(abm.OutputError, match="out must be a folder") as refused:
        abm.write_outputs(result, a_file)
    assert "--" not in str(refused.value)

    assert main(["run", *TINY, "--out", str(out)]) == 2
    err = _one_line(capsys.readouterr().err)
    assert "pass --overwrite" in err and "overwrite=True" not in err
    assert main(["run", *TINY, "--out", str(a_file)]) == 2
    assert "--out must be a folder" in capsys.readouterr().err

    from abm.exports.eventlog import export_eventlog
    with pytest.raises(abm.ConfigError, match="^fmt must be one of"):
        export_eventlog(out, tmp_path / "log.xes", fmt="xlsx")


def test_wording_follows_the_caller() -> None:
    assert wording.switch("--overwrite") == "overwrite=True"
    assert wording.option("--window-days") == "window_days"
    assert wording.option("--format", "fmt") == "fmt"
    assert wording.option("output_dir") == "output_dir"
    with wording.command_line():
        assert wording.switch("--overwrite") == "--overwrite"
        assert wording.option("--window-days") == "--window-days"
    assert wording.switch("--resume") == "resume=True"


# --- plurals ---------------------------------------------------------------------------------

def test_plural() -> None:
    assert [wording.plural(n, "day") for n in (0, 1, 2)] == ["0 days", "1 day", "2 days"]
    assert wording.plural(1, "patient") == "1 patient"
    assert wording.plural(12345, "event", spec=",") == "12,345 events"
    assert wording.plural(2, "child", "children") == "2 children"


def test_a_run_of_one_patient_and_one_day_says_so(tmp_path: Path, capsys) -> None:
    assert main(["run", "--patients", "1", "--days", "1", "--out", str(tmp_path / "o")]) == 0
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert summary.startswith("abm: 1 patient x 1 day -> "), summary
    assert re.search(r"\b1 (patients|days|attacks|shards)\b", summary) is None
