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
