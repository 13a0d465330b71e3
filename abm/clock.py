"""The shared daily clock: one time unit is one day, and the order within a day is fixed.

Day ``d`` covers ``[d, d + 1)`` of the ``simpy.Environment`` clock. Everything that happens on a
day is scheduled at time ``d`` with a SimPy priority equal to its :class:`Phase`, so events at the
same time are processed in phase order, never by accident of creation order (SimPy orders its
queue by ``(time, priority, insertion)``). The phases of a day, in order (SPEC §1):

1. ``WEATHER``  – each :class:`~abm.weather.LocationWeather` publishes the weather of day d;
2. ``ONSET``    – each patient's attack onset for day d is decided from the exposures of day d-1,
   and the callbacks registered on the attack (feedback rules) edit the patient's future;
3. ``LOG``      – the day's stress and diet are logged;
4. ``SLEEP``    – the sleep of the night that starts on the evening of day d is logged as date d.

Because onsets come before the logs of the same day, a feedback rule running at ``ONSET`` of day d
may still change anything logged from phase ``LOG`` of day d onward: that is "the future".
Priorities start above SimPy's ``NORMAL`` (1) so process start-up (``URGENT``) always comes first.
"""

from __future__ import annotations

from enum import IntEnum

import simpy


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
