"""The ``feedback`` section: one table per built-in rule."""

from __future__ import annotations

from dataclasses import dataclass

from abm.config.fields import Section, setting


@dataclass(frozen=True)
class StressFeedback(Section):
    """Feedback: an attack raises the next day's stress."""

    _path = "feedback.stress"
    enabled: bool = setting(True, source="design: the required loop, on by default")
    points: tuple = setting((1, 2), 0, 9, source="design: +1 to +2 points; no published size "
                            "(Stubberud 2021), so kept small")


@dataclass(frozen=True)
class SleepFeedback(Section):
    """Feedback: the night after an attack starts is a little longer."""

    _path = "feedback.sleep"
    enabled: bool = setting(False, source="off: the effect is real but tiny, and the user's "
                            "design does not ask for it")
    extra_hours: float = setting(0.12, -5, 5, source="Vgontzas 2020: +7.3 min (1.5-13.0)")
