"""Which feedback caused an attack: the ``attacks`` frame's ``feedback_chain``.

An attack is ``caused_by_feedback`` when, with the same random draws, it would not have started
that day on the series as drawn before the run: the onset probability of its day was raised by
the feedback. That happens in two ways, and the chain names the path:

- **a rule's edit** switched on a risk factor's flag on the day before the onset (a flag the
  unedited series did not have, or a higher dose level): the chain is the rule, the couplings
  its edited column passed through on the way to the flag's inputs (the causal graph's shortest
  path), and the flag, e.g. ``stress_after_attack > stress_sleep > sleep_trigger``. The source
  is the latest earlier attack of the patient whose edits reach that day; if the source was itself
  caused by feedback, its chain comes first (a loop going round twice);
- **a slow state** raised the baseline that day: ``medication_overuse`` (during overuse and the
  fading after it), ``chronification`` (a patient who changed from episodic to chronic).

An attack raised by both shows both, the states first.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from abm.engine import derive
from abm.model.feedback.chronification import COLUMN as CHRONIC
from abm.model.feedback.overuse import COLUMN as OVERUSE

SEPARATOR = " > "
#: how many time constants of its fading an overuse period still counts as a cause
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
    edits = _edits_by_patient(cohort) if before is not None else {}
    periods = _state_periods(cohort)
    fade = FADE_SPANS * cohort.config.feedback.overuse.reversion_days
    paths: dict[tuple[str, int], list[str] | None] = {}
    index = {(int(patient[k]), int(day[k])): k for k in todo}
    chronic_at_start = cohort.patients["is_chronic"]
    for k in todo:  # in frame order: a source attack comes before the attacks it causes
        i, d = int(patient[k]), int(day[k])
        steps: list[str] = []
        for start, end in periods.get((OVERUSE, i), ()):
            if start <= d < end + fade:
                steps.append(OVERUSE)
                break
        for start, end in periods.get((CHRONIC, i), ()):
            if start <= d < end and not chronic_at_start[i]:
                steps.append("chronification")
                break
        if before is not None and d > 0:
            steps += _edit_chain(model, cohort, before, edits.get(i, ()), i, d, paths, index,
                                 chains)
        chains[k] = SEPARATOR.join(steps) if steps else None
    return chains


def _edit_chain(model: Any, cohort: Any, before: np.ndarray, edits: Any, i: int, d: int,
                paths: dict, index: dict, chains: list) -> list[str]:
    """The chain through a rule's edit to a flag of day ``d - 1``, if there is one."""
    switched = [k for k, field in enumerate(model.fields)
                if derive.level_in(cohort.codes[:, i:i + 1, d - 1:d], field)[0, 0]
                > derive.level_in(before[:, i:i + 1, d - 1:d], field)[0, 0]]
    if not switched:
        return []
    # the latest earlier attack whose edits reach the day before the onset (or earlier: a
    # flag may read a few days back)
    reach = d - 1
    sources = [(onset, rule, column) for target, rule, column, onset in edits
               if onset < d and target <= reach]
    if not sources:
        return []
    source = max(onset for onset, _, _ in sources)
    edited = [(rule, column) for onset, rule, column in sources if onset == source]
    steps: list[str] = []
    for k in switched:
        rf = model.risk_factors[k]
        inputs = {c for c, _ in rf.inputs}
        for rule, column in dict.fromkeys(edited):
            key = (column, k)
            if key not in paths:
                paths[key] = couplings_between(model, column, inputs)
            if paths[key] is not None:
                steps.append(SEPARATOR.join([rule, *paths[key], rf.flag_column]))
                break
    if not steps:
        return []
    earlier = index.get((i, source))
    head = [chains[earlier]] if earlier is not None and chains[earlier] else []
    return head + [" + ".join(steps)]


def _edits_by_patient(cohort: Any) -> dict[int, list[tuple[int, str, str, int]]]:
    """Each patient's edits as ``(day, rule, column, onset day)``."""
    out: dict[int, list] = {}
    for i, target, rule, column, _, onset in cohort.edits:
        out.setdefault(i, []).append((target, rule, column, onset))
    return out


def _state_periods(cohort: Any) -> dict[tuple[str, int], list[tuple[int, int]]]:
    """The logged periods of the slow states, by ``(state, patient)``."""
    out: dict[tuple[str, int], list] = {}
    for state in (OVERUSE, CHRONIC):
        for i, start, end in cohort.state_log.get(state, ()):
            out.setdefault((state, i), []).append((start, end))
    return out
