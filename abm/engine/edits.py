"""The log of what feedback rules changed in patients' futures.

A run makes about one edit per attack (the default stress rule edits the day after every onset),
so the log is appended to hundreds of thousands of times from the agents' callbacks and read once,
whole, by the recorder. Appending a tuple to a list is the cheapest thing Python can do per edit;
:meth:`EditLog.columns` turns the whole log into arrays in one pass when the run is over.
"""

from __future__ import annotations

from operator import itemgetter

import numpy as np

#: one edit: (patient row, day, rule name, column, delta, onset day of the attack)
Edit = tuple[int, int, str, str, float, int]


class EditLog(list):
    """Edits (:data:`Edit` tuples) in the order they were made: by onset day, and within a day in
    the order the clock processes the attacks. Agents append to it; the recorder reads
    :meth:`columns`."""

    __slots__ = ()

    def columns(self) -> tuple[dict[str, np.ndarray], list[tuple[str, str]]]:
        """The log as arrays, one entry per edit: ``patient``, ``day``, ``onset_day`` (int64),
        ``delta`` (float64) and ``kind`` (int64); and the ``(rule, column)`` pair of each kind
        code, in order of first use."""
        n = len(self)

        def column(k: int, dtype: type) -> np.ndarray:
            return np.fromiter(map(itemgetter(k), self), dtype, n)

        pairs = list(map(itemgetter(2, 3), self))
        kinds = list(dict.fromkeys(pairs))
        code = {key: k for k, key in enumerate(kinds)}
        return {
            "patient": column(0, np.int64),
            "day": column(1, np.int64),
            "kind": np.fromiter(map(code.__getitem__, pairs), np.int64, n),
            "delta": column(4, np.float64),
            "onset_day": column(5, np.int64),
        }, kinds
