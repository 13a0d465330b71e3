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


class Compiled:
    """The compiled edit path of a model: ``rederive[column](patient, day) -> change`` and
    ``apply_rules(attack)``."""

    def __init__(self, model: Any, fast_rules: list[Any],
                 planned: dict[str, list[tuple[str, int, Any]]]) -> None:
        self.constants: dict[str, Any] = {"CONFIG": model.config}
        lines: list[str] = []
        names = {column: f"rederive_{i}" for i, column in enumerate(model.editable)}
        for column in model.editable:
            lines += self._rederive(model, column, names)
        lines += self._apply_rules(fast_rules, planned, names)
        self.source = "\n".join(lines) + "\n"
        namespace = dict(self.constants)
        exec(compile(self.source, "<abm.engine.compiled>", "exec"), namespace)  # noqa: S102
        self.rederive = {column: namespace[name] for column, name in names.items()}
        self.apply_rules = namespace["apply_rules"]

    def _const(self, value: Any, hint: str) -> str:
        name = f"{hint}_{len(self.constants)}"
        self.constants[name] = value
        return name

    def _rows(self, column: str) -> str:
        col = self._const(column, "COLUMN")
        return f"p._rows.get({col}) or p._editable_rows({col})"

    def _rederive(self, model: Any, column: str, names: dict[str, str]) -> list[str]:
        plan = model.edit_plans[column]

        def read(c: str, at: str) -> str:
            # the edited column itself is at hand; any other through the patient's views
            if c == column:
                return f"values[{at}]"
            col = self._const(c, "COL")
            return f"(views.get({col}) or p.series({col}))[{at}]"

        # ``own``: the column itself was edited, so its terms' inputs did not change and the
        # stored sum of its terms holds; otherwise an input changed and the terms are evaluated
        out = [f"def {names[column]}(p, day, rows, own):",
               "    values, latent, terms = rows",
               "    views = p._views"]
        if plan.terms:
            out += ["    if not own:", "        added = 0.0"]
            for fn, inputs, first in plan.terms:
                term = self._const(fn, "TERM")
                v = ", ".join(f"{self._const((c, lag), 'KEY')}: {read(c, f'day - {lag}')}"
                              for c, lag in inputs)
                out += [f"        if day >= {first}:", f"            added += {term}({{{v}}})"]
            out += ["        terms[day] = added  # stored in float32, as the draw keeps it",
                    "    total = latent[day] + terms[day]"]
        else:
            out.append("    total = latent[day]")
        out += ["    old = values[day]",
                f"    values[day] = {self._const(plan.finalize, 'FINALIZE')}(total)"
                "  # stored in the column's dtype",
                "    new = values[day]",
                "    if new == old:",
                "        return 0.0",
                "    days = p.days"]
        for lag, target in plan.rederive:
            out += [f"    if day + {lag} < days:",
                    f"        {names[target]}(p, day + {lag}, {self._rows(target)}, False)"]
        if plan.reflag:
            out += ["    state = p._state", "    code_rows = p._code_rows"]
        for lag, k in plan.reflag:
            flag = model.flag_plans[k]
            fn = self._const(flag.flag, "FLAG")
            v = ", ".join(f"{self._const(key, 'KEY')}: {read(c, f'd - {c_lag}')}"
                          for key, c, c_lag in flag.inputs)
            keep = ~flag.mask & 0xFF
            out += [f"    d = day + {lag}",
                    "    if d < days:",
                    f"        on = d >= {flag.max_lag} and {fn}({{{v}}}, CONFIG)",
                    f"        at = code_rows[{flag.byte}] + d",
                    "        code = state[at]",
                    f"        new_code = (code | {flag.mask}) if on else (code & {keep})",
                    "        if new_code != code:",
                    "            state[at] = new_code",
                    "            p._stale.append(d + 1)"]
        out += ["    return new - old", ""]
        return out

    def _apply_rules(self, fast_rules: list[Any], planned: dict[str, list[tuple[str, int, Any]]],
                     names: dict[str, str]) -> list[str]:
        out = ["def apply_rules(attack):",
               "    p = attack.patient",
               "    day = attack.day",
               "    days = p.days",
               "    plan = p._fast or p._fast_plan()"]
        j = 0
        for rule in fast_rules:
            for column, offset, _ in planned[rule.name]:
                col = self._const(column, "COLUMN")
                cause = self._const(rule.name, "CAUSE")
                out += [f"    row, delta = plan[{j}]",
                        "    value = row[day] if row is not None else delta",
                        f"    if value and day + {offset} < days:",
                        f"        rows = {self._rows(column)}",
                        f"        rows[1][day + {offset}] += value",
                        f"        change = {names[column]}(p, day + {offset}, rows, True)",
                        f"        p._log((p.index, day + {offset}, {cause}, {col}, change, "
                        "p._today))"]
                j += 1
        out.append("")
        return out

