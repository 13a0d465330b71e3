"""A short night raises the next day's stress.

The night logged on day d-1 (it starts that evening) ends on the morning of day d; when it was
shorter than ``couplings.sleep_stress.short_night_hours`` (6 h), the stress of day d gains
``points`` (0.5) on its latent level, before the level is rounded to whole points. Half a point
moves the logged level up by one point on about half of such days, so stress after a short night
is 0.5 points higher on average.

The direction is documented: in daily diaries, poorer or shorter sleep is followed by more stress
the next day within the same person (Yap 2020), but no size in points on a 1-10 scale can be
taken from it. The size is an assumption kept small so that the seed triggers' risk ratios keep
their validated range (the coupling links the sleep and stress triggers a little). Because the
term reads the night of the day before, an edit of a night (the sleep feedback rule) re-derives
the next day's stress and its trigger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from abm.config.fields import Section, setting
from abm.model.component import Coupling, Values


@dataclass(frozen=True)
class SleepStressSettings(Section):
    """Coupling: a short night raises the next day's stress."""

    _path = "couplings.sleep_stress"
    enabled: bool = setting(True, source="on: small enough that every validation target holds")
    short_night_hours: float = setting(6.0, 0, 14, source="assumption: under 6 h, a common "
                                       "cut-off for short sleep")
    points: float = setting(0.5, -5, 5, source="assumption: Yap 2020 finds more stress after "
                            "poorer sleep within persons, with no size usable in points; kept "
                            "small")


class SleepStress(Coupling):
    """``stress_level`` of day d gains ``points`` when the night logged on day d-1 was short."""

    name = "sleep_stress"
    section = SleepStressSettings
    target = "stress_level"
    inputs = (("total_sleep_hours", 1),)
    source = "assumption: +0.5 stress points after a night under 6 h (Yap 2020: direction)"

    def term(self, v: Values, config: Any) -> Any:
        s = self.settings(config)
        return s.points * (v["total_sleep_hours", 1] < s.short_night_hours)
