"""Components of one's own flow end to end, with no edit outside their own definitions.

Defined here and passed to ``abm.simulate(config, components=[...])``:

- ``Dummy``, a risk factor: a day with less than 1 L of water raises the next day's onset
  probability (effect 0.5). Its flag, susceptibility and trigger events must reach every frame,
  the written folder, the XES and OCEL logs, the FuseMoE features and the validation table;
- ``Steps``, a modality with a log entry of its own: its column and event kind must be read back
  from a folder (the manifest records the declarations) and exported at its hour;
- ``WaterCalmsStress``, a coupling: a day after drinking more than 2 L is one stress point
  calmer, exactly, on the same random draws;
- ``ShortNight``, a feedback rule declaring its edit: the night of an attack's onset day is 4 h
  shorter. Calibration reads the declaration, so realized migraine days still match the
  targets; the same edit made by a plain callable, which calibration cannot see, overshoots.
"""

from __future__ import annotations

import json
import pickle
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import abm
from abm import Column, Component, Coupling, FeedbackRule, PlannedEdit, RiskFactor
from abm.exports import eventlog, fusemoe
from abm.model.component import LogEntry
from abm.model.feedback import default_rules
from abm.output.write import read_run

#: the prodrome is off: its three symptoms and the built-in features fill 29 of FuseMoE's 30
#: columns, and the components of one's own here add two
SMALL = {"population.num_patients": 40, "run.days": 60, "prodrome.enabled": False}
#: big enough that a mean over patients tells calibration's bias from noise; the sleep trigger's
#: effect is raised so that the rule's edit (a short night) matters to onsets
LARGE = {"population.num_patients": 300, "run.days": 365, "triggers.sleep_effect": 5.0}
#: how many standard errors of the mean a calibrated cohort may miss its targets by
Z = 3.0


class Dummy(RiskFactor):
    name = "dummy_trigger"
    trigger = "dummy"
    inputs = (("water_consumed_liters", 0),)
    meaning = "water_consumed_liters < 1.0"
    source = "a test's own risk factor"

    def flag(self, v, config):
        return v["water_consumed_liters", 0] < 1.0

    def effect(self, config) -> float:
        return 0.5


class Steps(Component):
    name = "steps"
    purposes = ("steps",)
    columns = (Column("steps_walked", pl.Int32, "steps", "steps walked that day",
                      range=(0, 20_000)),)
    logs = (LogEntry("steps_log", 21, "steps_walked", "steps_walked"),)

    def draw(self, block):
        return {"steps_walked": (block.uniform(self, "steps", daily=True) * 20_000)
                .astype(np.int32)}


class WaterCalmsStress(Coupling):
    name = "water_calms_stress"
    target = "stress_level"
    inputs = (("water_consumed_liters", 1),)

    def term(self, v, config):
        return -1.0 * (v["water_consumed_liters", 1] > 2.0)


class ShortNight(FeedbackRule):
    name = "short_night"
    inputs = (("migraine_onset", 0),)

    def planned(self, block):
        return [PlannedEdit("total_sleep_hours", 0, -4.0)]


class BlindShortNight:
    """The same edit as a plain callable: calibration does not know what it does."""

    name = "blind_short_night"

    def __call__(self, attack) -> None:
        attack.patient.edit("total_sleep_hours", attack.day, -4.0, self.name)


def _own() -> list[Component]:
    return [Dummy(), Steps(), WaterCalmsStress(), ShortNight()]


@pytest.fixture(scope="module")
def small() -> abm.Result:
    return abm.simulate(abm.Config().replace(**SMALL), components=_own())


@pytest.fixture(scope="module")
def folder(small, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return abm.write_outputs(small, tmp_path_factory.mktemp("own") / "run")


@pytest.fixture(scope="module")
def large() -> abm.Result:
    return abm.simulate(abm.Config().replace(**LARGE), components=_own())


# --- frames ----------------------------------------------------------------------------------

def test_the_risk_factor_reaches_every_frame(small) -> None:
    daily = small.daily
    assert daily["dummy_trigger"].dtype == pl.Boolean
    assert daily["dummy_trigger"].to_list() == (daily["water_consumed_liters"] < 1.0).to_list()
    assert daily["dummy_trigger"].any()
    assert "dummy_trigger" in small.attacks.columns
    susceptibility = small.patients["susceptibility_dummy"]
    assert susceptibility.is_between(*small.config.population.susceptibility).all()
    triggers = small.events.filter((pl.col("event") == "trigger")
                                   & (pl.col("name").cast(pl.String) == "dummy"))
    assert triggers.height == daily["dummy_trigger"].sum()


def test_the_modality_logs_its_column(small) -> None:
    logged = small.events.filter(pl.col("event") == "steps_log")
    assert logged.height == small.daily.height
    assert logged["time"].dt.hour().unique().to_list() == [21]
    by_patient = logged.sort(pl.col("patient_id").cast(pl.String), "time")["value"]
    daily = small.daily.sort(pl.col("patient_id").cast(pl.String), "date")["steps_walked"]
    assert (by_patient.to_numpy() == daily.to_numpy()).all()


def test_the_coupling_calms_the_day_after_much_water() -> None:
    # without the stress feedback and the built-in sleep coupling, stress is the latent level
    # rounded: the same draws give the same level, one point lower (not below 1) the day after
    # more than 2 L
    config = abm.Config().replace(**SMALL, **{"feedback.stress.enabled": False,
                                              "couplings.sleep_stress.enabled": False})
    calm = abm.simulate(config, components=[WaterCalmsStress()]).daily
    plain = abm.simulate(config).daily
    n, days = config.population.num_patients, config.run.days
    level = plain["stress_level"].to_numpy().reshape(n, days).astype(int)
    water = plain["water_consumed_liters"].to_numpy().reshape(n, days)
    after_much = np.zeros((n, days), dtype=bool)
    after_much[:, 1:] = water[:, :-1] > 2.0
    expected = np.where(after_much, np.maximum(level - 1, 1), level)
    assert (calm["stress_level"].to_numpy().reshape(n, days) == expected).all()
    assert after_much.any() and (expected != level).any()


def test_the_rule_shortens_the_night_of_each_first_attack() -> None:
    # with the same baselines (calibration would lower them for the rule) the two runs are the
    # same until a patient's first attack, so its night differs by the edit
    config = abm.Config().replace(**SMALL)
    plain = abm.simulate(config)
    short = abm.simulate(config, components=[ShortNight()],
                         baselines=plain.patients["baseline_onset_probability"].to_numpy())
    first = (plain.attacks.group_by("patient_id").agg(pl.col("onset").min().dt.date())
             .rename({"onset": "date"}))
    assert first.height > 0
    nights = [r.daily.join(first, on=["patient_id", "date"]).sort("patient_id")
              ["total_sleep_hours"].to_numpy() for r in (short, plain)]
    assert np.allclose(nights[0], np.maximum(nights[1] - 4.0, 2.0), atol=0.011)
    edits = short.events.filter(pl.col("name").cast(pl.String) == "short_night:total_sleep_hours")
    assert edits.height > 0 and (edits["value"] < 0).all()


# --- calibration -------------------------------------------------------------------------------

def _target_gap(result: abm.Result) -> tuple[float, float]:
    """Mean over patients of realized minus target migraine days per 30 days, and its standard
    error (the sampling error of a cohort of this size)."""
    realized = result.daily.group_by("patient_id", maintain_order=True).agg(
        days=pl.col("has_migraine").mean() * 30)
    gap = realized.join(result.patients, on="patient_id").select(
        pl.col("days") - pl.col("target_migraine_days_per_month")).to_series().to_numpy()
    return float(gap.mean()), float(gap.std(ddof=1) / np.sqrt(gap.size))


def test_calibration_accounts_for_the_declared_rule(large) -> None:
    mean, se = _target_gap(large)
    assert abs(mean) <= Z * se, (mean, se)
    # the check has the power to see a rule calibration ignores: the same edits, undeclared
    config = large.config
    blind = abm.simulate(config, components=[Dummy(), Steps(), WaterCalmsStress()],
                         feedback_rules=default_rules(config) + [BlindShortNight()])
    blind_mean, blind_se = _target_gap(blind)
    assert blind_mean > Z * blind_se, (blind_mean, blind_se)


# --- validation --------------------------------------------------------------------------------

def test_validation_has_the_risk_factor_and_rechecks_the_whole_model(large) -> None:
    checks = {c.name: c for c in abm.validate(large)}
    assert checks["trigger effect: dummy"].passed, checks["trigger effect: dummy"]
    # the target is the ratio the dummy's configured effect implies, well above 1
    implied = float(checks["trigger effect: dummy"].target.split(",")[0])
    assert implied > 1.1, checks["trigger effect: dummy"]
    for name in ("triggers recomputable", "consistency", "determinism"):
        assert checks[name].passed, checks[name]


def test_validation_checks_the_declared_range(small) -> None:
    from abm.validation.checks import run_checks

    daily = small.daily.with_columns(pl.col("steps_walked") + 30_000)
    frames = {**small.frames(), "daily": daily}
    checks = {c.name: c for c in run_checks(frames, small.config, False, small.model)}
    assert "steps_walked outside [0, 20000]" in checks["consistency"].measured


def test_a_folder_of_own_components_is_not_validated_without_their_code(folder) -> None:
    with pytest.raises(abm.InputError, match="dummy_trigger"):
        abm.validate(folder)


# --- the written folder and its exports ---------------------------------------------------------

def test_the_folder_records_the_components_and_reads_back(folder, small) -> None:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert {"dummy_trigger", "steps", "water_calms_stress", "short_night"} <= {
        c["name"] for c in manifest["model"]}
    frames, _config, model = read_run(folder)
    assert model.triggers[-1] == "dummy"
    for name in ("patients", "daily", "attacks", "events"):
        assert frames[name].equals(getattr(small, name)), name


def test_the_event_logs_carry_the_risk_factor_and_the_modality(folder, tmp_path: Path) -> None:
    xes, ocel = tmp_path / "log.xes", tmp_path / "log.jsonocel"
    eventlog.export_eventlog(folder, xes)
    eventlog.export_eventlog(folder, ocel)
    events = ET.parse(xes).getroot().iter("{http://www.xes-standard.org/}event")
    keys = {(e.find("*[@key='concept:name']").get("value"), s.get("key"), s.get("value"))
            for e in events for s in e}
    assert ("trigger", "trigger", "dummy") in keys
    assert any(kind == "steps_log" and key == "steps_walked" for kind, key, _ in keys)
    document = json.loads(ocel.read_text(encoding="utf-8"))
    types = {t["name"]: {a["name"] for a in t["attributes"]} for t in document["objectTypes"]}
    assert "susceptibility_dummy" in types["patient"]
    assert {a["name"] for t in document["eventTypes"] if t["name"] == "steps_log"
            for a in t["attributes"]} == {"steps_walked"}
    objects = {o["id"] for o in document["objects"] if o["type"] == "trigger"}
    assert any(o.endswith(":dummy") for o in objects)
    related = {r["objectId"] for e in document["events"] if e["type"] == "migraine_onset"
               for r in e["relationships"] if r["qualifier"] == "active the day before"}
    assert any(o.endswith(":dummy") for o in related)


def test_fusemoe_has_a_feature_for_each_and_keeps_the_built_in_indices(folder, small,
                                                                       tmp_path: Path) -> None:
    table = {f.name: f for f in fusemoe.features(small.model)}
    # a flag is a function of columns that are features already: not a feature itself
    assert "dummy_trigger" not in table and "water_consumed_liters" in table
    assert (table["steps_walked"].modality, table["steps_walked"].hour) == ("steps", 21)
    built_in = [f for f in fusemoe.FEATURES if f.frame == "daily" and f.name in table]
    ours = [table[f.name] for f in built_in]
    sleep = [f.index for f in built_in if f.modality == "sleep"]
    # steps (21:00) come before the night's sleep (22:00); the rest keep their order
    assert [f.index for f in ours if f.hour < 21] == [f.index for f in built_in if f.hour < 21]
    assert [f.index for f in ours if f.modality == "sleep"] == [i + 1 for i in sleep]
    fusemoe.export_fusemoe(folder, tmp_path / "fusemoe")
    meta = json.loads((tmp_path / "fusemoe" / "fusemoe.json").read_text(encoding="utf-8"))
    names = [f["name"] for f in meta["features"]]
    assert names == list(table)
    with open(tmp_path / "fusemoe" / "train_ihm-migraine_stays.pkl", "rb") as handle:
        sample = pickle.load(handle)[0]
    assert sample["irg_ts_mask"][:, table["steps_walked"].index].any()


def test_the_causal_graph_of_the_folder_has_their_edges(folder) -> None:
    # the run's causal_graph.json draws the user's components like the built-in ones
    graph = json.loads((folder / "causal_graph.json").read_text(encoding="utf-8"))
    edges = {(e["from"], e["to"], e["lag_days"], e["kind"]) for e in graph["edges"]}
    assert ("water_consumed_liters", "dummy_trigger", 0, "risk_factor") in edges
    assert ("dummy_trigger", "p_onset", 1, "risk_factor") in edges
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert nodes["dummy_trigger"]["kind"] == "flag" and "steps_walked" in nodes
