"""``abm export``: every export is read back with the tool it is made for.

- XES and OCEL 2.0 are read with pm4py (``read_xes``, ``read_ocel2_json``), a directly-follows
  graph is discovered from the XES, and counts, attributes and relationships are compared with
  the frames they came from;
- FuseMoE samples are checked against the loader's contract (keys, shapes, dtypes, masks, times)
  and against the ``daily`` frame (labels, values, risk set), and the training statistics are
  shown to ignore the validation and test patients;
- the ``abm run`` outputs themselves are read with pandas, PyArrow and DuckDB, and the seed-layout
  CSVs with ``pandas.read_csv``;
- bad input exits 2 with one line naming the path or option, and writes nothing.

Cohorts are small (40 patients x 40 days) so that the file runs in a few seconds.
"""

from __future__ import annotations

import argparse
import json
import pickle
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import abm
from abm.cli import app as cli
from abm.cli import options
from abm.cli.export import add_export_parser, run_export
from abm.engine.model import Model
from abm.errors import AbmError, ConfigError, InputError, OutputError
from abm.exports import eventlog, fusemoe
from abm.output.write import read_outputs

PATIENTS, DAYS = 40, 40
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")

#: the risk factors of the default configuration (a built-in one may be off by default)
DEFAULT_TRIGGERS = tuple(Model.build(abm.Config()).triggers)


def _export_wired() -> bool:
    parser = cli.build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return any("export" in a.choices for a in actions)


def abm_main(argv: list[str]) -> int:
    """``abm ARGV``: through ``abm.cli.app.main`` once it has the export command, else through a
    parser built the way ``abm.cli.app`` builds its own, with the same error handling."""
    if _export_wired() or argv[0] != "export":
        return cli.main(argv)
    parser = options.Parser(prog="abm")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=options.Parser)
    add_export_parser(sub)
    try:
        return run_export(parser.parse_args(argv))
    except options.UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except AbmError as exc:
        print(f"abm: error: {exc}", file=sys.stderr)
        return 2


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- shared runs and exports (read-only) -------------------------------------------------------

@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    assert abm_main(["run", "--patients", str(PATIENTS), "--days", str(DAYS), "--out", str(out),
                     "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def frames(run_dir: Path) -> dict[str, pl.DataFrame]:
    return read_outputs(run_dir)[0]


@pytest.fixture(scope="module")
def exports(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("exports")
    paths = {"xes": folder / "cohort.xes", "ocel": folder / "cohort.jsonocel",
             "parquet": folder / "events.parquet", "csv": folder / "events.csv"}
    for fmt, path in paths.items():
        # the truth: these check the formats against the frames (tests/test_observation.py
        # checks the default, what was observed)
        assert abm_main(["export", "eventlog", str(run_dir), "--format", fmt, "--to", str(path),
                         "--truth", "--quiet"]) == 0
    paths["fusemoe"] = folder / "fusemoe"
    assert abm_main(["export", "fusemoe", str(run_dir), "--to", str(paths["fusemoe"]),
                     "--quiet"]) == 0
    paths["fusemoe_grid"] = folder / "fusemoe_grid"
    assert abm_main(["export", "fusemoe", str(run_dir), "--to", str(paths["fusemoe_grid"]),
                     "--hourly-grid", "--quiet"]) == 0
    return paths


@pytest.fixture(scope="module")
def xes_log(exports: dict[str, Path]):
    import pm4py

    return pm4py.read_xes(str(exports["xes"]))


@pytest.fixture(scope="module")
def ocel(exports: dict[str, Path]):
    import pm4py

    return pm4py.read_ocel2_json(str(exports["ocel"]))


@pytest.fixture(scope="module")
def samples(exports: dict[str, Path]) -> dict[str, list[dict]]:
    out = {}
    for split in fusemoe.SPLITS:
        with open(exports["fusemoe"] / f"{split}_ihm-migraine_stays.pkl", "rb") as handle:
            out[split] = pickle.load(handle)
    return out


@pytest.fixture(scope="module")
def meta(exports: dict[str, Path]) -> dict:
    return json.loads((exports["fusemoe"] / "fusemoe.json").read_text())


def _patient_events(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    return frames["events"].filter(pl.col("patient_id").is_not_null())


def _kind_counts(frame: pl.DataFrame) -> dict[str, int]:
    counts = frame.group_by(pl.col("event").cast(pl.String)).len()
    return dict(zip(counts["event"].to_list(), counts["len"].to_list(), strict=True))


# --- XES -------------------------------------------------------------------------------------

def test_xes_reads_in_pm4py_with_one_trace_per_patient(xes_log, frames) -> None:
    patients = frames["patients"]["patient_id"].cast(pl.String).to_list()
    assert sorted(xes_log["case:concept:name"].unique()) == sorted(patients)
    events = _patient_events(frames)
    assert len(xes_log) == events.height
    assert xes_log["concept:name"].value_counts().to_dict() == _kind_counts(events)
    assert set(xes_log["lifecycle:transition"]) == {"complete"}
    # trace attributes come from the patients frame
    first = xes_log[xes_log["case:concept:name"] == "P0000"]
    row = frames["patients"].row(0, named=True)
    assert first["case:age"].iloc[0] == row["age"]
    assert bool(first["case:is_chronic"].iloc[0]) == row["is_chronic"]


def test_xes_events_keep_time_order_and_attributes(xes_log, frames) -> None:
    events = _patient_events(frames).filter(pl.col("patient_id") == "P0003")
    trace = xes_log[xes_log["case:concept:name"] == "P0003"]
    assert trace["concept:name"].tolist() == events["event"].cast(pl.String).to_list()
    got = trace["time:timestamp"].dt.tz_convert("UTC").dt.tz_localize(None)
    want = events["time"].to_pandas()
    assert (got.to_numpy() == want.to_numpy()).all()
    for column in ("stress_level", "total_sleep_hours", "sleep_quality", "diet_items",
                   "alcohol_consumed", "water_consumed_liters", "trigger", "severity",
                   "with_aura", "duration_hours", "caused_by_feedback", "attack_id", "rule",
                   "change", "target_date"):
        assert column in xes_log.columns, column
    # values: sleep hours of P0003 equal the daily frame's, onset severities the attacks'
    sleep = trace[trace["concept:name"] == "sleep"]["total_sleep_hours"].to_numpy()
    daily = frames["daily"].filter(pl.col("patient_id") == "P0003")["total_sleep_hours"]
    assert np.allclose(sleep, daily.to_numpy(), atol=1e-6)
    onsets = xes_log[xes_log["concept:name"] == "migraine_onset"]
    attacks = frames["attacks"].select(pl.col("attack_id").cast(pl.String), "severity",
                                       "with_aura", "caused_by_feedback")
    expected = dict(zip(attacks["attack_id"], attacks["severity"], strict=True))
    assert all(expected[a] == s for a, s in zip(onsets["attack_id"], onsets["severity"],
                                                strict=True))
    assert len(onsets) == attacks.height
    feedback = xes_log[xes_log["concept:name"] == "feedback"]
    assert set(feedback["rule"]) <= {"stress_after_attack", "sleep_after_attack"}
    assert set(feedback["column"]) <= {"stress_level", "total_sleep_hours"}
    triggers = xes_log[xes_log["concept:name"] == "trigger"]
    assert set(triggers["trigger"]) <= set(DEFAULT_TRIGGERS)


def test_xes_is_well_formed_with_declared_extensions(exports) -> None:
    root = ET.parse(exports["xes"]).getroot()  # a strict XML parser
    ns = {"x": "http://www.xes-standard.org/"}
    assert root.get("xes.version") == "1849-2016"
    prefixes = {e.get("prefix") for e in root.findall("x:extension", ns)}
    assert {"concept", "time", "lifecycle"} <= prefixes
    stamps = [d.get("value") for d in root.iter("{http://www.xes-standard.org/}date")]
    assert stamps and all(ISO_UTC.match(s) for s in stamps)
    assert len(root.findall("x:trace", ns)) == PATIENTS


def test_directly_follows_graph_from_the_xes(xes_log) -> None:
    import pm4py

    dfg, start, end = pm4py.discover_dfg(xes_log)
    # every consecutive pair of events within a trace is one arc occurrence
    assert sum(dfg.values()) == len(xes_log) - PATIENTS
    assert sum(start.values()) == sum(end.values()) == PATIENTS
    assert dfg[("stress_log", "diet_log")] > 0 and dfg[("diet_log", "sleep")] > 0
    assert dfg[("migraine_onset", "feedback")] > 0


# --- OCEL 2.0 ----------------------------------------------------------------------------------

def test_ocel_reads_in_pm4py_with_every_event_and_object(ocel, frames) -> None:
    events = frames["events"]
    assert len(ocel.events) == events.height
    assert ocel.events["ocel:activity"].value_counts().to_dict() == _kind_counts(events)
    types = ocel.objects["ocel:type"].value_counts().to_dict()
    triggers = eventlog.trigger_objects(frames)
    assert types == {"patient": PATIENTS, "location": frames["weather"]["location_id"].n_unique(),
                     "attack": frames["attacks"].height, "trigger": triggers.height}
    assert triggers.height <= len(DEFAULT_TRIGGERS) * PATIENTS
    patient_objects = ocel.objects[ocel.objects["ocel:type"] == "patient"].set_index("ocel:oid")
    first = frames["patients"].row(0, named=True)
    assert patient_objects.loc["P0000", "age"] == first["age"]
    assert patient_objects.loc["P0000", "sex"] == first["sex"]


def _relations(ocel) -> dict[str, set[tuple[str, str]]]:
    grouped: dict[str, set[tuple[str, str]]] = {}
    for eid, oid, qualifier in ocel.relations[["ocel:eid", "ocel:oid", "ocel:qualifier"]] \
            .itertuples(index=False):
        grouped.setdefault(eid, set()).add((oid, qualifier))
    return grouped


def test_ocel_links_onsets_feedback_and_weather_to_their_objects(ocel, frames) -> None:
    relations = _relations(ocel)
    events = frames["events"].with_row_index("row").with_columns(
        pl.col(c).cast(pl.String) for c in ("patient_id", "location_id", "attack_id"))
    attacks = frames["attacks"].with_columns(pl.col("attack_id").cast(pl.String))
    onsets = events.filter(pl.col("event") == "migraine_onset").join(
        attacks.drop("patient_id"), on="attack_id")
    assert onsets.height == attacks.height
    for row in onsets.iter_rows(named=True):
        expected = {(row["patient_id"], "patient"), (row["attack_id"], "attack")}
        expected |= {(f"{row['patient_id']}:{t}", "active the day before")
                     for t in DEFAULT_TRIGGERS if row[f"{t}_trigger"]}
        assert relations[f"e{row['row']}"] == expected
    feedback = events.filter(pl.col("event") == "feedback")
    assert feedback.height > 0
    for row in feedback.iter_rows(named=True):
        assert (row["attack_id"], "caused by") in relations[f"e{row['row']}"]
    for row in events.filter(pl.col("event") == "weather").head(50).iter_rows(named=True):
        assert relations[f"e{row['row']}"] == {(row["location_id"], "location")}
    for row in events.filter(pl.col("event") == "trigger").head(50).iter_rows(named=True):
        assert relations[f"e{row['row']}"] == {(row["patient_id"], "patient"),
                                               (f"{row['patient_id']}:{row['name']}",
                                                "trigger")}


def test_ocel_object_relationships(ocel, frames) -> None:
    o2o = {(a, b, q) for a, b, q in ocel.o2o[["ocel:oid", "ocel:oid_2", "ocel:qualifier"]]
           .itertuples(index=False)}
    for row in frames["patients"].iter_rows(named=True):
        assert (row["patient_id"], row["location_id"], "lives at") in o2o
    for row in frames["attacks"].head(20).iter_rows(named=True):
        assert (row["attack_id"], row["patient_id"], "patient") in o2o


def test_ocel_is_plain_json_with_declared_types(exports) -> None:
    document = json.loads(exports["ocel"].read_text(encoding="utf-8"))
    assert set(document) == {"objectTypes", "eventTypes", "objects", "events"}
    assert {t["name"] for t in document["objectTypes"]} == {"patient", "location", "attack",
                                                            "trigger"}
    declared = {t["name"]: {a["name"]: a["type"] for a in t["attributes"]}
                for t in document["eventTypes"]}
    assert declared["migraine_onset"]["severity"] == "integer"
    assert declared["feedback"]["target_date"] == "time"
    assert all(ISO_UTC.match(e["time"]) for e in document["events"][:500])


# --- Parquet and CSV event logs ---------------------------------------------------------------

def test_parquet_and_csv_event_logs_are_the_events_frame(exports, frames) -> None:
    events = frames["events"]
    parquet = pl.read_parquet(exports["parquet"])
    assert parquet.equals(events)
    csv = pl.read_csv(exports["csv"], try_parse_dates=True)
    assert csv.height == events.height
    assert csv["event"].to_list() == events["event"].cast(pl.String).to_list()


# --- escaping, refusals, atomic writes ---------------------------------------------------------

class _OddlyNamedRule:
    """A feedback rule whose name needs escaping in XML and JSON."""

    name = 'odd <rule> & "quotes"\\ Übel→'

    def __call__(self, attack) -> None:
        attack.patient.raise_stress(attack.day + 1, 1, self.name, attack)


def test_names_are_escaped_in_xml_and_json(tmp_path: Path) -> None:
    config = abm.Config().replace(**{"population.num_patients": 8, "run.days": 30})
    result = abm.simulate(config, feedback_rules=[_OddlyNamedRule()])
    out = abm.write_outputs(result, tmp_path / "odd")
    xes, ocel_path = tmp_path / "odd.xes", tmp_path / "odd.json"
    assert abm_main(["export", "eventlog", str(out), "--to", str(xes), "--quiet"]) == 0
    assert abm_main(["export", "eventlog", str(out), "--to", str(ocel_path), "--quiet"]) == 0
    rules = {s.get("value") for s in ET.parse(xes).getroot().iter()
             if s.get("key") == "rule"}
    assert rules == {_OddlyNamedRule.name}
    document = json.loads(ocel_path.read_text(encoding="utf-8"))
    values = {a["value"] for e in document["events"] if e["type"] == "feedback"
              for a in e["attributes"] if a["name"] == "rule"}
    assert values == {_OddlyNamedRule.name}


@pytest.mark.parametrize("case", ["missing", "foreign", "seed-csv", "format", "no-suffix",
                                  "folder", "exists", "inside", "parent-is-file"])
def test_eventlog_bad_input_exits_2_and_writes_nothing(case: str, run_dir: Path,
                                                       tmp_path: Path, capsys) -> None:
    source, to, extra = run_dir, tmp_path / "log.xes", []
    if case == "missing":
        source = tmp_path / "nowhere"
    elif case == "foreign":
        source = tmp_path / "thesis"
        source.mkdir()
        (source / "chapter1.tex").write_text("precious")
    elif case == "seed-csv":
        source = tmp_path / "seed"
        assert abm_main(["run", "--patients", "3", "--days", "5", "--out", str(source),
                         "--format", "seed-csv", "--quiet"]) == 0
    elif case == "format":
        extra = ["--format", "xls"]
    elif case == "no-suffix":
        to = tmp_path / "log.txt"
    elif case == "folder":
        to = tmp_path / "a-folder"
        to.mkdir()
    elif case == "exists":
        to.write_text("earlier log")
    elif case == "inside":
        to = run_dir / "log.xes"
    elif case == "parent-is-file":
        (tmp_path / "file").write_text("")
        to = tmp_path / "file" / "log.xes"
    before = _files(tmp_path)
    run_before = _files(run_dir)
    assert abm_main(["export", "eventlog", str(source), "--to", str(to), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert any(w in err for w in (str(source), str(to), "--format", "--to")), err
    assert _files(tmp_path) == before and _files(run_dir) == run_before
    if case == "exists":
        assert to.read_text() == "earlier log"


def test_eventlog_errors_are_abm_errors(run_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such folder"):
        eventlog.export_eventlog(tmp_path / "nowhere", tmp_path / "x.xes")
    with pytest.raises(ConfigError, match="^fmt must be one of"):  # the argument's name
        eventlog.export_eventlog(run_dir, tmp_path / "x.xes", fmt="bpmn")
    with pytest.raises(OutputError, match="is a folder"):
        eventlog.export_eventlog(run_dir, tmp_path)


def test_overwrite_replaces_a_log_and_a_failed_write_leaves_the_old_one(
        run_dir: Path, tmp_path: Path, monkeypatch) -> None:
    to = tmp_path / "log.xes"
    to.write_text("earlier log")
    assert abm_main(["export", "eventlog", str(run_dir), "--to", str(to), "--overwrite",
                     "--quiet"]) == 0
    written = to.read_bytes()
    assert written.startswith(b"<?xml") and _files(tmp_path) == ["log.xes"]

    def failing(frames, handle, model=None) -> int:
        handle.write("<?xml partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(eventlog, "write_xes", failing)
    assert abm_main(["export", "eventlog", str(run_dir), "--to", str(to), "--overwrite"]) == 2
    assert to.read_bytes() == written and _files(tmp_path) == ["log.xes"]

    def interrupted(frames, handle, model=None) -> int:
        handle.write("<?xml partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(eventlog, "write_xes", interrupted)
    with pytest.raises(KeyboardInterrupt):
        eventlog.export_eventlog(run_dir, tmp_path / "new" / "log.xes")
    assert _files(tmp_path) == ["log.xes"]  # no partial file, no folder made for it


def test_a_csv_run_exports_the_same_files(run_dir: Path, exports, tmp_path: Path) -> None:
    csv_run = tmp_path / "csv"
    assert abm_main(["run", "--patients", str(PATIENTS), "--days", str(DAYS), "--out",
                     str(csv_run), "--format", "csv", "--quiet"]) == 0
    for kind in ("xes", "ocel"):
        to = tmp_path / exports[kind].name
        assert abm_main(["export", "eventlog", str(csv_run), "--to", str(to), "--truth",
                         "--quiet"]) == 0
        assert to.read_bytes() == exports[kind].read_bytes()
    assert abm_main(["export", "fusemoe", str(csv_run), "--to", str(tmp_path / "f"),
                     "--quiet"]) == 0
    for name in _files(exports["fusemoe"]):
        assert (tmp_path / "f" / name).read_bytes() == (exports["fusemoe"] / name).read_bytes()


def test_a_sharded_run_exports_the_same_logs_and_samples(exports, tmp_path: Path) -> None:
    if not hasattr(abm.Config().run, "shard_patients"):
        pytest.skip("this abm writes no sharded runs")
    config = tmp_path / "shards.toml"
    config.write_text("[run]\nshard_patients = 15\n")
    sharded = tmp_path / "sharded"
    assert abm_main(["run", "--config", str(config), "--patients", str(PATIENTS), "--days",
                     str(DAYS), "--out", str(sharded), "--workers", "1", "--quiet"]) == 0
    assert (sharded / "events").is_dir()  # part files, one per shard
    xes, ocel_path, samples = tmp_path / "s.xes", tmp_path / "s.jsonocel", tmp_path / "f"
    for target in (xes, ocel_path):
        assert abm_main(["export", "eventlog", str(sharded), "--to", str(target),
                         "--truth", "--quiet"]) == 0
    assert abm_main(["export", "fusemoe", str(sharded), "--to", str(samples), "--quiet"]) == 0
    assert xes.read_bytes() == exports["xes"].read_bytes()
    for name in _files(exports["fusemoe"]):
        assert (samples / name).read_bytes() == (exports["fusemoe"] / name).read_bytes()

    def content(path: Path) -> tuple[list, list]:
        document = json.loads(path.read_text(encoding="utf-8"))
        events = sorted(json.dumps({k: v for k, v in e.items() if k != "id"}, sort_keys=True)
                        for e in document["events"])
        return document["objects"], events

    assert content(ocel_path) == content(exports["ocel"])  # event ids follow the time order


# --- FuseMoE -----------------------------------------------------------------------------------

def test_fusemoe_files_keys_shapes_and_dtypes(exports, samples, meta) -> None:
    assert _files(exports["fusemoe"]) == ["fusemoe.json", "test_ihm-migraine_stays.pkl",
                                          "train_ihm-migraine_stays.pkl",
                                          "val_ihm-migraine_stays.pkl"]
    hours = 24 * fusemoe.WINDOW_DAYS
    assert meta["tt_max"] == hours and meta["columns"] == 30
    for split, items in samples.items():
        assert isinstance(items, list) and len(items) == meta["splits"][split]["samples"] > 0
        for s in items:
            assert set(s) == {"name", "ts_tt", "irg_ts", "irg_ts_mask", "reg_ts", "label"}
            assert s["reg_ts"] is None  # FuseMoE recomputes it; --hourly-grid writes it
            t = s["ts_tt"].shape[0]
            assert s["ts_tt"].ndim == 1 and s["ts_tt"].dtype.kind == "f"
            assert s["irg_ts"].shape == s["irg_ts_mask"].shape == (t, 30)
            assert s["irg_ts"].dtype.kind == "f" and s["irg_ts_mask"].dtype.kind == "i"
            assert s["label"] in (0, 1) and isinstance(s["label"], int)
            assert (0 <= s["ts_tt"]).all() and (s["ts_tt"] < hours).all()
            assert (np.diff(s["ts_tt"]) > 0).all()
            mask = s["irg_ts_mask"]
            assert set(np.unique(mask)) <= {0, 1} and mask.any(axis=1).all()
            assert (s["irg_ts"][mask == 0] == 0).all()
            assert not mask[:, len(fusemoe.FEATURES):].any()  # padding is never observed


def _expected_grid(sample: dict, hours: int) -> np.ndarray:
    """The hourly grid, recomputed the slow way: last value observed at or before each hour."""
    values, mask = np.zeros((hours, 30)), np.zeros((hours, 30))
    for t, row, seen in zip(sample["ts_tt"], sample["irg_ts"], sample["irg_ts_mask"],
                            strict=True):
        values[int(t), seen == 1] = row[seen == 1]
        mask[int(t), seen == 1] = 1
    for h in range(1, hours):
        carried = mask[h] == 0
        values[h, carried] = values[h - 1, carried]
    return np.hstack([values, mask])


def test_fusemoe_hourly_grid_is_the_irregular_series_forward_filled(exports, samples) -> None:
    for split in ("val", "test"):
        with open(exports["fusemoe_grid"] / f"{split}_ihm-migraine_stays.pkl", "rb") as handle:
            grids = pickle.load(handle)
        assert [g["name"] for g in grids] == [s["name"] for s in samples[split]]
        for g, s in zip(grids[:200], samples[split], strict=False):
            assert g["reg_ts"].shape == (48, 60) and g["reg_ts"].dtype == np.float32
            assert set(np.unique(g["reg_ts"][:, 30:])) <= {0.0, 1.0}
            assert np.array_equal(g["irg_ts"], s["irg_ts"])
            assert np.allclose(g["reg_ts"], _expected_grid(g, 48), atol=1e-6), g["name"]


def _name(sample: dict) -> tuple[str, str]:
    patient, date = sample["name"].rsplit("_", 1)
    return patient, date


def test_fusemoe_splits_by_patient(samples, meta, frames) -> None:
    split_patients = {s: set(meta["splits"][s]["patients"]) for s in fusemoe.SPLITS}
    assert [len(split_patients[s]) for s in fusemoe.SPLITS] == [28, 6, 6]
    assert set.union(*split_patients.values()) == set(
        frames["patients"]["patient_id"].cast(pl.String))
    for split, items in samples.items():
        assert {_name(s)[0] for s in items} <= split_patients[split]
    others = [split_patients[s] for s in fusemoe.SPLITS]
    assert not (others[0] & others[1] or others[0] & others[2] or others[1] & others[2])


def test_fusemoe_labels_and_risk_set_match_the_daily_frame(samples, meta, frames) -> None:
    daily = frames["daily"].select(pl.col("patient_id").cast(pl.String),
                                   pl.col("date").cast(pl.String), "has_migraine",
                                   "migraine_onset")
    day = {(p, d): (h, o) for p, d, h, o in daily.iter_rows()}
    w = fusemoe.WINDOW_DAYS
    for split, items in samples.items():
        for s in items:
            has, onset = day[_name(s)]
            assert s["label"] == int(onset)
            assert onset or not has  # no attack under way at the label day's start
        per_patient = DAYS - w
        info = meta["splits"][split]
        assert info["samples"] + info["not_at_risk_dropped"] == len(info["patients"]) * per_patient
        assert info["positive"] == sum(s["label"] for s in items)
    assert any(s["label"] for s in samples["train"]) and not all(
        s["label"] for s in samples["train"])


def test_fusemoe_values_are_standardized_with_training_statistics(samples, meta,
                                                                  frames) -> None:
    train = meta["splits"]["train"]["patients"]
    # the statistics of what was observed (nights the wearable recorded)
    daily = frames["observed"].with_columns(pl.col("patient_id").cast(pl.String),
                                            pl.col("date").cast(pl.String))
    raw = daily.filter(pl.col("patient_id").is_in(train))["total_sleep_hours"].cast(pl.Float64)
    raw = raw.drop_nulls()
    mean, sd = raw.mean(), raw.std(ddof=0)
    index = fusemoe.FEATURE_INDEX["total_sleep_hours"]
    feature = meta["features"][index]
    assert feature["name"] == "total_sleep_hours" and feature["observed_at"] == "22:00"
    assert feature["mean"] == pytest.approx(mean) and feature["sd"] == pytest.approx(sd)
    for sample in samples["train"][5:]:  # a window whose first night the wearable recorded
        patient, label_date = _name(sample)
        dates = daily.filter(pl.col("patient_id") == patient)["date"].to_list()
        first_day = dates[dates.index(label_date) - fusemoe.WINDOW_DAYS]
        night = daily.filter((pl.col("patient_id") == patient) & (pl.col("date") == first_day))
        if night["wearable_time"].item() is not None:
            break
    value = night["total_sleep_hours"].cast(pl.Float64).item()
    synced = night["wearable_time"].item()  # the morning after, the window's second day
    row = int(np.flatnonzero(np.isclose(sample["ts_tt"],
                                        24 + synced.hour + synced.minute / 60))[0])
    assert sample["irg_ts_mask"][row, index] == 1
    assert sample["irg_ts"][row, index] == pytest.approx((value - mean) / sd, abs=1e-5)
    # the other features of the same instant are the same night's sleep
    assert sample["irg_ts_mask"][row].sum() == sum(f.modality == "sleep" for f in fusemoe.FEATURES)


def test_fusemoe_statistics_ignore_validation_and_test_patients(frames) -> None:
    everything = fusemoe.Layout(hourly_grid=True, diary_vectors=True)
    before, samples_before = fusemoe.build_samples(frames, seed=7, layout=everything)
    held_out = [p for s in ("val", "test") for p in before.split[s].tolist()]
    ids = frames["patients"]["patient_id"].cast(pl.String).to_list()
    changed = dict(frames)
    is_held_out = pl.col("patient_id").cast(pl.String).is_in([ids[i] for i in held_out])
    changed["daily"] = frames["daily"].with_columns(
        pl.when(is_held_out).then(pl.col("total_sleep_hours") + 3)
        .otherwise(pl.col("total_sleep_hours")).alias("total_sleep_hours"),
        pl.when(is_held_out).then(pl.col("pressure") - 40).otherwise(pl.col("pressure"))
        .alias("pressure"))
    changed["attacks"] = frames["attacks"].with_columns(
        pl.when(is_held_out).then(pl.lit(10, pl.Int8)).otherwise(pl.col("severity"))
        .alias("severity"))
    after, samples_after = fusemoe.build_samples(changed, seed=7, layout=everything)
    assert np.array_equal(before.mean, after.mean) and np.array_equal(before.sd, after.sd)
    for a, b in zip(samples_before["train"], samples_after["train"], strict=True):
        assert a["name"] == b["name"]
        for key in ("irg_ts", "reg_ts", "cxr_feats"):
            assert np.array_equal(a[key], b[key]), key
    assert not all(np.array_equal(a["irg_ts"], b["irg_ts"])
                   for a, b in zip(samples_before["val"], samples_after["val"], strict=True))


def test_fusemoe_onsets_in_the_window_are_observed_at_their_time(samples, frames) -> None:
    attacks = frames["attacks"].with_columns(pl.col("patient_id").cast(pl.String))
    severity = fusemoe.FEATURE_INDEX["migraine_severity"]
    checked = 0
    for s in samples["train"]:
        patient, label_date = _name(s)
        start = np.datetime64(label_date) - np.timedelta64(fusemoe.WINDOW_DAYS, "D")
        onsets = attacks.filter(pl.col("patient_id") == patient)["onset"].to_numpy()
        hours = (onsets - start.astype("datetime64[ms]")) / np.timedelta64(1, "h")
        inside = np.sort(hours[(hours >= 0) & (hours < 48)])
        observed = s["ts_tt"][s["irg_ts_mask"][:, severity] == 1]
        assert np.allclose(observed, inside), s["name"]
        checked += inside.size
    assert checked > 0


def test_fusemoe_is_deterministic_and_seeded(run_dir: Path, exports, tmp_path: Path) -> None:
    again = tmp_path / "again"
    assert abm_main(["export", "fusemoe", str(run_dir), "--to", str(again), "--quiet"]) == 0
    for name in _files(exports["fusemoe"]):
        assert (again / name).read_bytes() == (exports["fusemoe"] / name).read_bytes()
    other = tmp_path / "other"
    assert abm_main(["export", "fusemoe", str(run_dir), "--to", str(other), "--seed", "3",
                     "--window-days", "3", "--task", "ihm-migraine3", "--hourly-grid",
                     "--quiet"]) == 0
    meta = json.loads((other / "fusemoe.json").read_text())
    assert meta["tt_max"] == 72 and meta["seed"] == 3 and meta["reg_ts"] == "hourly grid"
    with open(other / "val_ihm-migraine3_stays.pkl", "rb") as handle:
        assert pickle.load(handle)[0]["reg_ts"].shape == (72, 60)


def test_pickled_lists_load_as_plain_lists(tmp_path: Path) -> None:
    for items in ([], [{"a": np.arange(3.0)}] * 3, list(range(600))):
        path = tmp_path / "x.pkl"
        with open(path, "wb") as handle:
            assert fusemoe.dump_list(iter(items), handle) == len(items)
        with open(path, "rb") as handle:
            loaded = pickle.load(handle)
        assert type(loaded) is list and len(loaded) == len(items)
        assert all(np.array_equal(a["a"], b["a"]) if isinstance(a, dict) else a == b
                   for a, b in zip(loaded, items, strict=True))


@pytest.mark.parametrize("args, words", [
    (["--window-days", "40"], "--window-days must be less than the run's 40 days"),
    (["--window-days", "0"], "--window-days must be at least 1"),
    (["--task", "migraine"], "--task must contain 'ihm'"),
    (["--task", "los-migraine"], "('los' is refused)"),
    (["--max-gb", "0"], "--max-gb must be a number > 0"),
    (["--task", "../ihm"], "--task must be letters"),
    (["--seed", "-1"], "--seed must be at least 0"),
])
def test_fusemoe_bad_options_exit_2(args, words, run_dir: Path, tmp_path: Path,
                                    capsys) -> None:
    assert abm_main(["export", "fusemoe", str(run_dir), "--to", str(tmp_path / "f"),
                     *args]) == 2
    assert words in capsys.readouterr().err
    assert _files(tmp_path) == []


def test_fusemoe_target_folder_rules(run_dir: Path, tmp_path: Path, capsys,
                                     monkeypatch) -> None:
    target = tmp_path / "f"
    assert abm_main(["export", "fusemoe", str(run_dir), "--to", str(target), "--quiet"]) == 0
    written = {n: (target / n).read_bytes() for n in _files(target)}
    assert abm_main(["export", "fusemoe", str(run_dir), "--to", str(target)]) == 2
    assert "--overwrite" in capsys.readouterr().err

    def failing(items, handle) -> int:
        handle.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fusemoe, "dump_list", failing)
    assert abm_main(["export", "fusemoe", str(run_dir), "--to", str(target), "--seed", "1",
                     "--overwrite"]) == 2
    assert "nothing was written" in capsys.readouterr().err
    assert {n: (target / n).read_bytes() for n in _files(target)} == written
    assert _files(tmp_path) == ["f"]
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("precious")
    assert abm_main(["export", "fusemoe", str(run_dir), "--to", str(foreign),
                     "--overwrite"]) == 2
    assert "did not write" in capsys.readouterr().err
    assert _files(foreign) == ["notes.txt"]
    mimic = tmp_path / "mimic"  # FuseMoE's own data: same file names, no fusemoe.json
    mimic.mkdir()
    (mimic / "train_ihm_stays.pkl").write_bytes(b"real data")
    assert abm_main(["export", "fusemoe", str(run_dir), "--to", str(mimic),
                     "--overwrite"]) == 2
    assert "did not write" in capsys.readouterr().err
    assert _files(mimic) == ["train_ihm_stays.pkl"]
    a_file = tmp_path / "file"
    a_file.write_text("")
    assert abm_main(["export", "fusemoe", str(run_dir), "--to", str(a_file)]) == 2
    assert abm_main(["export", "fusemoe", str(run_dir), "--to", str(run_dir / "f")]) == 2


# --- the run's own files in other tools --------------------------------------------------------

def test_parquet_outputs_read_as_is_with_pandas_pyarrow_and_duckdb(run_dir: Path,
                                                                   frames) -> None:
    import duckdb
    import pandas as pd
    import pyarrow.parquet as pq

    sql = duckdb.connect()
    for name, frame in frames.items():
        path = run_dir / f"{name}.parquet"
        assert len(pd.read_parquet(path)) == frame.height
        assert pq.read_table(path).num_rows == frame.height
        assert sql.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchall() \
            == [(frame.height,)]
    daily = pd.read_parquet(run_dir / "daily.parquet")
    assert isinstance(daily["patient_id"].dtype, pd.CategoricalDtype)
    assert daily["patient_id"].astype(str).tolist() == \
        frames["daily"]["patient_id"].cast(pl.String).to_list()
    assert np.array_equal(daily["total_sleep_hours"].to_numpy(),
                          frames["daily"]["total_sleep_hours"].to_numpy())
    table = pq.read_table(run_dir / "attacks.parquet")
    assert table.column("attack_id").to_pylist()[:5] == \
        frames["attacks"]["attack_id"].cast(pl.String).head(5).to_list()
    counts = sql.execute(f"SELECT event, count(*) FROM read_parquet("
                         f"'{run_dir / 'events.parquet'}') GROUP BY event").fetchall()
    assert dict(counts) == _kind_counts(frames["events"])
    [(sleep,)] = sql.execute(f"SELECT sum(total_sleep_hours) FROM read_parquet("
                             f"'{run_dir / 'daily.parquet'}') WHERE patient_id = ?",
                             ["P0001"]).fetchall()
    want = frames["daily"].filter(pl.col("patient_id") == "P0001")["total_sleep_hours"]
    assert sleep == pytest.approx(want.cast(pl.Float64).sum(), rel=1e-6)


SEED_COLUMNS = {
    "patient_profiles.csv": ["patient_id", "age", "sex", "is_chronic", "base_frequency",
                             "with_aura_ratio", "trigger_susceptibility"],
    "migraine_events.csv": ["patient_id", "date", "with_aura", "severity", "duration"],
    "sleep_data.csv": ["patient_id", "date", "total_sleep_hours", "deep_sleep_pct",
                       "rem_sleep_pct", "light_sleep_pct", "awake_time_mins", "sleep_quality"],
    "weather_data.csv": ["patient_id", "date", "temperature", "humidity", "pressure",
                         "pressure_change_24h"],
    "stress_diet_data.csv": ["patient_id", "date", "stress_level", "alcohol_consumed",
                             "caffeine_consumed", "chocolate_consumed",
                             "processed_food_consumed", "water_consumed_liters"],
}


def test_seed_layout_csvs_read_with_pandas(tmp_path: Path, frames) -> None:
    import pandas as pd

    out = tmp_path / "seed"
    assert abm_main(["run", "--patients", str(PATIENTS), "--days", str(DAYS), "--out",
                     str(out), "--format", "seed-csv", "--quiet"]) == 0
    for name, columns in SEED_COLUMNS.items():
        table = pd.read_csv(out / name)
        assert list(table.columns[:len(columns)]) == columns, name
    sleep = pd.read_csv(out / "sleep_data.csv", parse_dates=["date"])
    assert len(sleep) == frames["daily"].height
    assert np.allclose(sleep["total_sleep_hours"],
                       frames["daily"]["total_sleep_hours"].cast(pl.Float64), atol=1e-6)
    events = pd.read_csv(out / "migraine_events.csv")
    assert len(events) == frames["attacks"].height
    assert events["severity"].tolist() == frames["attacks"]["severity"].to_list()
    combined = pd.read_csv(out / "combined_data.csv")
    assert list(combined.columns) == frames["daily"].columns
    assert combined["migraine_onset"].sum() == frames["attacks"].height


def test_feature_table_is_documented() -> None:
    root = Path(__file__).resolve().parents[1]
    assert fusemoe.markdown_table() in (root / "README.md").read_text(encoding="utf-8")
