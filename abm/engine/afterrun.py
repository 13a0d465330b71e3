"""The post-run step: components that change daily columns once every onset is decided.

A component that overrides :meth:`~abm.model.component.Component.after_run` (the prodrome) sees
the finished cohort, vectorized over every patient at once, and returns new values of its own
daily columns and of the other components' columns it declares in ``changes_after_run``. The
step runs after the agents (``abm.engine.simulation.run_agents``), in the model's order, and:

1. never changes an onset (the agents have decided them; ``cohort.onsets`` is not touched);
2. stores the returned columns (a column that edits or terms may change is refused: its
   latent value and the terms derived from it would no longer agree);
3. re-derives the flags of the risk factors that read a changed column, from the stored
   columns, and records where each such flag was switched on by the step
   (:attr:`~abm.engine.cohort.Cohort.switched_on`, one array per :func:`switched_flags` entry),
   which the ``attacks`` frame reports for the day before each onset.

The flags and the onset probabilities recorded afterwards are computed from the stored
columns, so they stay recomputable from the logged frames; an onset's logged ``p_onset`` may
then include a flag that the step switched on after the onset was decided.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.engine import derive
from abm.engine.block import Block
from abm.errors import ConfigError
from abm.model.component import Component


def steps(model: Any) -> list[Component]:
    """The components of ``model`` that have a post-run step, in order."""
    return [c for c in model.components if c.runs_after]


def switched_flags(model: Any) -> list[tuple[str, Component, int]]:
    """``(attacks column, component, risk factor index)`` for each risk factor that reads a
    column a post-run step changes: the column ``<trigger>_from_<component>`` says the step
    switched that flag on, on the day before the onset."""
    out = []
    for c in steps(model):
        changed = set(c.changes_after_run)
        # a component restored from an output's record names them (``abm.output.declared``)
        named = getattr(c, "switched_triggers", None)
        for k, rf in enumerate(model.risk_factors):
            if (rf.trigger in named if named is not None
                    else any(column in changed for column, _ in rf.inputs)):
                out.append((f"{rf.trigger}_from_{c.name}", c, k))
    return out


def _check(model: Any, component: Component, name: str) -> None:
    own = {col.name for col in component.outputs() if col.frame == "daily"}
    if name not in own and name not in component.changes_after_run:
        raise ConfigError(f"component {component.name!r}: after_run returned {name!r}, which is "
                          f"neither its own column nor declared in changes_after_run")
    if name in model.editable or name in model.term_inputs:
        raise ConfigError(f"component {component.name!r}: after_run cannot change {name!r}: "
                          f"edits and couplings derive it or from it during the run")


def apply(cohort: Any) -> None:
    """Run every post-run step of the cohort's model (see the module's docstring)."""
    model = cohort.model
    found = steps(model)
    cohort.switched_on = {}
    if not found:
        return
    n, days = cohort.size, cohort.days
    counts = np.fromiter((len(o) for o in cohort.onsets), dtype=np.int64, count=n)
    flat = np.fromiter((d for o in cohort.onsets for d in o), dtype=np.int64,
                       count=int(counts.sum()))
    onsets = np.zeros((n, days), dtype=bool)
    onsets[np.repeat(np.arange(n), counts), flat] = True
    block = Block(cohort.config, cohort.calendar, cohort.shared, cohort.first_patient, n)
    block.patients = cohort.patients
    block.columns = cohort.columns
    block.attacks = cohort.attacks  # what each onset was like (treated, span) as it happened
    block.states = cohort.state_log  # the periods of the patients' slow states
    watched = switched_flags(model)
    for component in found:
        changed = set()
        for name, values in component.after_run(block, onsets).items():
            _check(model, component, name)
            stored = cohort.columns[name]
            cohort.columns[name] = np.asarray(values).astype(stored.dtype, copy=False)
            changed.add(name)
        rederive = {k for k, rf in enumerate(model.risk_factors)
                    if any(column in changed for column, _ in rf.inputs)}
        if not rederive:
            continue
        before = [derive.level_in(cohort.codes, field) for field in model.fields]
        after = [derive.level_of(rf, cohort.columns, model.config) if k in rederive
                 else before[k] for k, rf in enumerate(model.risk_factors)]
        cohort.codes[:] = derive.pack(after, model.fields, model.code_bytes)
        for column, owner, k in watched:
            if owner is component:
                cohort.switched_on[column] = (after[k] > 0) & (before[k] == 0)
