"""The components as a table, for the documentation (``python -m abm.docgen``)."""

from __future__ import annotations

from typing import Any

from abm.model.catalog import built_in
from abm.model.component import Coupling, RiskFactor


def _inputs(component: Any) -> str:
    def one(column: str, lag: int) -> str:
        return f"`{column}`" + (f" (day −{lag})" if lag else "")
    return ", ".join(one(c, lag) for c, lag in component.inputs) or "—"


def components_table(components: list[Any] | None = None) -> str:
    """One row per component: name, kind, what it writes, what it reads, its source."""
    rows = ["| component | kind | writes | reads | source |", "|---|---|---|---|---|"]
    for c in components if components is not None else built_in():
        if isinstance(c, RiskFactor):
            writes = f"`{c.flag_column}`, `{c.susceptibility_column}`"
        elif isinstance(c, Coupling):
            writes = "adds to " + ", ".join(f"`{t}`" for t in c.targets)
        else:
            writes = ", ".join(f"`{col.name}`" for col in c.outputs()) or (
                "edits (feedback)" if c.kind == "feedback" else "—")
        rows.append(f"| `{c.name}` | {c.kind.replace('_', ' ')} | {writes} | {_inputs(c)} | "
                    f"{c.source} |")
    return "\n".join(rows) + "\n"
