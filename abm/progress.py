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


class ShardProgress:
    """Progress of a sharded run: shards done of total, patient-days per second, time left."""

    def __init__(self, enabled: bool = True) -> None:
        self._bar: tqdm | None = None
        self._enabled = enabled
        self._start_days: int | None = None
        self._started = 0.0

    def __call__(self, done: int, total: int, patient_days: int) -> None:
        import time

        if self._bar is None:
            self._bar = tqdm(total=total, initial=done, delay=DELAY_SECONDS, file=sys.stderr,
                             disable=not self._enabled, unit="shard", leave=False,
                             desc="shards")
            self._start_days, self._started = patient_days, time.perf_counter()
            return
        elapsed = time.perf_counter() - self._started
        rate = (patient_days - (self._start_days or 0)) / elapsed if elapsed > 0 else 0.0
        self._bar.set_postfix_str(f"{rate:,.0f} patient-days/s", refresh=False)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
