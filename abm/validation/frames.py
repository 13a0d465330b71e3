"""The run's frames as validation reads them: a column as a (patient, day) matrix, and which
daily columns a predictive model may use."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl


def patient_day_matrix(daily: pl.DataFrame, column: str, n: int, days: int) -> np.ndarray:
    """A column of ``daily`` (patient then day order) as an ``(n, days)`` matrix."""
    return daily[column].to_numpy().reshape(n, days)


def observed_features(model: Any) -> list[str]:
    """The daily columns other than trigger flags that the components declare features."""
    flags = {rf.flag_column for rf in model.risk_factors}
    return [c.name for c in model.daily_columns if c.feature and c.name not in flags]


def next_day_risk(daily: pl.DataFrame, n: int, days: int) -> tuple[np.ndarray, np.ndarray]:
    """``(outcome, at_risk)``, both ``(n, days - 1)``: an onset on day d+1, and whether d+1 is at
    risk (no attack under way at its start), for every day d but the last."""
    onset = patient_day_matrix(daily, "migraine_onset", n, days)
    has = patient_day_matrix(daily, "has_migraine", n, days)
    return onset[:, 1:], (~has | onset)[:, 1:]


def next_day_table(exposed: np.ndarray, outcome: np.ndarray, at_risk: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per patient (the strata of the Mantel-Haenszel estimators), from ``exposed`` on day d
    (``(n, days - 1)``): onsets on d+1 after an exposed day, such days at risk, onsets after an
    unexposed day, such days at risk. ``outcome`` is the onsets (booleans) or their expected
    values (probabilities), which give the ratio those probabilities imply."""
    e1 = exposed & at_risk
    e0 = ~exposed & at_risk
    return (np.where(e1, outcome, 0).sum(1), e1.sum(1), np.where(e0, outcome, 0).sum(1),
            e0.sum(1))
