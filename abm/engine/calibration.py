"""What calibration assumes about feedback rules: their planned edits, followed through the graph.

The baseline of a patient depends on the onset probability of the first free day after each
attack (``abm.engine.hazard``). A feedback rule changes it: the stress rule raises the day after
an attack, which can set the stress trigger that decides the next day. Calibration knows no rule
by name; each rule declares the edits an attack starting on day t would make
(:class:`~abm.model.component.PlannedEdit`), and :func:`first_free_codes` applies them, for every
possible onset day at once, to a window of days from t to the decisive day ``t + span - 1``:
edited columns are re-derived through the model's terms (couplings) in the same order as the
draw, and the flags of the decisive day are recomputed from them. A rule that is a plain callable
declares nothing, so calibration assumes it changes nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.engine.derive import as_input, finalized


def first_free_codes(model: Any, columns: dict[str, np.ndarray], latent: dict[str, np.ndarray],
                     codes: np.ndarray, span: np.ndarray, planned: list[tuple[str, int, Any]]
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Packed codes deciding the first free day after an attack on each day t, with the
    ``planned`` edits ``(column, offset_days, delta)`` of that attack applied; and where that
    day is inside the run."""
    n, days = span.shape
    t = np.arange(days)
    decide = t[None, :] + span.astype(np.int64) - 1
    valid = decide + 1 < days
    decide_c = np.minimum(decide, days - 1)
    out = np.stack([np.take_along_axis(codes[b], decide_c, axis=1)
                    for b in range(codes.shape[0])])
    if not planned or not model.risk_factors:
        return out, valid
    inputs = {name: as_input(values) for name, values in columns.items()}
    for s in np.unique(span):
        s = int(s)
        where = span == s
        if not where.any():
            continue
        changed = _what_if(model, inputs, latent, planned, s, days)
        for k, rf in enumerate(model.risk_factors):
            reads = [(c, s - 1 - lag) for c, lag in rf.inputs]
            if not any(key in changed for key in reads):
                continue
            v = {(c, lag): _at(inputs, changed, c, s - 1 - lag, days)
                 for c, lag in rf.inputs}
            flag = np.asarray(rf.flag(v, model.config), dtype=bool)
            if rf.max_lag > s - 1:
                # a flag whose input is before day 0 is off (only for t = 0 and short spans)
                decided = t[None, :] + s - 1
                flag = flag & (decided >= rf.max_lag)
            byte, bit = divmod(k, 8)
            edited = (out[byte] & ~np.uint8(1 << bit)) | (flag.astype(np.uint8) << np.uint8(bit))
            out[byte] = np.where(where, edited, out[byte])
    return out, valid


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
