"""What calibration assumes about feedback rules: their planned edits, followed through the graph.

The baseline of a patient depends on the onset probabilities of the first free days after each
attack (``abm.engine.hazard``). A feedback rule changes them: the stress rule raises the day after
an attack, which can set the stress trigger that decides the next day. Calibration knows no rule
by name; each rule declares the edits an attack starting on day t would make
(:class:`~abm.model.component.PlannedEdit`), and :func:`first_free_codes` applies them, for every
possible onset day at once, to a window of days from t to the days deciding the first free days
after the attack (as many as the edits can reach): edited columns are re-derived through the
model's terms (couplings) in the same order as the draw, and the flags of the deciding days are
recomputed from them. A rule that is a plain callable
declares nothing, so calibration assumes it changes nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.engine.derive import as_input, finalized


def reach_days(model: Any, planned: list[tuple[str, int, Any]]) -> int:
    """How many days after an attack's first day its planned edits can still change a flag:
    the furthest edit, plus the longest lag of a term and of a risk factor reading a column
    the edits can change (the edited columns and what terms derive from them). A risk factor
    that reads only columns no edit reaches (a week of caffeine servings) adds nothing."""
    if not planned or not model.risk_factors:
        return 0
    reached = model.downstream([column for column, _, _ in planned])
    term_lag = max((lag for t in model.terms for c, lag in t.inputs if c in reached), default=0)
    flag_lag = max((lag for rf in model.risk_factors for c, lag in rf.inputs if c in reached),
                   default=0)
    return max(offset for _, offset, _ in planned) + term_lag + flag_lag


def first_free_codes(model: Any, columns: dict[str, np.ndarray], latent: dict[str, np.ndarray],
                     codes: np.ndarray, span: np.ndarray, planned: list[tuple[str, int, Any]]
                     ) -> list[tuple[np.ndarray, np.ndarray]]:
    """For the first free days j = 1, 2, … after an attack on each day t (as many as the
    rules' edits can reach): the packed codes deciding free day j, with the ``planned`` edits
    ``(column, offset_days, delta)`` of that attack applied, and where that day is in the run."""
    n, days = span.shape
    t = np.arange(days)
    free_days = max(1, reach_days(model, planned) + 1)
    spans = [int(s) for s in np.unique(span)]
    inputs = {name: as_input(columns[name]) for name in model.read_columns | set(model.editable)
              if name in columns}
    window = max(spans) - 1 + free_days  # relative days the edits are followed through
    changed = _what_if(model, inputs, latent, planned, window, days) if planned else {}
    out = []
    for j in range(1, free_days + 1):
        decide = t[None, :] + span.astype(np.int64) - 1 + (j - 1)
        valid = decide + 1 < days
        decide_c = np.minimum(decide, days - 1)
        edited = np.stack([np.take_along_axis(codes[b], decide_c, axis=1)
                           for b in range(codes.shape[0])])
        for s in spans:
            where = span == s
            r = s - 1 + (j - 1)
            for k, rf in enumerate(model.risk_factors):
                if not any((c, r - lag) in changed for c, lag in rf.inputs):
                    continue
                v = {(c, lag): _at(inputs, changed, c, r - lag, days) for c, lag in rf.inputs}
                level = np.asarray(rf.flag(v, model.config)).astype(np.uint8)
                if rf.max_lag > r:
                    # a flag whose input is before day 0 is off (only for t near 0)
                    level = level * (t[None, :] + r >= rf.max_lag)
                field = model.fields[k]
                new = (edited[field.byte] & ~np.uint8(field.mask)) | (
                    level.astype(np.uint8) << np.uint8(field.shift))
                edited[field.byte] = np.where(where, new, edited[field.byte])
        out.append((edited, valid))
    return out


def _at(inputs: dict[str, np.ndarray], changed: dict[tuple[str, int], np.ndarray], column: str,
        r: int, days: int) -> np.ndarray:
    """Column ``column`` on day ``t + r`` for every t, as edited where the window changed it."""
    if (column, r) in changed:
        return changed[column, r]
    index = np.clip(np.arange(days) + r, 0, days - 1)
    return inputs[column][:, index]


def _what_if(model: Any, inputs: dict[str, np.ndarray], latent: dict[str, np.ndarray],
             planned: list[tuple[str, int, Any]], span: int, days: int
             ) -> dict[tuple[str, int], np.ndarray]:
    """Editable columns on days ``t + r`` (r < span) that an attack on t changes, for every t."""
    changed: dict[tuple[str, int], np.ndarray] = {}
    for r in range(span):
        index = np.clip(np.arange(days) + r, 0, days - 1)
        for name in model.derive_order:
            deltas = [delta for column, offset, delta in planned
                      if column == name and offset == r]
            terms = [term for term in model.terms_of[name]
                     if any((c, r - lag) in changed for c, lag in term.inputs)]
            if not deltas and not terms:
                continue
            total = latent[name][:, index].astype(np.float64)
            for term in model.terms_of[name]:
                first_day = np.arange(days) + r - max(lag for _, lag in term.inputs)
                value = term.fn({(c, lag): _at(inputs, changed, c, r - lag, days)
                                 for c, lag in term.inputs})
                total = total + np.where(first_day >= 0, value, 0.0)
            for delta in deltas:
                total = total + delta
            changed[name, r] = as_input(finalized(model.columns[name], total))
    return changed
