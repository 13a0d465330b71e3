"""The edit path, written out for one model: plain Python functions made from its declarations.

An attack makes a few edits, and each edit re-derives a few values: per attack, a few
microseconds of Python are all the budget allows (``benchmarks/throughput.py``). Walking the
model's plans at run time (loops over dependants, attribute look-ups, one call per flag) cost
twice that. So, once per model, the plans are turned into source text and compiled: for each
editable column a function ``rederive(patient, day)`` with its terms and its dependants unrolled,
and one attack callback that makes the planned edits of every rule that only plans edits. The
functions call the components' own ``finalize``, ``term`` and ``flag`` functions (passed in as
constants), so what they compute is exactly what :mod:`abm.engine.derive` computes on whole
arrays; only the bookkeeping around the calls is written out. ``source`` keeps the text, for
whoever needs to read what runs.

This is the same technique the standard library uses for ``dataclasses`` and ``namedtuple``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: the patient attribute that views its packed state in each packed format (``abm.engine.patient``)
PACKED_VIEWS = {"f": ("_pf", 4), "b": ("_pb", 1), "B": ("_state", 1), "?": ("_state", 1)}


class Compiled:
    """The compiled edit path of a model: ``rederive[column](patient, day, own) -> change``,
    ``add[column](patient, day, delta) -> change`` and ``apply_rules(attack)``.

    A region of the patients' packed state (``layout``: name -> (byte offset, bytes, format))
    is read through one typed view of the whole state at a fixed offset; a column that is not
    packed through the patient's windows onto the cohort's arrays.
    """

    def __init__(self, model: Any, fast_rules: list[Any],
                 planned: dict[str, list[tuple[str, int, Any]]],
                 layout: dict[str, tuple[int, int, str]] | None = None) -> None:
        self.constants: dict[str, Any] = {"CONFIG": model.config}
        self.layout = layout or {}
        lines: list[str] = []
        names = {column: f"rederive_{i}" for i, column in enumerate(model.editable)}
        for column in model.editable:
            lines += self._rederive(model, column, names)
            lines += self._add(column, names)
        lines += self._apply_rules(fast_rules, planned, names)
        self.source = "\n".join(lines) + "\n"
        namespace = dict(self.constants)
        exec(compile(self.source, "<abm.engine.compiled>", "exec"), namespace)  # noqa: S102
        self.rederive = {column: namespace[name] for column, name in names.items()}
        self.add = {column: namespace[f"add_{name}"] for column, name in names.items()}
        self.apply_rules = namespace["apply_rules"]

    def _const(self, value: Any, hint: str) -> str:
        name = f"{hint}_{len(self.constants)}"
        self.constants[name] = value
        return name

    def _packed(self, name: str, index: str) -> str | None:
        """An expression reading the packed region ``name`` at ``index``, if it is packed in a
        format with a view."""
        if name not in self.layout or self.layout[name][2] not in PACKED_VIEWS:
            return None
        offset, _, fmt = self.layout[name]
        view, size = PACKED_VIEWS[fmt]
        return f"p.{view}[{offset // size} + {index}]"

    def _ref(self, column: str, part: str, index: str) -> str:
        """``part`` (values, latent, terms) of an editable column on day ``index``."""
        packed = self._packed(f"{part}.{column}", index)
        if packed is not None:
            return packed
        rows = {"values": 0, "latent": 1, "terms": 2}[part]
        col = self._const(column, "COLUMN")
        return f"(p._rows.get({col}) or p._editable_rows({col}))[{rows}][{index}]"

    def _read(self, column: str, index: str) -> str:
        """Any daily column on day ``index``, as the run has it now."""
        packed = self._packed(f"values.{column}", index)
        if packed is not None:
            return packed
        col = self._const(column, "COL")
        return f"(p._views.get({col}) or p.series({col}))[{index}]"

    def _rederive(self, model: Any, column: str, names: dict[str, str]) -> list[str]:
        plan = model.edit_plans[column]
        # ``own``: the column itself was edited, so its terms' inputs did not change and the
        # stored sum of its terms holds; otherwise an input changed and the terms are evaluated
        out = [f"def {names[column]}(p, day, own):"]
        if plan.terms:
            out += ["    if not own:", "        added = 0.0"]
            for fn, inputs, first in plan.terms:
                term = self._const(fn, "TERM")
                v = ", ".join(f"{self._const((c, lag), 'KEY')}: {self._read(c, f'day - {lag}')}"
                              for c, lag in inputs)
                out += [f"        if day >= {first}:", f"            added += {term}({{{v}}})"]
            out += [f"        {self._ref(column, 'terms', 'day')} = added"
                    "  # stored in float32, as the draw keeps it",
                    f"    total = {self._ref(column, 'latent', 'day')} + "
                    f"{self._ref(column, 'terms', 'day')}"]
        else:
            out.append(f"    total = {self._ref(column, 'latent', 'day')}")
        value = self._ref(column, "values", "day")
        out += [f"    old = {value}",
                f"    {value} = {self._const(plan.finalize, 'FINALIZE')}(total)"
                "  # stored in the column's dtype",
                f"    new = {value}",
                "    if new == old:",
                "        return 0.0",
                "    days = p.days"]
        for lag, target in plan.rederive:
            out += [f"    if day + {lag} < days:",
                    f"        {names[target]}(p, day + {lag}, False)"]
        if plan.reflag:
            out += ["    state = p._state", "    code_rows = p._code_rows"]
        for lag, k in plan.reflag:
            flag = model.flag_plans[k]
            fn = self._const(flag.flag, "FLAG")
            v = ", ".join(f"{self._const(key, 'KEY')}: {self._read(c, f'd - {c_lag}')}"
                          for key, c, c_lag in flag.inputs)
            field = flag.field
            keep = ~field.mask & 0xFF
            out += [f"    d = day + {lag}",
                    "    if d < days:",
                    f"        at = code_rows[{field.byte}] + d",
                    "        code = state[at]"]
            if field.width == 1:
                out += [f"        on = d >= {flag.max_lag} and {fn}({{{v}}}, CONFIG)",
                        f"        new_code = (code | {field.mask}) if on else (code & {keep})"]
            else:  # a dose level: the function's value, in the field's bits
                out += [f"        level = int({fn}({{{v}}}, CONFIG)) if d >= {flag.max_lag} "
                        "else 0",
                        f"        new_code = (code & {keep}) | (level << {field.shift})"]
            out += ["        if new_code != code:",
                    "            state[at] = new_code",
                    "            p._stale.append(d + 1)"]
        out += ["    return new - old", ""]
        return out

    def _add(self, column: str, names: dict[str, str]) -> list[str]:
        return [f"def add_{names[column]}(p, day, delta):",
                f"    {self._ref(column, 'latent', 'day')} += delta",
                f"    return {names[column]}(p, day, True)", ""]

    def _apply_rules(self, fast_rules: list[Any], planned: dict[str, list[tuple[str, int, Any]]],
                     names: dict[str, str]) -> list[str]:
        out = ["def apply_rules(attack):",
               "    p = attack.patient",
               "    day = attack.day",
               "    days = p.days"]
        for rule in fast_rules:
            for j, (column, offset, delta) in enumerate(planned[rule.name]):
                col = self._const(column, "COLUMN")
                cause = self._const(rule.name, "CAUSE")
                if isinstance(delta, np.ndarray):
                    value = (self._packed(f"planned.{rule.name}.{j}", "day")
                             or f"{self._const(delta, 'DELTA')}[p.index, day]")
                else:
                    value = repr(float(delta))
                out += [f"    value = {value}",
                        f"    if value and day + {offset} < days:",
                        f"        change = add_{names[column]}(p, day + {offset}, value)",
                        f"        p._log((p.index, day + {offset}, {cause}, {col}, change, "
                        "p._today))"]
        out.append("")
        return out
