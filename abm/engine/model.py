"""The model of a run: the components the configuration switches on, and what follows from them.

:class:`Model` checks a list of components (unique names and columns, inputs that exist, no
same-day cycle between columns) and derives everything the rest of the package reads: the daily
and per-patient columns in order, the risk factors and their flag columns, the editable columns
with the terms that feed them, and for each column its dependants (the terms and risk factors
that read it, with their lags) — the edges an edit follows to re-derive what depends on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from abm.engine.levels import FlagField, flag_fields
from abm.errors import ConfigError
from abm.model.catalog import built_in
from abm.model.component import (
    Column,
    Component,
    FeedbackRule,
    Lagged,
    RiskFactor,
    Term,
)

#: columns the engine writes itself, which components may read
ENGINE_COLUMNS = ("migraine_onset", "has_migraine")


@dataclass(frozen=True)
class EditPlan:
    """What re-deriving an editable column on a day involves, resolved once per model so that an
    edit (a few per attack) does no look-ups: its rounding, its terms (function, inputs, the
    lag that must fit in the run), and its dependants — ``(lag, column)`` of the terms reading it,
    ``(lag, risk factor index)`` of the flags reading it."""

    finalize: Any
    terms: tuple[tuple[Any, tuple[Lagged, ...], int], ...]
    rederive: tuple[tuple[int, str], ...]
    reflag: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class FlagPlan:
    """A risk factor's flag as an edit re-derives it: the function, its inputs as
    ``(key, column, lag)``, the first day it can be on, and where its level lives."""

    flag: Any
    inputs: tuple[tuple[Lagged, str, int], ...]
    max_lag: int
    field: FlagField


@dataclass(frozen=True)
class Dependant:
    """Something that reads ``column`` with a lag: a term of an editable column, or a risk
    factor's flag (``risk_factor`` is its index in :attr:`Model.risk_factors`)."""

    lag: int
    term: Term | None = None
    risk_factor: int = -1


class Model:
    """An ordered, checked set of components."""

    def __init__(self, components: Sequence[Component], config: Any) -> None:
        self.components = list(components)
        self.config = config
        names = [c.name for c in self.components]
        if len(set(names)) != len(names):
            duplicated = sorted({n for n in names if names.count(n) > 1})
            raise ConfigError(f"components must have unique names; repeated: {duplicated}")
        self.risk_factors = [c for c in self.components if isinstance(c, RiskFactor)]
        self.rules = [c for c in self.components if isinstance(c, FeedbackRule)]
        modal = [c for c in self.components if not isinstance(c, (RiskFactor, FeedbackRule))]
        self.daily_columns: list[Column] = [
            col for c in modal for col in c.outputs() if col.frame == "daily"]
        self.daily_columns += [rf.outputs()[0] for rf in self.risk_factors]
        self.patient_columns: list[Column] = [
            col for c in self.components for col in c.outputs() if col.frame == "patients"]
        #: columns components add to the ``attacks`` frame (``Component.attack_values``)
        self.attack_columns: list[Column] = [
            col for c in self.components for col in c.outputs() if col.frame == "attacks"]
        seen: set[str] = set()
        for col in self.daily_columns + self.patient_columns:
            if col.name in seen:
                raise ConfigError(f"column {col.name!r} is written by two components")
            seen.add(col.name)
        self.columns = {col.name: col for col in self.daily_columns}
        self.editable = {name: col for name, col in self.columns.items() if col.editable}
        self.terms: list[Term] = [t for c in self.components for t in c.terms(config)]
        self._check_inputs()
        self.dependants: dict[str, list[Dependant]] = {name: [] for name in self.columns}
        for term in self.terms:
            for column, lag in term.inputs:
                self.dependants[column].append(Dependant(lag, term=term))
        for k, rf in enumerate(self.risk_factors):
            for column, lag in rf.inputs:
                self.dependants[column].append(Dependant(lag, risk_factor=k))
        #: the columns terms read, and those terms or flags read (converted once per block)
        self.term_inputs = {c for t in self.terms for c, _ in t.inputs}
        self.read_columns = self.term_inputs | {c for rf in self.risk_factors
                                                for c, _ in rf.inputs}
        self.terms_of = {name: [t for t in self.terms if t.column == name]
                         for name in self.editable}
        #: whether terms form a loop between editable columns through earlier days (evening
        #: stress -> that night's sleep -> next day's stress): then columns are derived day by
        #: day; without a loop, column after column over whole series
        self.lagged_terms = self._lagged_loop()
        self.derive_order = self._derive_order()
        #: feedback rules that are plain callables (not components): called on every attack,
        #: invisible to calibration
        self.callbacks: list[Any] = []
        self.edit_plans = {name: self._edit_plan(name) for name in self.editable}
        #: where each risk factor's level lives in the packed codes (derived, never declared)
        self.fields = flag_fields([rf.level_bits for rf in self.risk_factors])
        self.flag_plans = [
            FlagPlan(rf.flag, tuple(((c, lag), c, lag) for c, lag in rf.inputs), rf.max_lag,
                     field)
            for rf, field in zip(self.risk_factors, self.fields, strict=True)]

    def _edit_plan(self, name: str) -> EditPlan:
        terms = tuple((t.fn, tuple(t.inputs), max(lag for _, lag in t.inputs))
                      for t in self.terms_of[name])
        deps = self.dependants[name]
        return EditPlan(
            self.columns[name].finalize, terms,
            tuple((d.lag, d.term.column) for d in deps if d.term is not None),
            tuple((d.lag, d.risk_factor) for d in deps if d.term is None))

    # --- construction --------------------------------------------------------------------------

    @classmethod
    def build(cls, config: Any, extra: Sequence[Component] = (),
              rules: Sequence[Any] | None = None) -> Model:
        """The built-in components the configuration switches on, plus ``extra`` (a user's own
        risk factors, couplings or rules). ``rules``, if given, replaces the built-in feedback
        rules (plain callables are kept as they are: the engine calls them on every attack)."""
        components = [c for c in built_in() if c.enabled(config)]
        if rules is not None:
            components = [c for c in components if not isinstance(c, FeedbackRule)]
            components += [r for r in rules if isinstance(r, Component)]
        components += list(extra)
        model = cls([c for c in components if isinstance(c, Component)], config)
        model.callbacks = [r for r in (rules or []) if not isinstance(r, Component)]
        return model

    def for_config(self, config: Any) -> Model:
        """The same components and rules under another configuration (fewer patients, say):
        what re-running a result's model takes, the user's own components included."""
        model = Model(self.components, config)
        model.callbacks = list(self.callbacks)
        return model

    def _check_inputs(self) -> None:
        known = set(self.columns) | set(ENGINE_COLUMNS)
        for c in self.components:
            for column, lag in c.inputs:
                if column not in known:
                    raise ConfigError(f"component {c.name!r} reads column {column!r}, which no "
                                      f"component writes")
                if not isinstance(lag, int) or lag < 0:
                    raise ConfigError(f"component {c.name!r}: the lag of {column!r} must be a "
                                      f"whole number of days >= 0, got {lag!r}")
        # terms and flags are re-derived on the patients' own days, from logged columns only
        readers = [(f"component {t.owner!r} adds a term from", "a term", t.inputs)
                   for t in self.terms]
        readers += [(f"risk factor {rf.name!r} reads", "a flag", rf.inputs)
                    for rf in self.risk_factors]
        for who, what, inputs in readers:
            for column, _ in inputs:
                if column not in self.columns:
                    raise ConfigError(f"{who} {column!r}: {what} reads only the components' "
                                      f"logged columns")
        for term in self.terms:
            if term.column not in self.editable:
                raise ConfigError(f"component {term.owner!r} adds to {term.column!r}, which is "
                                  f"not an editable column (declare it with finalize=...)")

    def _lagged_loop(self) -> bool:
        """Whether the editable columns' terms, lags ignored, form a cycle (a column reading
        itself on an earlier day included)."""
        reads = {name: {c for t in self.terms_of[name] for c, _ in t.inputs if c in self.editable}
                 for name in self.editable}
        done: set[str] = set()
        visiting: set[str] = set()

        def cyclic(name: str) -> bool:
            if name in visiting:
                return True
            if name in done:
                return False
            visiting.add(name)
            found = any(cyclic(c) for c in reads[name])
            visiting.discard(name)
            done.add(name)
            return found

        return any(cyclic(name) for name in self.editable)

    def _derive_order(self) -> list[str]:
        """Editable columns in an order where every same-day term input comes first."""
        order: list[str] = []
        visiting: set[str] = set()

        def visit(name: str) -> None:
            if name in order:
                return
            if name in visiting:
                raise ConfigError(f"same-day cycle between columns through {name!r}: a coupling "
                                  f"loop needs a lag of at least one day")
            visiting.add(name)
            for term in self.terms_of[name]:
                for column, lag in term.inputs:
                    # without a loop through earlier days, whole series are derived one after
                    # another, so every input comes first; with one, only same-day inputs
                    if column in self.editable and column != name and (
                            lag == 0 or not self.lagged_terms):
                        visit(column)
            visiting.discard(name)
            order.append(name)

        for name in self.editable:
            visit(name)
        return order

    def downstream(self, columns: Sequence[str]) -> set[str]:
        """``columns`` and every editable column terms derive from them, at any lag: what an
        edit of ``columns`` can change."""
        reached = set(columns)
        while True:
            more = {t.column for t in self.terms if any(c in reached for c, _ in t.inputs)}
            if more <= reached:
                return reached
            reached |= more

    # --- derived tables ------------------------------------------------------------------------

    @property
    def triggers(self) -> list[str]:
        """The risk factors' short names, in order (``weather``, ``sleep``, ...)."""
        return [rf.trigger for rf in self.risk_factors]

    @property
    def code_bytes(self) -> int:
        """Bytes per day of the packed trigger levels."""
        return max(1, max((f.byte + 1 for f in self.fields), default=1))

    def effects(self) -> np.ndarray:
        """Each risk factor's effect under the configuration."""
        return np.array([rf.effect(self.config) for rf in self.risk_factors], dtype=np.float64)

    def doses(self) -> list[tuple[float, ...]]:
        """Each risk factor's relative effect at each exposure level, under the configuration."""
        return [tuple(rf.dose_weights(self.config)) for rf in self.risk_factors]

    def component(self, name: str) -> Component:
        """The component called ``name``."""
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)


def built_in_triggers() -> tuple[str, ...]:
    """The built-in risk factors' short names, in order (what a run writes by default)."""
    return tuple(c.trigger for c in built_in() if isinstance(c, RiskFactor))
