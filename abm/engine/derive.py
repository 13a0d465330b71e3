"""From drawn values to logged columns and trigger flags, for a block of patients at once.

Components draw editable columns as latent values; here each becomes what is logged:
``finalize(latent + terms)`` (couplings, and a column's own dependencies such as a night's
quality on its length), in an order where same-day inputs come first. When a term reads a column
of an earlier day, the days are derived one after another (all patients at once), so lagged loops
between modalities (evening stress -> that night's sleep -> next day's stress) are exact. A term
whose input would be a day before the run contributes nothing; a flag whose input would be is off.

Inputs are handed to ``term`` and ``flag`` functions as stored: booleans and whole numbers as
integers, everything else as float64 of the stored value, exactly as the scalar path of an edit
(``abm.engine.patient``) sees them, so both give the same result.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from abm.model.component import Column, Term

_STORAGE = {pl.Float32: np.float32, pl.Float64: np.float64, pl.Int8: np.int8,
            pl.Int16: np.int16, pl.Int32: np.int32, pl.Boolean: np.bool_}


def storage_dtype(column: Column) -> type:
    """The NumPy dtype a daily column is kept in."""
    for dtype, kind in _STORAGE.items():
        if column.dtype == dtype:
            return kind
    raise TypeError(f"column {column.name!r}: daily columns are Float32/64, Int8/16/32 or Boolean, "
                    f"not {column.dtype}")


def as_input(values: np.ndarray) -> np.ndarray:
    """A stored column as functions read it: integers for booleans and whole numbers."""
    if values.dtype == np.bool_:
        return values.astype(np.int8)
    if np.issubdtype(values.dtype, np.integer):
        return values.astype(np.int16)
    return values.astype(np.float64)


def shift(values: np.ndarray, lag: int) -> np.ndarray:
    """``values`` of day ``d - lag`` at day ``d`` (zeros before the first day)."""
    if lag == 0:
        return values
    out = np.zeros_like(values)
    out[..., lag:] = values[..., :-lag]
    return out


def term_total(term: Term, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """A term over whole series, zero on the days whose inputs fall before the run."""
    value = np.asarray(term.fn({(c, lag): shift(inputs[c], lag) for c, lag in term.inputs}),
                       dtype=np.float64)
    first = max((lag for _, lag in term.inputs), default=0)
    if first:
        value = np.array(np.broadcast_to(value, inputs[term.inputs[0][0]].shape))
        value[..., :first] = 0.0
    return value


def derive_editable(model: Any, columns: dict[str, np.ndarray], latent: dict[str, np.ndarray],
                    termsums: dict[str, np.ndarray] | None = None) -> None:
    """Fill ``columns`` with the logged value of every editable column from its ``latent``:
    ``finalize(latent + terms)``. The sum of a column's terms is kept in float32 (``termsums``,
    when given, receives it): an edit of the column itself re-derives it from the stored sum
    without evaluating the terms again, and both paths add the same two numbers."""
    inputs = {name: as_input(columns[name]) for name in model.term_inputs if name in columns}
    sums = termsums if termsums is not None else {}
    if not model.lagged_terms:
        for name in model.derive_order:
            total = latent[name].astype(np.float64)
            if model.terms_of[name]:
                added = np.zeros(total.shape)
                for term in model.terms_of[name]:
                    added = added + term_total(term, inputs)
                sums[name] = added.astype(np.float32)
                total = total + sums[name]
            columns[name] = finalized(model.columns[name], total)
            inputs[name] = as_input(columns[name])
        return
    # a term reads an earlier day: derive day after day, every patient at once
    n, days = next(iter(latent.values())).shape
    for name in model.derive_order:
        columns[name] = np.empty((n, days), dtype=storage_dtype(model.columns[name]))
        inputs[name] = np.zeros((n, days), dtype=np.float64 if columns[name].dtype.kind == "f"
                                else np.int16)
        if model.terms_of[name]:
            sums[name] = np.zeros((n, days), dtype=np.float32)
    for d in range(days):
        for name in model.derive_order:
            total = latent[name][:, d].astype(np.float64)
            if model.terms_of[name]:
                added = np.zeros(n)
                for term in model.terms_of[name]:
                    if all(d - lag >= 0 for _, lag in term.inputs):
                        added = added + term.fn({(c, lag): inputs[c][:, d - lag]
                                                 for c, lag in term.inputs})
                sums[name][:, d] = added
                total = total + sums[name][:, d]
            value = finalized(model.columns[name], total)
            columns[name][:, d] = value
            inputs[name][:, d] = value


def finalized(column: Column, total: np.ndarray) -> np.ndarray:
    """The logged values of an editable column from its latent total, in its storage dtype."""
    return np.asarray(column.finalize(total)).astype(storage_dtype(column))


def level_of(rf: Any, columns: dict[str, np.ndarray], config: Any,
             inputs: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """One risk factor's exposure levels over stored columns (days on the last axis), ``uint8``:
    0 off, else the dose level (1 for an on/off flag). ``inputs`` caches the columns as the
    functions read them (shared by the flags of one model)."""
    inputs = {} if inputs is None else inputs
    for c, _ in rf.inputs:
        if c not in inputs:
            inputs[c] = as_input(np.asarray(columns[c]))
    v = {(c, lag): shift(inputs[c], lag) for c, lag in rf.inputs}
    level = np.array(np.broadcast_to(np.asarray(rf.flag(v, config)).astype(np.uint8),
                                     inputs[rf.inputs[0][0]].shape))
    if rf.max_lag:
        level[..., :rf.max_lag] = 0
    return level


def flag_of(rf: Any, columns: dict[str, np.ndarray], config: Any,
            inputs: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """One risk factor's flags over stored columns: what validation and anyone recomputing a
    flag from the ``daily`` frame gets (the level is above 0)."""
    return level_of(rf, columns, config, inputs) > 0


def levels(model: Any, columns: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Every risk factor's ``(n, days)`` exposure levels, in the model's order."""
    inputs: dict[str, np.ndarray] = {}
    return [level_of(rf, columns, model.config, inputs) for rf in model.risk_factors]


def flags(model: Any, columns: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Every risk factor's ``(n, days)`` Boolean flags, in the model's order."""
    return [level > 0 for level in levels(model, columns)]


def pack(level_arrays: list[np.ndarray], fields: list[Any], code_bytes: int) -> np.ndarray:
    """The levels as ``(code_bytes, n, days)`` bytes, each in its field
    (:class:`~abm.engine.model.FlagField`). The packed form is the engine's own (the frames show
    one Boolean column per risk factor)."""
    shape = level_arrays[0].shape if level_arrays else (0, 0)
    codes = np.zeros((code_bytes, *shape), dtype=np.uint8)
    for level, field in zip(level_arrays, fields, strict=True):
        codes[field.byte] |= level.astype(np.uint8) << np.uint8(field.shift)
    return codes


def level_in(codes: np.ndarray, field: Any) -> np.ndarray:
    """The levels of one risk factor (its ``field``) from packed codes."""
    return (codes[field.byte] >> np.uint8(field.shift)) & np.uint8((1 << field.width) - 1)


def unpack(codes: np.ndarray, field: Any) -> np.ndarray:
    """One risk factor's flags (level above 0) from packed codes."""
    return (codes[field.byte] & np.uint8(field.mask)) != 0
