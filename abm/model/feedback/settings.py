"""The ``feedback`` section: one table per built-in rule."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from abm.config.fields import Section, setting
from abm.errors import ConfigError


@dataclass(frozen=True)
class StressFeedback(Section):
    """The required loop: an attack raises the next day's stress."""

    _path = "feedback.stress"
    enabled: bool = setting(True, source="SPEC §5: on by default")
    points: tuple = setting((1, 2), 0, 9, source="SPEC §5: +1 to +2 points; no published size "
                            "(Stubberud 2021), so kept small")


@dataclass(frozen=True)
class SleepFeedback(Section):
    """Post-attack sleep: the night after an attack starts is a little longer."""

    _path = "feedback.sleep"
    enabled: bool = setting(False, source="off: the effect is real but tiny, and the user's "
                            "design does not ask for it")
    extra_hours: float = setting(0.12, -5, 5, source="Vgontzas 2020: +7.3 min (1.5-13.0)")


@dataclass(frozen=True)
class Feedback(Section):
    """Feedback rules attached to attack events; each can be switched off."""

    _path = "feedback"
    stress: StressFeedback = dataclasses.field(default_factory=StressFeedback)
    sleep: SleepFeedback = dataclasses.field(default_factory=SleepFeedback)

    def __post_init__(self) -> None:
        for name, kind in (("stress", StressFeedback), ("sleep", SleepFeedback)):
            if not isinstance(getattr(self, name), kind):
                raise ConfigError(f"feedback.{name} must be a table of settings, "
                                  f"got {getattr(self, name)!r}")
