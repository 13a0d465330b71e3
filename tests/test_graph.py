"""The causal graph: written with every run, true to the code that made the data, drawn by
``abm graph``.

The central check (:func:`_violations`) does not trust the declarations it tests: it perturbs
each drawn column of a block, lets the engine derive everything again, and compares what moved
(and on which days) with what the graph says should move.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import abm
from abm import Config
from abm.cli.app import main
from abm.engine import derive
from abm.engine.block import Block
from abm.engine.calendar import Calendar
from abm.engine.hazard import factor_tables, onset_probability, previous_codes
from abm.engine.model import Model
from abm.engine.simulation import draw_columns
from abm.model.catalog import built_in
from abm.model.component import Column, Component, Coupling, FeedbackRule, PlannedEdit
from abm.output.causal_graph import GRAPH_FILE, build_graph
from abm.output.result import Result
from abm.output.write import read_outputs, write_outputs

DAYS = 60
#: the days a column is perturbed on: further apart than any chain of lags in these models
SPACING = 12
PERTURBED = np.arange(3, DAYS, SPACING)
#: node kinds that are daily series the engine derives from the drawn values
DAILY = ("column", "flag")
#: edge kinds the engine's derivation computes (an ``input`` edge is a component's draw)
DERIVED = ("coupling", "risk_factor")


class StressShortensSleep(Coupling):
    """A lagged coupling (test only): the evening's stress shortens that night's sleep."""

    name = "stress_shortens_sleep"
    target = "total_sleep_hours"
    inputs = (("stress_level", 1),)
    source = "test"

    def term(self, v: Any, config: Any) -> Any:
        return -0.4 * v["stress_level", 1]


class IgnoresHumidity(Coupling):
    """A coupling that declares an input it does not use (test only)."""

    name = "ignores_humidity"
    target = "sleep_quality"
    inputs = (("humidity", 0),)

    def term(self, v: Any, config: Any) -> Any:
        return 0.0 * v["humidity", 0]


class FeelsHumidity(Component):
    """A modality whose draw reads another's column (test only)."""

    name = "feels_humidity"
    purposes = ("noise",)
    columns = (Column("felt_humidity", pl.Float32, "%", "humidity as the patient reports it"),)
    inputs = (("humidity", 0),)

    def draw(self, block: Block) -> dict[str, np.ndarray]:
        noise = block.normal(self, "noise", daily=True)
        return {"felt_humidity": (block.columns["humidity"] + 5 * noise).astype(np.float32)}


class PlansOnly(FeedbackRule):
    """A custom rule that declares its edits only through ``planned`` (test only)."""

    name = "plans_only"

    def planned(self, block: Block) -> list[PlannedEdit]:
        return [PlannedEdit("stress_level", 2, 1.0)]


def _config(n: int = 300, days: int = DAYS, **changes: Any) -> Config:
    return Config().replace(**{"population.num_patients": n, "run.days": days, **changes})


def _drawn(config: Config, extra: tuple = ()) -> tuple[Model, Block, dict[str, np.ndarray]]:
    """A model and one block of all its patients, drawn (columns in ``block.columns``)."""
    model = Model.build(config, extra)
    calendar = Calendar(config.run.start, config.run.days)
    shared = {c.name: c.prepare(config, calendar) for c in model.components}
    block = Block(config, calendar, shared, 0, config.population.num_patients)
    latent = draw_columns(model, block)
    return model, block, latent


def _edges(graph: dict) -> set[tuple[str, str, int, str]]:
    return {(e["from"], e["to"], e["lag_days"], e["kind"]) for e in graph["edges"]}


def _follows_onsets(graph: dict) -> set[str]:
    """The columns that chains of post-run edges derive from ``migraine_onset``."""
    reached = {"migraine_onset"}
    while True:
        more = {e["to"] for e in graph["edges"]
                if e["kind"] == "after_run" and e["from"] in reached} - reached
        if not more:
            return reached - {"migraine_onset"}
        reached |= more


def _derived_edges(graph: dict) -> list[dict]:
    """The edges between daily series that the engine's derivation computes."""
    kinds = {n["id"]: n["kind"] for n in graph["nodes"]}
    return [e for e in graph["edges"]
            if e["kind"] in DERIVED and kinds[e["from"]] in DAILY and kinds[e["to"]] in DAILY]


# --- the file ----------------------------------------------------------------------------------


def _expected_edges(model: Model, block: Block) -> set[tuple[str, str, int, str]]:
    """The edges as the declarations (and the rules' actual planned edits) give them."""
    expected = {(column, term.column, lag, "coupling")
                for term in model.terms for column, lag in term.inputs}
    for rf in model.risk_factors:
        expected |= {(column, rf.flag_column, lag, "risk_factor") for column, lag in rf.inputs}
        expected.add((rf.flag_column, "p_onset", 1, "risk_factor"))
        expected.add((rf.susceptibility_column, "p_onset", 0, "risk_factor"))
    for rule in model.rules:
        expected |= {("migraine_onset", e.column, e.offset_days, "feedback")
                     for e in rule.planned(block)}
    for c in model.components:  # what post-run steps change, from the decided onsets
        expected |= {(a, b, lag, "after_run") for a, b, lag in c.after_run_edges}
    if "frequency_drift" in model.columns:  # the drift multiplies the day's baseline
        expected.add(("frequency_drift", "p_onset", 0, "onset"))
    expected |= {("baseline_onset_probability", "p_onset", 0, "onset"),
                 ("p_onset", "migraine_onset", 0, "onset"),
                 ("migraine_onset", "has_migraine", 0, "onset")}
    return expected


@pytest.mark.parametrize("extra", [(), (StressShortensSleep(), PlansOnly())])
def test_graph_lists_every_declared_edge_and_column(extra: tuple) -> None:
    config = _config(20, **{"feedback.sleep.enabled": True})
    model, block, _ = _drawn(config, extra)
    graph = build_graph(model)
    assert graph["format"] == "abm-causal-graph" and graph["version"] == 1
    assert _edges(graph) == _expected_edges(model, block)
    assert len(graph["edges"]) == len(_edges(graph))  # each edge once
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert {end for e in graph["edges"] for end in (e["from"], e["to"])} <= set(nodes)
    for column in model.daily_columns:
        node = nodes[column.name]
        assert (node["dtype"], node["unit"], node["editable"]) == (
            str(column.dtype), column.unit, column.editable)
    owner = {col.name: c for c in model.components for col in c.outputs()}
    for node in graph["nodes"]:
        if node["kind"] != "engine":
            assert node["component"] == owner[node["id"]].name
    parameters = {c["name"]: c["parameters"] for c in graph["components"]}
    for edge in graph["edges"]:  # the component, its parameters and its source travel along
        name = edge["function"]["component"]
        assert edge["function"]["description"] and edge["function"]["callable"]
        assert edge["source"] == model.component(name).source
        assert edge["parameters"] == parameters[name]
    effect = next(e for e in graph["edges"] if e["to"] == "p_onset" and e["lag_days"] == 1)
    assert "effect" in effect["parameters"]
    json.dumps(graph)  # plain JSON


def test_rules_declare_what_they_plan() -> None:
    config = _config(5, **{"feedback.sleep.enabled": True})
    model, block, _ = _drawn(config)
    rules = [c for c in built_in() if isinstance(c, FeedbackRule)]
    assert rules
    for rule in rules:
        assert rule.edits_declared(config) == tuple(
            (e.column, e.offset_days) for e in rule.planned(block))


def test_a_modality_that_reads_a_column_gets_input_edges() -> None:
    model, block, _ = _drawn(_config(50), (FeelsHumidity(),))
    graph = build_graph(model)
    assert ("humidity", "felt_humidity", 0, "input") in _edges(graph)
    # the edge is real: the draw moves with the column it declares, and with nothing else
    component = model.component("feels_humidity")
    base = component.draw(block)["felt_humidity"]
    for name, values in list(block.columns.items()):
        block.columns[name] = values + 3 if values.dtype != np.bool_ else ~values
        moved = (component.draw(block)["felt_humidity"] != base).any()
        block.columns[name] = values
        assert moved == (name == "humidity"), name


def test_undeclared_rules_are_named() -> None:
    class Plain:
        name = "plain_callable"

        def __call__(self, attack: Any) -> None:
            pass

    model = Model.build(_config(5), rules=[Plain()])
    graph = build_graph(model)
    assert [r["rule"] for r in graph["undeclared_rules"]] == ["plain_callable"]
    assert not [e for e in graph["edges"] if e["kind"] == "feedback"]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("fmt", ["parquet", "seed-csv"])
def test_every_run_writes_the_graph_into_its_manifest(tmp_path: Path, small_result: abm.Result,
                                                      fmt: str) -> None:
    out = write_outputs(small_result, tmp_path / "out", fmt=fmt)
    path = out / GRAPH_FILE
    record = json.loads((out / "manifest.json").read_text())["files"][GRAPH_FILE]
    assert record == {"sha256": _sha256(path), "bytes": path.stat().st_size}
    assert json.loads(path.read_text(encoding="utf-8")) == build_graph(small_result.model)
    if fmt == "parquet":
        read_outputs(out)  # the folder still checks out against its manifest


def test_frames_without_a_model_get_the_built_in_one(tmp_path: Path,
                                                     small_result: abm.Result) -> None:
    bare = Result(**{name: getattr(small_result, name) for name in ("config", *Result.FRAMES)})
    out = write_outputs(bare, tmp_path / "out")
    assert json.loads((out / GRAPH_FILE).read_text()) == build_graph(
        Model.build(small_result.config))


def test_a_sharded_run_writes_the_graph_once(tmp_path: Path) -> None:
    config_file = tmp_path / "shards.toml"
    config_file.write_text("[run]\nshard_patients = 10\ndays = 20\n")
    out = tmp_path / "out"
    assert main(["run", "--config", str(config_file), "--patients", "25", "--out", str(out),
                 "--workers", "1", "--quiet"]) == 0
    assert [p.relative_to(out).as_posix() for p in out.rglob(GRAPH_FILE)] == [GRAPH_FILE]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["files"][GRAPH_FILE]["sha256"] == _sha256(out / GRAPH_FILE)
    config = Config.from_dict(manifest["config"])
    assert json.loads((out / GRAPH_FILE).read_text()) == build_graph(Model.build(config))


# --- the edges are the code's real dependencies ------------------------------------------------


def _derived(model: Model, columns: dict[str, np.ndarray],
             latent: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every daily column and flag, as the engine derives them from the drawn values."""
    out = {name: values for name, values in columns.items() if name not in model.editable}
    derive.derive_editable(model, out, latent)
    for rf, flag in zip(model.risk_factors, derive.flags(model, out), strict=True):
        out[rf.flag_column] = flag
    return out


def _perturbed(model: Model, columns: dict[str, np.ndarray], latent: dict[str, np.ndarray],
               name: str, sign: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The drawn values with ``name`` changed on the :data:`PERTURBED` days: an editable column
    through its latent value (as couplings and edits change it), any other as stored (flags
    flipped, numbers shifted by twice their spread)."""
    columns, latent = dict(columns), dict(latent)
    stored = columns[name]
    step = max(1.0, 2.0 * float(stored.std())) if stored.dtype.kind in "iu" else (
        2.0 * float(stored.std()) or 1.0)
    target = latent if name in model.editable else columns
    values = target[name].copy()
    if values.dtype == np.bool_:
        values[:, PERTURBED] = ~values[:, PERTURBED]
    else:
        values[:, PERTURBED] = (values[:, PERTURBED] + sign * step).astype(values.dtype)
    target[name] = values
    return columns, latent


def _null(values: np.ndarray) -> np.ndarray:
    """Where a column read from a frame has no value (null becomes NaN or None)."""
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind == "O":
        return np.equal(values, None)
    return np.zeros(values.shape, bool)


def _path_lags(edges: list[tuple[str, str, int]], bound: int) -> dict[tuple[str, str], set[int]]:
    """For each pair of nodes, the total lags of the chains of edges from one to the other."""
    children: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for a, b, lag in edges:
        children[a].append((b, lag))
    found: dict[tuple[str, str], set[int]] = defaultdict(set)
    for start in list(children):
        stack = [(start, 0)]
        while stack:
            node, total = stack.pop()
            for child, lag in children[node]:
                if total + lag <= bound and total + lag not in found[start, child]:
                    found[start, child].add(total + lag)
                    stack.append((child, total + lag))
    return found


def _violations(graph: dict, model: Model, columns: dict[str, np.ndarray],
                latent: dict[str, np.ndarray]) -> list[str]:
    """Where the graph and the engine's derivation disagree.

    Each drawn column q is perturbed on days spaced :data:`SPACING` apart (up and down), and
    everything is derived again. Then (1) every declared edge q -> c with lag L must move c
    L days after some perturbed day, and (2) a series may move only on the days that chains of
    declared edges from q reach: a series that is no descendant of q must not move at all.
    """
    daily = [(e["from"], e["to"], e["lag_days"]) for e in _derived_edges(graph)]
    reach = _path_lags(daily, SPACING - 1)
    base = _derived(model, columns, latent)
    found = []
    for q in columns:
        moved: dict[str, set[int]] = defaultdict(set)
        for sign in (1, -1):
            out = _derived(model, *_perturbed(model, columns, latent, q, sign))
            for c, values in out.items():
                moved[c] |= set(np.flatnonzero((values != base[c]).any(axis=0)).tolist())
        if not moved[q]:
            found.append(f"perturbing {q} changed nothing")
        for c in base:
            allowed = {int(d) + lag for d in PERTURBED for lag in reach.get((q, c), ())}
            if c != q and moved[c] - allowed:
                lag = (min(moved[c] - allowed) - int(PERTURBED[0])) % SPACING
                found.append(f"{c} moved {lag} days after {q} was perturbed, which no chain of "
                             "edges in the graph explains")
        for a, b, lag in daily:
            if a == q and not moved[b] & {int(d) + lag for d in PERTURBED}:
                found.append(f"edge {a} -> {b} (lag {lag}) is not real: {b} did not move")
    return found


@pytest.mark.parametrize("extra", [(), (StressShortensSleep(),)], ids=["built-in", "lagged"])
def test_declared_edges_are_the_real_dependencies(extra: tuple) -> None:
    model, block, latent = _drawn(_config(), extra)
    graph = build_graph(model)
    assert _violations(graph, model, block.columns, latent) == []
    # the check covered the edges between daily series, every drawn column as a cause
    assert len(_derived_edges(graph)) >= 8 + len(extra)


def test_the_check_finds_a_missing_edge() -> None:
    # leave any one edge out of the graph: its child then moves where the graph says it cannot
    # (the built-in stress -> sleep coupling off: with it, a chain through the same day would
    # explain what the test's lagged edge does)
    model, block, latent = _drawn(_config(**{"couplings.stress_sleep.enabled": False}),
                                  (StressShortensSleep(),))
    graph = build_graph(model)
    for edge in _derived_edges(graph):
        partial = {**graph, "edges": [e for e in graph["edges"] if e is not edge]}
        problems = _violations(partial, model, block.columns, latent)
        assert any(f"{edge['to']} moved" in p and p.endswith(
            "no chain of edges in the graph explains") for p in problems), edge


def test_the_check_finds_a_declared_input_that_is_not_used() -> None:
    model, block, latent = _drawn(_config(), (IgnoresHumidity(),))
    problems = _violations(build_graph(model), model, block.columns, latent)
    assert problems == ["edge humidity -> sleep_quality (lag 0) is not real: sleep_quality did "
                        "not move"]


def test_flags_and_susceptibilities_move_the_onset_probability_at_their_lags() -> None:
    model, block, _ = _drawn(_config())
    graph = build_graph(model)
    lag = {(e["from"], e["to"]): e["lag_days"] for e in graph["edges"]}
    flags = derive.levels(model, block.columns)
    susceptibility = np.stack([block.patients[rf.susceptibility_column]
                               for rf in model.risk_factors], axis=1)
    baseline = np.full(block.count, 0.05)

    def p_onset(flags: list[np.ndarray], susceptibility: np.ndarray) -> np.ndarray:
        tables = factor_tables(susceptibility, model.effects(), model.fields, model.doses())
        codes = derive.pack(flags, model.fields, model.code_bytes)
        return onset_probability(baseline, tables, previous_codes(codes), 0.95)

    base = p_onset(flags, susceptibility)
    for k, rf in enumerate(model.risk_factors):
        flipped = [f.copy() for f in flags]
        flipped[k][:, PERTURBED] = flipped[k][:, PERTURBED] == 0  # off <-> the first level
        moved = set(np.flatnonzero((p_onset(flipped, susceptibility) != base).any(axis=0)))
        assert moved == {int(d) + lag[rf.flag_column, "p_onset"] for d in PERTURBED}, rf.name
        # a susceptibility moves the probability exactly where its flag was on the day before
        other = susceptibility.copy()
        other[:, k] = other[:, k] / 2
        changed = p_onset(flags, other) != base
        assert lag[rf.susceptibility_column, "p_onset"] == 0
        np.testing.assert_array_equal(changed, (previous_codes(flags[k][None])[0] > 0)
                                      & (susceptibility[:, k:k + 1] > 0))


def _matrix(daily: pl.DataFrame, column: str, n: int, days: int) -> np.ndarray:
    return daily.sort("patient_id", "day")[column].to_numpy().reshape(n, days)


@pytest.mark.parametrize("rule", [c for c in built_in() if isinstance(c, FeedbackRule)],
                         ids=lambda r: r.name)
def test_feedback_edges_are_what_the_rules_edit(rule: FeedbackRule) -> None:
    # The same cohort with the rule and without it (common random numbers, the same
    # baselines): a series may differ only on the days that chains of edges from an onset reach,
    # and the columns the rule edits do differ there.
    # The prodrome is off: it follows the onsets, which the rule changes, into the days before
    # them (edges of kind after_run with negative lags; tests/test_prodrome.py checks those).
    n, days = 80, 90
    config = _config(n, days, **{f"{rule.section._path}.enabled": True,
                                 "feedback.sleep.extra_hours": 0.5, "prodrome.enabled": False})
    with_rule = abm.simulate(config, feedback_rules=[rule])
    without = abm.simulate(config, feedback_rules=[],
                           baselines=with_rule.patients["baseline_onset_probability"])
    graph = build_graph(with_rule.model)
    feedback = [(e["to"], e["lag_days"]) for e in graph["edges"] if e["kind"] == "feedback"]
    assert feedback == list(rule.edits_declared(config))
    reach = _path_lags([(e["from"], e["to"], e["lag_days"]) for e in _derived_edges(graph)],
                       days)
    onset = _matrix(with_rule.daily, "migraine_onset", n, days)
    assert onset.any()
    # what a post-run step derives from the onsets themselves (the medication taken during
    # attacks) follows the onsets the rule moved, wherever they moved to
    follows = _follows_onsets(graph)
    for node in graph["nodes"]:
        c = node["id"]
        if node["kind"] not in DAILY or c in follows:
            continue
        a = _matrix(with_rule.daily, c, n, days)
        b = _matrix(without.daily, c, n, days)
        allowed = np.zeros_like(onset)
        for column, offset in feedback:
            # the edited column itself, and what chains of edges reach (a loop of couplings
            # brings a column back to itself on later days)
            for lag in ({0} if column == c else set()) | reach.get((column, c), set()):
                shift = offset + lag
                if shift < days:
                    allowed[:, shift:] |= onset[:, :days - shift]
        changed = (a != b) & ~(_null(a) & _null(b))  # a day without a value on both sides
        assert not changed[~allowed].any(), f"{c} changed where no edge from an onset leads"
        if c in {column for column, _ in feedback}:
            assert changed[allowed].any(), f"{rule.name} did not change {c}"


# --- abm graph ---------------------------------------------------------------------------------

SMALL = ["--patients", "20", "--days", "30", "--quiet"]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("graph") / "out"
    assert main(["run", *SMALL, "--out", str(out)]) == 0
    return out


def _listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_graph_command_draws_png_and_svg(run_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(run_folder, out)
    assert main(["graph", str(out), "--quiet"]) == 0
    assert (out / "causal_graph.png").read_bytes().startswith(PNG)
    read_outputs(out)  # the figure does not spoil the folder's checks
    assert main(["graph", str(out), "--to", str(tmp_path / "g.SVG"), "--quiet"]) == 0
    svg = (tmp_path / "g.SVG").read_bytes()
    assert svg.startswith(b"<?xml") and b"<svg" in svg
    assert main(["graph", str(out), "--to", str(out / "causal_graph.svg"), "--quiet"]) == 0
    # nothing else is left beside the figures
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.SVG", "out"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("case", ["no-folder", "not-an-output", "no-graph", "edited-graph",
                                  "suffix", "exists", "inside-out"])
def test_graph_command_refuses_bad_input(case: str, run_folder: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    shutil.copytree(run_folder, out)
    target = tmp_path / "figure.png"
    args = ["graph", str(out), "--to", str(target)]
    if case == "no-folder":
        args[1] = str(tmp_path / "missing")
    elif case == "not-an-output":
        (out / "manifest.json").unlink()
    elif case == "no-graph":
        (out / GRAPH_FILE).unlink()
    elif case == "edited-graph":
        (out / GRAPH_FILE).write_text('{"nodes": [], "edges": []}')
    elif case == "suffix":
        target = tmp_path / "figure.pdf"
        args[-1] = str(target)
    elif case == "exists":
        target.write_bytes(b"earlier")
    elif case == "inside-out":
        target = out / "figure.png"
        args[-1] = str(target)
    before = _listing(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("abm: error: ") and err.count("\n") == 1, err
    assert _listing(tmp_path) == before
    if case == "exists":
        assert target.read_bytes() == b"earlier"
        assert main([*args, "--overwrite", "--quiet"]) == 0
        assert target.read_bytes().startswith(PNG)
