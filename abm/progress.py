"""A progress bar for long runs, shown only when a run takes longer than a couple of seconds.

The stages of a run report ``(stage, done, total)``; this maps them onto one ``tqdm`` bar with a
weight per stage, so the bar moves steadily from 0 to 100% and says which stage is under way.
"""

from __future__ import annotations

import sys

from tqdm import tqdm

#: share of a typical run's wall time spent in each stage (measured with benchmarks/)
WEIGHTS = {"draw": 30.0, "simulate": 35.0, "record": 15.0, "write": 20.0}
DELAY_SECONDS = 2.0


class RunProgress:
    """Callable progress sink: ``progress(stage, done, total)``."""

    def __init__(self, enabled: bool = True) -> None:
        self._bar = tqdm(total=100.0, delay=DELAY_SECONDS, disable=not enabled, file=sys.stderr,
                         unit="%", bar_format="{desc:<10} {percentage:3.0f}%|{bar}| "
                         "{elapsed}<{remaining}", leave=False)
        self._offset = {}
        acc = 0.0
        for stage, weight in WEIGHTS.items():
            self._offset[stage] = acc
            acc += weight

    def __call__(self, stage: str, done: int, total: int) -> None:
        weight = WEIGHTS.get(stage, 0.0)
        position = self._offset.get(stage, 0.0) + weight * (done / max(total, 1))
        self._bar.set_description_str(stage, refresh=False)
        self._bar.update(max(0.0, position - self._bar.n))

    def close(self) -> None:
        self._bar.close()
