"""A model's declarations as plain values, kept in an output folder's manifest.

Reading and exporting a folder needs the model that made it: the frames' schemas, which columns
each kind of the event log carries, when each column is observed. A run may include components of
the user's own (``simulate(components=...)``) whose code is not part of the package, so the
folder's ``manifest.json`` records what every component declares (``model``: names, kinds,
columns, log entries, triggers), and :func:`restore` rebuilds from that record a model that
declares the same: every table derived from declarations (``abm.output.schemas``, the exports)
comes out as it would from the original. What is code (draws, flags, effects) is not recorded;
a restored component raises if it is asked to run.

A folder written before the record existed holds only the built-in components its configuration
switches on, which :func:`model_of` then builds.
"""

from __future__ import annotations

from typing import Any, ClassVar

import polars as pl

from abm.engine.afterrun import switched_flags
from abm.errors import InputError
from abm.model.component import Column, Component, FeedbackRule, LogEntry, RiskFactor

#: the types a component's column may have in a record (what ``str(dtype)`` writes)
DTYPES: dict[str, pl.DataType] = {str(t): t for t in (
    pl.Boolean(), pl.Int8(), pl.Int16(), pl.Int32(), pl.Int64(), pl.UInt8(), pl.UInt16(),
    pl.UInt32(), pl.UInt64(), pl.Float32(), pl.Float64(), pl.String(), pl.Date())}


def _column(col: Column) -> dict[str, Any]:
    out = {"name": col.name, "dtype": str(col.dtype), "unit": col.unit, "meaning": col.meaning,
           "frame": col.frame, "range": list(col.range) if col.range else None,
           "feature": col.feature}
    if isinstance(col.dtype, pl.Enum):  # a categorical column: its values, in order
        out["dtype"], out["categories"] = "Enum", list(col.dtype.categories)
    return out


def _entry(entry: LogEntry) -> dict[str, Any]:
    return {"kind": entry.kind, "hour": entry.hour, "name": entry.name, "column": entry.column,
            "per_location": entry.per_location, "dtype": str(entry.dtype)}


def record(model: Any) -> list[dict[str, Any]]:
    """What every component of ``model`` declares, as JSON-ready values, in the model's order."""
    out = []
    for c in model.components:
        item: dict[str, Any] = {"name": c.name, "kind": c.kind,
                                "columns": [_column(col) for col in c.outputs()],
                                "logs": [_entry(e) for e in c.logs]}
        if getattr(c, "location_columns", ()):
            item["location_columns"] = [_column(col) for col in c.location_columns]
        if isinstance(c, RiskFactor):
            item["trigger"] = c.trigger
        if c.state_edges:
            item["state_edges"] = [list(edge) for edge in c.state_edges]
        if c.kind == "feedback":  # a rule on the attack event, or a state with columns
            item["rule"] = isinstance(c, FeedbackRule)
        if c.runs_after:
            item["after_run"] = {"changes": list(c.changes_after_run),
                                 "edges": [list(edge) for edge in c.after_run_edges],
                                 "flags": [model.risk_factors[k].trigger for _, owner, k
                                           in switched_flags(model) if owner is c]}
        out.append(item)
    return out


def _dtype(name: str, where: str) -> pl.DataType:
    if name not in DTYPES:
        raise InputError(f"{where}: unknown column type {name!r}")
    return DTYPES[name]


class _Recorded:
    """What every restored component shares: its declarations from the record."""

    def _declare(self, item: dict[str, Any], where: str) -> None:
        def column(c: dict[str, Any]) -> Column:
            dtype = (pl.Enum([str(v) for v in c.get("categories", [])]) if c["dtype"] == "Enum"
                     else _dtype(c["dtype"], where))
            return Column(c["name"], dtype, c["unit"], c["meaning"],
                          c["frame"], range=tuple(c["range"]) if c["range"] else None,
                          feature=c["feature"])
        self.name = item["name"]
        self.kind = item["kind"]
        self.columns = tuple(column(c) for c in item["columns"])
        self.logs = tuple(LogEntry(e["kind"], e["hour"], e["name"], e["column"],
                                   per_location=e["per_location"],
                                   dtype=_dtype(e["dtype"], where)) for e in item["logs"])
        self.location_columns = tuple(column(c) for c in item.get("location_columns", ()))
        self.state_edges = tuple((str(a), str(b), int(lag))
                                 for a, b, lag in item.get("state_edges", ()))
        after = item.get("after_run")
        self._runs_after = after is not None
        if after is not None:
            self.changes_after_run = tuple(after["changes"])
            self.after_run_edges = tuple((str(a), str(b), int(lag))
                                         for a, b, lag in after["edges"])
            #: the triggers whose flags the step switches (risk factors' inputs are not recorded)
            self.switched_triggers = tuple(after.get("flags", ()))

    @property
    def runs_after(self) -> bool:
        return self._runs_after

    def outputs(self) -> tuple[Column, ...]:
        return self.columns  # type: ignore[attr-defined]

    def enabled(self, config: Any) -> bool:
        return True

    def draw(self, block: Any) -> dict:
        raise InputError(f"component {self.name!r} was restored from an output's record: it "
                         "declares its columns but cannot draw them")


class RecordedComponent(_Recorded, Component):
    """A modality (or any component but a risk factor or rule) restored from a record."""


class RecordedRiskFactor(_Recorded, RiskFactor):
    """A risk factor restored from a record: its flag and effect are code, not recorded."""

    meaning: ClassVar[str] = ""

    def flag(self, v: Any, config: Any) -> Any:
        raise InputError(f"risk factor {self.name!r} was restored from an output's record: its "
                         "flag cannot be recomputed")

    def effect(self, config: Any) -> float:
        raise InputError(f"risk factor {self.name!r} was restored from an output's record: its "
                         "effect is not recorded")


class RecordedRule(_Recorded, FeedbackRule):
    """A feedback rule restored from a record (rules declare no columns)."""


def restore(records: list[dict[str, Any]], config: Any, where: str = "manifest") -> Any:
    """A model declaring what ``records`` (from :func:`record`) say, for ``config``."""
    from abm.engine.model import Model

    components: list[Component] = []
    try:
        for item in records:
            if item["kind"] == "risk_factor":
                restored: Component = RecordedRiskFactor()
                restored.trigger = item["trigger"]  # type: ignore[misc]
            elif item["kind"] == "feedback" and item.get("rule", True):
                restored = RecordedRule()
            else:
                restored = RecordedComponent()
            restored._declare(item, where)  # type: ignore[attr-defined]
            components.append(restored)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{where}: unreadable record of the model ({exc!r})") from None
    return Model(components, config)


def model_of(manifest: dict[str, Any], config: Any, where: str = "manifest") -> Any:
    """The model an output folder was made with: restored from its manifest's record, or (a
    folder written before the record existed) the built-in one of its configuration."""
    from abm.engine.model import Model

    if "model" in manifest:
        return restore(manifest["model"], config, where)
    return Model.build(config)
