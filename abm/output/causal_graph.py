"""The causal graph of a run, as data: ``causal_graph.json`` beside the frames.

The graph is derived from the model's declarations only (``abm.model.component``), so it cannot
drift from the code that generated the data: a component's ``terms`` and ``inputs``, a risk
factor's flag inputs, and a feedback rule's declared edits are its edges; the columns the
components write are its nodes. Nothing here knows any particular component.

Nodes (``id`` is the column's name):

- ``column``: a daily column a component draws (``editable`` when couplings and feedback
  rules may change it);
- ``flag``: a risk factor's daily ``<trigger>_trigger``;
- ``susceptibility``: a risk factor's per-patient ``susceptibility_<trigger>``;
- ``engine``: what the engine computes itself: the per-patient baseline, the day's onset
  probability ``p_onset``, the attack ``migraine_onset`` and ``has_migraine``.

Edges (``from`` -> ``to``, ``lag_days``: the value of day d - lag affects the child of day d):

- ``coupling``: an additive term of an editable column, a column's own included (a night's
  quality from its length);
- ``input``: a column a modality's draw reads (declared ``inputs`` that are no term's);
- ``risk_factor``: a flag's inputs -> the flag; the flag -> ``p_onset`` with lag 1; the
  susceptibility -> ``p_onset``;
- ``onset``: the engine's own steps (baseline -> ``p_onset`` -> ``migraine_onset`` ->
  ``has_migraine``);
- ``feedback``: ``migraine_onset`` -> the column a rule edits, the lag being the edit's offset;
  and the edges a patient's slow states follow during the run (``Component.state_edges``:
  ``medication_days_30d`` -> ``medication_overuse`` -> ``chronic_state`` and
  ``state_multiplier``, which multiplies the baseline in ``p_onset``);
- ``after_run``: what a component's post-run step changes once the onsets are decided
  (``Component.after_run_edges``): ``migraine_onset`` -> a prodrome symptom with lag -1 (the
  onset of day d changes the day before it: reverse causation), ``food_craving`` ->
  ``chocolate_consumed`` with lag 0. The engine's derivation of the draw does not make these
  edges (the post-run step does), so the graph tests that perturb the drawn columns leave them
  out, and compare runs whose onsets differ with the prodrome off.

Each edge names the component that makes it, a short description and the callable that computes
it, with the component's parameters (``Component.parameters``) and its literature source.
Feedback rules that are plain callables declare nothing; they are listed under
``undeclared_rules``, because the graph cannot show what they do.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from abm.engine.model import ENGINE_COLUMNS, Model
from abm.model.attacks import DRIFT_COLUMN, STATE_COLUMN
from abm.model.component import Component, Coupling, FeedbackRule, RiskFactor
from abm.output import schemas
from abm.output.files import file_record

#: the file every run writes beside its frames
GRAPH_FILE = "causal_graph.json"
#: figures ``abm graph`` draws into an output folder by default: not part of the output, so
#: checking the folder against its manifest leaves them alone
FIGURE_FILES = ("causal_graph.png", "causal_graph.svg")
#: what the file is and which layout of it this is
FORMAT, VERSION = "abm-causal-graph", 1

ONSET_PROBABILITY = "p_onset"
BASELINE = "baseline_onset_probability"
#: the daily column that multiplies the baseline (the attacks component's drift of frequency)
DRIFT = DRIFT_COLUMN
ONSET, HAS_MIGRAINE = ENGINE_COLUMNS
NODE_KINDS = ("column", "flag", "susceptibility", "engine")
EDGE_KINDS = ("coupling", "input", "risk_factor", "onset", "feedback", "after_run")


def jsonable(value: Any) -> Any:
    """A parameter as JSON holds it: tuples as lists, dates as ISO text, anything else as text."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "item"):  # a NumPy scalar
        return jsonable(value.item())
    return str(value)


def _summary(obj: Any) -> str:
    """The first sentence of a docstring, on one line."""
    text = " ".join((getattr(obj, "__doc__", None) or "").replace("``", "").split())
    return text.split(". ")[0].rstrip(".") if text else ""


def _callable(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def _method(component: Component, name: str) -> str:
    return _callable(getattr(type(component), name))


def _node(name: str, kind: str, component: str | None, frame: str, dtype: Any, unit: str,
          meaning: str, editable: bool = False) -> dict[str, Any]:
    return {"id": name, "kind": kind, "component": component, "frame": frame,
            "dtype": str(dtype), "unit": unit, "meaning": meaning, "editable": editable}


def _nodes(model: Model) -> list[dict[str, Any]]:
    """Every daily column, the flags, the susceptibilities and the engine's own nodes."""
    owner = {col.name: c for c in model.components for col in c.outputs()}
    nodes = []
    for col in model.daily_columns:
        c = owner[col.name]
        kind = "flag" if isinstance(c, RiskFactor) else "column"
        nodes.append(_node(col.name, kind, c.name, "daily", col.dtype, col.unit, col.meaning,
                           col.editable))
    for rf in model.risk_factors:
        col = rf.outputs()[1]
        nodes.append(_node(col.name, "susceptibility", rf.name, "patients", col.dtype, col.unit,
                           col.meaning))
    dtype, unit, meaning = schemas.PATIENT_ENGINE[BASELINE]
    nodes.append(_node(BASELINE, "engine", None, "patients", dtype, unit, meaning))
    dtype, unit, meaning = schemas.ATTACK_TAIL[ONSET_PROBABILITY]
    nodes.append(_node(ONSET_PROBABILITY, "engine", None, "attacks", dtype, unit, meaning))
    for name in (ONSET, HAS_MIGRAINE):
        dtype, unit, meaning = schemas.DAILY_ENGINE[name]
        nodes.append(_node(name, "engine", None, "daily", dtype, unit, meaning))
    return nodes


class _Edges:
    """The edges collected so far; a repeated edge (same ends, lag, kind, component) once."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.items: list[dict[str, Any]] = []
        self._seen: set[tuple[str, str, int, str, str | None]] = set()

    def add(self, parent: str, child: str, lag: int, kind: str, component: Component | None,
            description: str, function: str, parameters: dict[str, Any] | None = None) -> None:
        name = component.name if component is not None else None
        key = (parent, child, lag, kind, name)
        if key in self._seen:
            return
        self._seen.add(key)
        if parameters is None:
            parameters = component.parameters(self.config) if component is not None else {}
        self.items.append({
            "from": parent, "to": child, "lag_days": lag, "kind": kind,
            "function": {"component": name, "callable": function, "description": description},
            "parameters": jsonable(parameters),
            "source": component.source if component is not None else "",
        })


def _term_edges(model: Model, edges: _Edges) -> None:
    by_name = {c.name: c for c in model.components}
    for term in model.terms:
        owner = by_name[term.owner]
        if isinstance(owner, Coupling):  # its Term wraps ``owner.term``
            function, what = _method(owner, "term"), _summary(owner) or _summary(owner.term)
        else:
            function, what = _callable(term.fn), _summary(term.fn) or _summary(owner)
        for column, lag in term.inputs:
            edges.add(column, term.column, lag, "coupling", owner,
                      f"adds to {term.column}: {what}", function)


def _input_edges(model: Model, edges: _Edges) -> None:
    """Declared inputs of modalities that no term accounts for: the draw reads them."""
    for c in model.components:
        if isinstance(c, RiskFactor | FeedbackRule | Coupling) or not c.inputs:
            continue
        termed = {(col, lag) for t in model.terms if t.owner == c.name for col, lag in t.inputs}
        for column, lag in c.inputs:
            if (column, lag) in termed:
                continue
            for col in c.outputs():
                if col.frame == "daily":
                    edges.add(column, col.name, lag, "input", c,
                              f"{c.name}'s draw reads it: {_summary(c)}", _method(c, "draw"))


def _risk_factor_edges(model: Model, edges: _Edges) -> None:
    for rf in model.risk_factors:
        what = rf.meaning or _summary(rf)
        for column, lag in rf.inputs:
            edges.add(column, rf.flag_column, lag, "risk_factor", rf, what, _method(rf, "flag"))
        effect = rf.effect(model.config)
        edges.add(rf.flag_column, ONSET_PROBABILITY, 1, "risk_factor", rf,
                  f"while on, the next day's onset probability is multiplied by 1 + {effect:g} "
                  f"x {rf.susceptibility_column}", "abm.engine.hazard.onset_probability")
        edges.add(rf.susceptibility_column, ONSET_PROBABILITY, 0, "risk_factor", rf,
                  f"scales the effect of {rf.flag_column} for the patient",
                  "abm.engine.hazard.factor_tables")


def _onset_edges(model: Model, edges: _Edges) -> None:
    """The engine's own steps; the outcome components (what an attack is) are named, since
    their parameters (the probability's cap among them) set these steps."""
    outcome = next((c for c in model.components if c.kind == "outcome"), None)
    edges.add(BASELINE, ONSET_PROBABILITY, 0, "onset", outcome,
              "the calibrated onset probability of a day with no trigger on the day before",
              "abm.engine.hazard.onset_probability")
    if DRIFT in model.columns:
        edges.add(DRIFT, ONSET_PROBABILITY, 0, "onset", outcome,
                  "multiplies the day's baseline: the patient's slow drift of frequency",
                  "abm.engine.hazard.onset_probability")
    if STATE_COLUMN in model.columns:
        edges.add(STATE_COLUMN, ONSET_PROBABILITY, 0, "onset", outcome,
                  "multiplies the day's baseline: the patient's slow states (medication-overuse "
                  "headache, chronic migraine, a preventive)",
                  "abm.engine.hazard.onset_probability")
    edges.add(ONSET_PROBABILITY, ONSET, 0, "onset", outcome,
              "an attack starts when the day's uniform draw falls below p_onset and no attack "
              "is under way at the start of the day", "abm.engine.patient.Patient.live")
    edges.add(ONSET, HAS_MIGRAINE, 0, "onset", outcome,
              "the days an attack covers, from its onset hour and duration",
              "abm.output.recorder.record")


def declared_edits(rule: FeedbackRule, config: Any) -> tuple[tuple[str, int], ...] | None:
    """``(column, offset_days)`` of each edit ``rule`` makes: its own declaration, else what its
    ``planned`` returns for one patient (``None`` if that fails: the rule's edges are unknown)."""
    edits = rule.edits_declared(config)
    if edits is not None:
        return tuple((str(column), int(offset)) for column, offset in edits)
    from abm.engine.block import Block
    from abm.engine.calendar import Calendar

    try:
        block = Block(config, Calendar(config.run.start, config.run.days), {}, 0, 1)
        return tuple((e.column, int(e.offset_days)) for e in rule.planned(block))
    except Exception:  # a custom rule's planned() needs more than a bare block
        return None


def _feedback_edges(model: Model, edges: _Edges) -> list[dict[str, str]]:
    undeclared = [{"rule": str(getattr(r, "name", type(r).__name__)),
                   "why": "a plain callable declares no edits"} for r in model.callbacks]
    for rule in model.rules:
        edits = declared_edits(rule, model.config)
        if edits is None:
            undeclared.append({"rule": rule.name, "why": "edits_declared() is not implemented "
                               "and planned() needs more than a block of one patient"})
            continue
        for column, offset in edits:
            edges.add(ONSET, column, offset, "feedback", rule, _summary(rule),
                      _method(rule, "planned"))
    return undeclared


def _state_edges(model: Model, edges: _Edges) -> None:
    """What the patients' state machines follow during the run (``Component.state_edges``)."""
    for c in model.components:
        for parent, child, lag in c.state_edges:
            if parent in model.columns and child in model.columns:
                edges.add(parent, child, lag, "feedback", c,
                          f"during the run, a patient's state machine: {_summary(c)}",
                          "abm.engine.states.PatientStates")


def _after_run_edges(model: Model, edges: _Edges) -> None:
    for c in model.components:
        if not c.runs_after:
            continue
        for parent, child, lag in c.after_run_edges:
            when = "the day before" if lag == -1 else (
                f"{-lag} days before" if lag < 0 else "the same day")
            edges.add(parent, child, lag, "after_run", c,
                      f"after the run, from the decided onsets: {parent} sets {child} {when}",
                      _method(c, "after_run"))


def build_graph(model: Model) -> dict[str, Any]:
    """The causal graph of ``model`` under its configuration, as JSON-ready data."""
    from abm import __version__

    edges = _Edges(model.config)
    _term_edges(model, edges)
    _input_edges(model, edges)
    _risk_factor_edges(model, edges)
    _onset_edges(model, edges)
    undeclared = _feedback_edges(model, edges)
    _after_run_edges(model, edges)
    _state_edges(model, edges)
    nodes = _nodes(model)
    components = [{"name": c.name, "kind": c.kind, "description": _summary(c),
                   "source": c.source, "parameters": jsonable(c.parameters(model.config))}
                  for c in model.components]
    return {"format": FORMAT, "version": VERSION, "abm_version": __version__,
            "time_unit": "day", "node_kinds": list(NODE_KINDS), "edge_kinds": list(EDGE_KINDS),
            "nodes": nodes, "edges": edges.items, "components": components,
            "undeclared_rules": undeclared}


def model_of(result: Any) -> Model:
    """The model that made ``result``; for frames read back from files (no model), the built-in
    model of their configuration, which is what ``abm run`` uses."""
    model = getattr(result, "model", None)
    return model if model is not None else Model.build(result.config)


def write_graph(folder: Path, model: Model,
                write: Callable[[Path, Callable[[Path], None]], None] | None = None) -> dict:
    """Write ``folder/causal_graph.json`` for ``model``; return its manifest record.

    ``write(path, fill)``, if given, writes the file (sharded runs write it atomically)."""
    text = json.dumps(build_graph(model), indent=2, ensure_ascii=False) + "\n"
    path = folder / GRAPH_FILE

    def fill(target: Path) -> None:
        target.write_text(text, encoding="utf-8")

    if write is None:
        fill(path)
    else:
        write(path, fill)
    return file_record(path)
