"""Which feedback caused an attack: the ``attacks`` frame's ``feedback_chain``.

An attack is ``caused_by_feedback`` when, with the same random draws, it would not have started
that day on the series as drawn before the run: the onset probability of its day was raised by
the feedback. That happens in two ways, and the chain names the path:

- **a slow state** raised the baseline that day above the series as drawn:
  ``medication_overuse`` (during overuse and the fading after it), ``chronification`` (a patient
  who changed from episodic to chronic);
- **a rule's edit** switched on a risk factor's flag on the day before the onset (a flag the
  unedited series did not have, or a higher dose level): the path is the rule, the couplings
  its edited column passed through on the way to the flag's inputs (the causal graph's shortest
  path), and the flag, steps joined by ``" > "``, e.g.
  ``stress_after_attack > stress_sleep > sleep_trigger``. The source is the latest earlier attack
  of the patient whose edits reach that day; if the source was itself caused by an edit, its
  path comes first: ``stress_after_attack > stress_trigger > stress_after_attack >
  stress_trigger`` is the loop going round twice.

An attack with several causes lists them joined by ``" + "``, the states first.
"""

from __future__ import annotations

from collections import deque
from operator import itemgetter
from typing import Any

import numpy as np

from abm.engine import derive
from abm.model.attacks import STATE_COLUMN
from abm.model.feedback.chronification import COLUMN as CHRONIC
from abm.model.feedback.chronification import Chronification
from abm.model.feedback.overuse import COLUMN as OVERUSE
from abm.model.feedback.overuse import MedicationOveruse
from abm.model.feedback.state import PREVALENT

SEPARATOR = " > "
#: between the causes of one attack (a state, a path through an edit)
CAUSES = " + "
#: how many time constants of its fading an overuse period still counts as a cause (assumption:
#: after three, 5% of the extra is left)
FADE_SPANS = 3.0


def couplings_between(model: Any, column: str, targets: set[str]) -> list[str] | None:
    """The couplings on the shortest path of terms from ``column`` to any of ``targets``
    (``[]`` when ``column`` is one of them; ``None`` when no path exists)."""
    seen = {column: []}
    queue = deque([column])
    while queue:
        at = queue.popleft()
        if at in targets:
            return seen[at]
        for term in model.terms:
            if term.column not in seen and any(c == at for c, _ in term.inputs):
                seen[term.column] = [*seen[at], term.owner]
                queue.append(term.column)
    return None


def feedback_chains(cohort: Any, patient: np.ndarray, day: np.ndarray,
                    caused: np.ndarray) -> list[str | None]:
    """The chain of every attack (``patient``, ``day``: the onsets in frame order; ``caused``:
    ``caused_by_feedback``), ``None`` where it was not caused by feedback."""
    chains: list[str | None] = [None] * len(day)
    todo = np.flatnonzero(caused)
    if not todo.size:
        return chains
    model = cohort.model
    before = getattr(cohort, "codes_before", None)
    rows, days = patient[todo], day[todo]
    switched = (_switched_flags(model, cohort.codes, before, rows, days) if before is not None
                else np.zeros((todo.size, 0), dtype=bool))
    edits = _edits_by_patient(cohort, np.unique(rows[switched.any(axis=1)]))
    periods = _state_periods(cohort)
    fade = FADE_SPANS * cohort.config.feedback.overuse.reversion_days
    paths: dict[tuple[str, int], list[str] | None] = {}
    index = {(int(i), int(d)): k for i, d, k in zip(rows, days, todo, strict=True)}
    chronic_at_start = cohort.patients["is_chronic"]
    drawn = getattr(cohort, "state_before", None)
    prevalent = cohort.patients.get(PREVALENT)
    multiplier = cohort.columns.get(STATE_COLUMN)
    paths_of: dict[int, str] = {}  # each attack's path through an edit (for later heads)
    for j, k in enumerate(todo):  # in frame order: a source comes before the attacks it causes
        i, d = int(rows[j]), int(days[j])
        steps: list[str] = []
        # a state is a cause only where it raised the baseline above the series as drawn (a
        # patient who overuses from day 0 has it in the drawn series already)
        raised = drawn is not None and multiplier[i, d] > drawn[i, d]
        # overuse raises it only for a patient who did not overuse from day 0 (the drawn series
        # has that patient's medication-overuse headache; it never goes above it)
        overuse_raised = raised and not (prevalent is not None and prevalent[i])
        for start, end in periods.get((OVERUSE, i), ()) if overuse_raised else ():
            if start <= d < end + fade:
                steps.append(MedicationOveruse.name)
                break
        for start, end in periods.get((CHRONIC, i), ()) if raised else ():
            if start <= d < end and not chronic_at_start[i]:
                steps.append(Chronification.name)
                break
        on = np.flatnonzero(switched[j])
        if on.size:
            path = _edit_chain(model, on, edits.get(i, ()), i, d, paths, index, paths_of)
            if path:
                paths_of[k] = path
                steps.append(path)
        chains[k] = CAUSES.join(steps) if steps else None
    return chains


def _switched_flags(model: Any, codes: np.ndarray, before: np.ndarray, rows: np.ndarray,
                    days: np.ndarray) -> np.ndarray:
    """``(attacks, risk factors)``: which flags of the day before each onset the edits raised
    (on where the drawn series had them off, or at a higher dose level)."""
    out = np.zeros((rows.size, len(model.fields)), dtype=bool)
    valid = days > 0
    at = (slice(None), rows[valid], days[valid] - 1)
    now, drawn = codes[at], before[at]
    for k, field in enumerate(model.fields):
        out[valid, k] = derive.level_in(now, field) > derive.level_in(drawn, field)
    return out


def _edit_chain(model: Any, switched: np.ndarray, edits: Any, i: int, d: int, paths: dict,
                index: dict, paths_of: dict) -> str:
    """The path through a rule's edit to the ``switched`` flags of day ``d - 1``, after the
    source attack's own path if it has one (empty: none found)."""
    # the latest earlier attack whose edits reach the day before the onset (or earlier: a
    # flag may read a few days back); edits are in the order of their attacks
    reach = d - 1
    k = len(edits) - 1
    while k >= 0 and not (edits[k][5] < d and edits[k][1] <= reach):
        k -= 1
    if k < 0:
        return ""
    source = edits[k][5]
    edited = []
    while k >= 0 and edits[k][5] == source:
        if edits[k][1] <= reach:
            edited.append((edits[k][2], edits[k][3]))
        k -= 1
    steps: list[str] = []
    for k in switched:
        rf = model.risk_factors[k]
        inputs = {c for c, _ in rf.inputs}
        for rule, column in dict.fromkeys(edited):
            key = (column, int(k))
            if key not in paths:
                paths[key] = couplings_between(model, column, inputs)
            if paths[key] is not None:
                steps.append(SEPARATOR.join([rule, *paths[key], rf.flag_column]))
                break
    if not steps:
        return ""
    # the loop going round again: the source's own path first (its first, if it had several)
    earlier = paths_of.get(index.get((i, source), -1))
    head = earlier.split(CAUSES)[0] + SEPARATOR if earlier else ""
    return head + CAUSES.join(steps)


def _edits_by_patient(cohort: Any, patients: np.ndarray) -> dict[int, list[tuple]]:
    """The edits of ``patients``, by patient, in the order they were made, as the log holds
    them (``abm.engine.edits``: patient, day, rule, column, change, onset day)."""
    log = cohort.edits
    if not patients.size or not log:
        return {}
    who = np.fromiter(map(itemgetter(0), log), np.int64, len(log))
    keep = np.flatnonzero(np.isin(who, patients))
    keep = keep[np.argsort(who[keep], kind="stable")]  # by patient, in time order within
    kept = [log[k] for k in keep.tolist()]
    ids, starts = np.unique(who[keep], return_index=True)
    bounds = [*starts.tolist(), len(kept)]
    return {i: kept[bounds[j]:bounds[j + 1]] for j, i in enumerate(ids.tolist())}


def _state_periods(cohort: Any) -> dict[tuple[str, int], list[tuple[int, int]]]:
    """The logged periods of the slow states, by ``(state, patient)``."""
    out: dict[tuple[str, int], list] = {}
    for state in (OVERUSE, CHRONIC):
        for i, start, end in cohort.state_log.get(state, ()):
            out.setdefault((state, i), []).append((start, end))
    return out
