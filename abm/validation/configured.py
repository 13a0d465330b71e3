"""What the configuration implies a run must show: each risk factor's risk ratio, from the
ground-truth onset probabilities.

Every flag and multiplier is recomputable from logged columns, so the onset probability of every
day is too: ``min(cap, baseline * drift * product of the active factors of the day before)``,
with each factor ``1 + effect * dose * susceptibility`` (``abm.engine.hazard``). Putting these
probabilities in place of the observed onsets in the Mantel-Haenszel risk ratio that validation
measures gives the ratio the configuration implies, on the very days and patients of the run:
the expected value of what is measured, confounding between correlated triggers included. Any
valid configuration validates against itself this way, whatever its effects, doses, responder
shares or couplings.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from abm.engine import derive
from abm.engine.hazard import factor_tables, onset_probability, previous_codes
from abm.engine.model import Model
from abm.model.attacks import DRIFT_COLUMN, STATE_COLUMN
from abm.validation.frames import next_day_table
from abm.validation.stats import Z95, mantel_haenszel_rr

#: the daily multiplier of the baseline (the patient's slow drift of frequency), where logged
DRIFT = DRIFT_COLUMN
#: two-sided 99.9% normal quantile: a run fails a risk factor when its measured ratio lies this
#: many standard errors from the implied one (with a dozen risk factors, about one valid run in
#: a hundred fails some row by chance at this level; at 95% it would be nearly one in two)
Z999 = 3.29


def onset_probabilities(daily: pl.DataFrame, patients: pl.DataFrame, model: Model, n: int,
                        days: int) -> np.ndarray:
    """``(n, days)`` onset probabilities recomputed from the logged columns (patient order of
    ``daily``, which is sorted by patient and date)."""
    def matrix(column: str) -> np.ndarray:
        null = model.columns[column].null
        values = daily[column] if null is None else daily[column].fill_null(null)
        return values.to_numpy().reshape(n, days)

    inputs = {c: matrix(c) for rf in model.risk_factors for c, _ in rf.inputs}
    levels = derive.levels(model, inputs)
    codes = derive.pack(levels, model.fields, model.code_bytes) if levels else np.zeros(
        (1, n, days), np.uint8)
    ordered = patients.sort("patient_id")
    susceptibility = (np.stack([ordered[rf.susceptibility_column].to_numpy()
                                for rf in model.risk_factors], axis=1)
                      if model.risk_factors else np.zeros((n, 0)))
    tables = factor_tables(susceptibility, model.effects(), model.fields, model.doses())
    baseline = ordered["baseline_onset_probability"].to_numpy()
    drift = matrix(DRIFT) if DRIFT in daily.columns else None
    state = matrix(STATE_COLUMN) if STATE_COLUMN in daily.columns else None
    return onset_probability(baseline, tables, previous_codes(codes),
                             model.config.attacks.max_onset_probability, drift, state)


def implied_risk_ratio(p: np.ndarray, exposed: np.ndarray, at_risk: np.ndarray,
                       reverse: np.ndarray | None = None) -> float:
    """The Mantel-Haenszel risk ratio of onset on d+1 after exposure on d, with the expected
    onsets ``p`` in place of the observed ones. ``exposed`` and ``at_risk`` are ``(n, days-1)``
    (day d's exposure; whether day d+1 is at risk). ``reverse`` marks exposures that exist
    because an onset follows (a prodrome's craving brought the chocolate): there the onset is
    certain, which is the reverse path's share of the ratio."""
    following = p[:, 1:] if reverse is None else np.where(reverse, 1.0, p[:, 1:])
    return mantel_haenszel_rr(*next_day_table(exposed, following, at_risk))[0]


def distance(measured: tuple[float, float, float], implied: float) -> float:
    """How many standard errors the measured ratio (with its 95% interval) lies from the
    implied one, on the log scale."""
    rr, lo, hi = measured
    se = math.log(hi / lo) / (2 * Z95)
    return abs(math.log(rr / implied)) / se if se > 0 else math.inf


def reverse_exposures(attacks: pl.DataFrame, daily: pl.DataFrame, trigger: str, n: int,
                      days: int) -> np.ndarray | None:
    """``(n, days-1)``: the days whose ``trigger`` flag a post-run step switched on because an
    onset followed the next day (the attacks frame's ``<trigger>_from_<component>`` columns),
    or ``None`` when no step can switch it."""
    marks = [c for c in attacks.columns if c.startswith(f"{trigger}_from_")]
    if not marks:
        return None
    order = pl.DataFrame({"patient_id": daily["patient_id"].gather_every(days),
                          "row": np.arange(n)})
    start = daily["date"][0]
    marked = (attacks.filter(pl.any_horizontal(marks))
              .join(order, on="patient_id")
              .select("row", day=(pl.col("onset").dt.date() - start).dt.total_days() - 1))
    out = np.zeros((n, days - 1), dtype=bool)
    keep = marked.filter((pl.col("day") >= 0) & (pl.col("day") < days - 1))
    out[keep["row"].to_numpy(), keep["day"].to_numpy()] = True
    return out
