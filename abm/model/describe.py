"""The components as a table, for the documentation (``python -m abm.docgen``)."""

from __future__ import annotations

from typing import Any

from abm.model.catalog import built_in, observers
from abm.model.component import Coupling, RiskFactor


def _inputs(component: Any) -> str:
    def one(column: str, lag: int) -> str:
        return f"`{column}`" + (f" (day −{lag})" if lag else "")
    return ", ".join(one(c, lag) for c, lag in component.inputs) or "—"


def components_table(components: list[Any] | None = None) -> str:
    """One row per component: name, kind, what it writes, what it reads, its source."""
    rows = ["| component | kind | writes | reads | source |", "|---|---|---|---|---|"]
    for c in components if components is not None else [*built_in(), *observers()]:
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


def _settings_rows(component: Any) -> list[str]:
    import dataclasses

    section = component.section
    if section is None:
        return []
    rows = ["| setting | default | source |", "|---|---|---|"]
    for field in dataclasses.fields(section):
        if field.default is dataclasses.MISSING:
            continue
        default = field.default
        shown = (str(list(default)) if isinstance(default, tuple)
                 else str(default).lower() if isinstance(default, bool) else repr(default)
                 if isinstance(default, str) else str(default))
        rows.append(f"| `{section._path}.{field.name}` | `{shown}` | "
                    f"{field.metadata.get('source', '')} |")
    return rows


def _prose(text: str | None) -> str:
    """A docstring as Markdown paragraphs (its indentation removed)."""
    import inspect
    import re

    text = inspect.cleandoc(text or "").strip()
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)  # Sphinx roles -> code
    return text.replace("``", "`")


def model_reference(components: list[Any] | None = None) -> str:
    """``docs/model.md``'s reference: per component, what it does (its module's and class's
    docstrings, where the equations are written), the columns it writes, what it reads, and
    its settings with their sources."""
    import sys

    out: list[str] = []
    described: set[str] = set()
    shown: set[str] = set()  # sections already listed (components may share one)
    for c in components if components is not None else [*built_in(), *observers()]:
        out.append(f"### `{c.name}` ({c.kind.replace('_', ' ')})\n")
        module = type(c).__module__
        if module not in described:
            described.add(module)
            out.append(_prose(sys.modules[module].__doc__) + "\n")
        if type(c).__doc__:
            out.append(_prose(type(c).__doc__) + "\n")
        if c.source:
            out.append(f"Source: {c.source}.\n")
        if isinstance(c, RiskFactor):
            out.append(f"Flag `{c.flag_column}`: {c.meaning}. Doses: "
                       f"{', '.join(str(d) for d in c.doses)}.\n")
        elif isinstance(c, Coupling):
            out.append(f"Adds to `{c.target}`.\n")
        columns = [] if isinstance(c, RiskFactor) else list(c.outputs())
        if columns:
            out.append("| column | frame | unit | meaning |\n|---|---|---|---|")
            out += [f"| `{col.name}` | {col.frame} | {col.unit} | {col.meaning} |"
                    for col in columns]
            out.append("")
        if c.inputs:
            out.append(f"Reads: {_inputs(c)}.\n")
        if c.section is not None and c.section._path not in shown:
            shown.add(c.section._path)
            out += _settings_rows(c)
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def assumptions_table(components: list[Any] | None = None) -> str:
    """Every default whose source is an assumption (no published figure behind it)."""
    import dataclasses

    rows = ["| setting | default | why |", "|---|---|---|"]
    seen: set[str] = set()
    for c in components if components is not None else [*built_in(), *observers()]:
        section = c.section
        if section is None or section._path in seen:
            continue
        seen.add(section._path)
        for field in dataclasses.fields(section):
            source = field.metadata.get("source", "")
            if "assumption" in source:
                rows.append(f"| `{section._path}.{field.name}` | `{field.default}` | {source} |")
    return "\n".join(rows) + "\n"
