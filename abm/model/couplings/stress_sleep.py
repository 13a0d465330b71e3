"""Evening stress shortens that night's sleep.

The stress logged on day d is the evening's (``stress_log`` at 20:00); the night logged on day d
starts that evening. For every point of that day's stress above ``couplings.stress_sleep.
reference_points`` (5), the night loses ``minutes_per_point`` (5) minutes on its latent duration,
before it is rounded as a wearable reports it: a day at 9 points shortens the night by 20 minutes.

The direction is documented: in daily diaries, days with more stress are followed by shorter or
poorer sleep that night within the same person (Yap 2020), but no size in minutes per point of a
1-10 scale can be taken from it, so the size is an assumption kept small. With the existing
``sleep_stress`` coupling (a short night raises the next day's stress) this closes a loop through
earlier days: stress of day d -> the night of day d -> stress of day d+1. The engine derives such
loops day after day, in the draw and after every edit (``abm.engine.derive``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from abm.config.fields import Section, setting
from abm.model.component import Coupling, Values


@dataclass(frozen=True)
class StressSleepSettings(Section):
    """Coupling: a stressful day shortens the night that starts that evening."""

    _path = "couplings.stress_sleep"
    enabled: bool = setting(True, source="on: small enough that every validation target holds")
    reference_points: float = setting(5.0, 1, 10, source="assumption: stress above a middling "
                                      "level (5 of 10) shortens the night")
    minutes_per_point: float = setting(5.0, -60, 60, source="assumption: Yap 2020 finds shorter "
                                       "or poorer sleep after more stressful days within persons, "
                                       "with no size usable in minutes; kept small")


class StressSleep(Coupling):
    """``total_sleep_hours`` of day d loses ``minutes_per_point`` minutes for each point of
    that day's stress above ``reference_points``."""

    name = "stress_sleep"
    section = StressSleepSettings
    target = "total_sleep_hours"
    inputs = (("stress_level", 0),)
    source = "assumption: -5 min of sleep per stress point above 5 (Yap 2020: direction)"

    def term(self, v: Values, config: Any) -> Any:
        s = self.settings(config)
        above = v["stress_level", 0] - s.reference_points
        return -s.minutes_per_point / 60 * (above * (above > 0))
