"""The shared daily clock: one time unit is one day, and the order within a day is fixed.

Day ``d`` covers ``[d, d + 1)`` of the ``simpy.Environment`` clock. Everything that happens on a
day is scheduled at time ``d`` with a SimPy priority equal to its :class:`Phase`, so events at the
same time are processed in phase order, never by accident of creation order (SimPy orders its
queue by ``(time, priority, insertion)``). The phases of a day, in order:

1. ``WEATHER``  – each :class:`~abm.model.weather.LocationWeather` publishes the weather of day d;
2. ``ONSET``    – each patient's attack onset for day d is decided from the exposures of day d-1,
   and the callbacks registered on the attack (feedback rules) edit the patient's future;
3. ``LOG``      – the day's stress and diet are logged;
4. ``SLEEP``    – the sleep of the night that starts on the evening of day d is logged as date d.

Because onsets come before the logs of the same day, a feedback rule running at ``ONSET`` of day d
may still change anything logged from phase ``LOG`` of day d onward: that is "the future".
Priorities start above SimPy's ``NORMAL`` (1) so process start-up (``URGENT``) always comes first.
"""

from __future__ import annotations

from collections import deque
from enum import IntEnum
from heapq import heappop, heappush

import simpy
import simpy.core
import simpy.events


class Phase(IntEnum):
    """Order of what happens within one day (lower runs first)."""

    WEATHER = 2
    ONSET = 3
    LOG = 4
    SLEEP = 5


def at(env: simpy.Environment, event: simpy.Event, day: int, phase: Phase) -> simpy.Event:
    """Schedule an already-triggered ``event`` at ``phase`` of absolute ``day``; return it."""
    delay = day - env.now
    if delay < 0:
        raise ValueError(f"cannot schedule day {day} at time {env.now}: the past does not change")
    env.schedule(event, int(phase), delay)
    return event


def tick(env: simpy.Environment, day: int, phase: Phase, value: object = None) -> simpy.Event:
    """A succeeded event that fires at ``phase`` of ``day``: what an agent yields to wait for it."""
    event = simpy.Event(env)
    event._ok = True
    event._value = value
    return at(env, event, day, phase)


class DayClock(simpy.Environment):
    """A ``simpy.Environment`` whose event queue is kept in buckets of equal (time, priority).

    SimPy orders its queue by ``(time, priority, insertion)`` in one binary heap, so every event
    costs two heap operations over everything pending: one per patient in a cohort (each waits for
    its next attack), tens of thousands of entries. Here every event of a day's phase goes into
    one first-in-first-out bucket, and the heap holds only the distinct ``(time, priority)`` keys
    (a few per day): the same order, SimPy's (insertion order within a key is first in, first
    out), at a constant cost per event. Everything else is SimPy's.
    """

    def __init__(self, initial_time: simpy.core.SimTime = 0) -> None:
        super().__init__(initial_time)
        self._buckets: dict[tuple[simpy.core.SimTime, int],
                            deque[tuple[simpy.core.SimTime, simpy.Event]]] = {}
        self._keys: list[tuple[simpy.core.SimTime, int]] = []

    def schedule(self, event: simpy.Event, priority: int = simpy.events.NORMAL,
                 delay: simpy.core.SimTime = 0) -> None:
        key = (self._now + delay, priority)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = deque()
            heappush(self._keys, key)
        # the time itself is kept: 1 and 1.0 share a bucket, and ``now`` must be the event's own
        bucket.append((key[0], event))

    def peek(self) -> simpy.core.SimTime:
        return self._keys[0][0] if self._keys else simpy.core.Infinity

    def step(self) -> None:
        try:
            key = self._keys[0]
        except IndexError:
            raise simpy.core.EmptySchedule from None
        bucket = self._buckets[key]
        self._now, event = bucket.popleft()
        if not bucket:
            heappop(self._keys)
            del self._buckets[key]
        # from here on exactly SimPy's step: run the callbacks, crash on an undefused failure
        callbacks, event.callbacks = event.callbacks, None
        try:
            for callback in callbacks:
                callback(event)
        except simpy.core.StopSimulation:
            event.callbacks = callbacks[callbacks.index(callback) + 1:]
            self.schedule(event, -1)
            raise
        if not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc
