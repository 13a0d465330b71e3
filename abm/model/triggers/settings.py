"""The ``triggers`` section: thresholds and effects of the user's four seed triggers."""

from __future__ import annotations

from dataclasses import dataclass

from abm.config.fields import Section, setting
from abm.errors import ConfigError


@dataclass(frozen=True)
class TriggersSettings(Section):
    """When a trigger counts as active, and how much an active trigger on one day raises the next
    day's onset probability.

    An active trigger on day d-1 multiplies the onset probability of day d by
    ``1 + effect * dose * susceptibility``. The weather and stress triggers have a small and a
    large exposure (doses), the others one. A share of patients is not affected at all
    (``*_responder_share``); the others' susceptibility is scaled up so that the cohort's mean
    stays that of U(0.1, 1.0). The default effect 0.32 then gives a cohort risk ratio of about
    1.175: the middle of the user's "15-20%" read as a relative effect, below the published
    significant ORs of 1.27-2.1. The stress trigger needs 0.44 for the same ratio, since the
    let-down trigger raises the risk of the days it leaves unflagged.
    """

    _path = "triggers"
    pressure_drop_hpa: float = setting(5.0, 0, 50, lo_open=True, source="seed: drop >= 5 hPa in "
                                       "24 h")
    short_sleep_hours: float = setting(5.0, 0, 14, source="seed: < 5 h")
    long_sleep_hours: float = setting(9.0, 0, 14, source="seed: > 9 h")
    stress_rise_points: int = setting(3, 1, 9, source="seed: a sudden +3-5 points")
    diet_min_items: int = setting(2, 1, 3, source="design: at least 2 of alcohol, caffeine, "
                                  "chocolate (the seed's three dietary flags)")
    large_pressure_drop_hpa: float = setting(10.0, 0, 50, lo_open=True, source="assumption: "
                                             "a large drop, about 1 day in 20 (London Heathrow "
                                             "1979-2020: >= 10 hPa on 5% of days); below "
                                             "pressure_drop_hpa every drop counts as large")
    large_stress_rise_points: int = setting(5, 1, 9, source="seed: spikes of +3 to +5 points; "
                                            "the top of that range is the large rise; below "
                                            "stress_rise_points every rise counts as large")
    weather_doses: tuple = setting((0.8, 1.6), 0, 20, source="assumption: a large drop has "
                                   "twice a small drop's effect; 0.8/1.6 keep the mean dose of "
                                   "trigger days at 1 (26% of drops >= 5 hPa are >= 10 hPa), so "
                                   "the cohort risk ratio stays 1.15-1.20")
    stress_doses: tuple = setting((0.8, 1.6), 0, 20, source="assumption: a large rise has twice "
                                  "a small rise's effect; the mean dose of trigger days stays "
                                  "1 (23% of rises >= 3 points are >= 5)")
    weather_responder_share: float = setting(0.64, 0, 1, lo_open=True, source="Kimoto 2011: 18 "
                                             "of 28 patients (64%) weather-sensitive")
    sleep_responder_share: float = setting(0.75, 0, 1, lo_open=True, source="assumption: no "
                                           "published share; most but not all patients")
    stress_responder_share: float = setting(0.75, 0, 1, lo_open=True, source="assumption: no "
                                            "published share; most but not all patients")
    diet_responder_share: float = setting(0.75, 0, 1, lo_open=True, source="assumption: no "
                                          "published share (1.3-33% name a food trigger, "
                                          "Nowaczewska 2020)")
    weather_effect: float = setting(0.32, 0, 20, source="calibrated: cohort risk ratio 1.15-1.20")
    sleep_effect: float = setting(0.32, 0, 20, source="calibrated: cohort risk ratio 1.15-1.20")
    stress_effect: float = setting(0.44, 0, 20, source="calibrated: cohort risk ratio 1.15-1.20; "
                                   "above the others' 0.32 because the let-down trigger (stress "
                                   "falling, often the day after a rise) raises the risk after "
                                   "days without a rise, which alone gives 1.11-1.12")
    diet_effect: float = setting(0.32, 0, 20, source="calibrated: cohort risk ratio 1.15-1.20")

    def _check(self) -> None:
        for name in ("weather_doses", "stress_doses"):
            if len(getattr(self, name)) != 2:
                raise ConfigError(f"triggers.{name} must be two numbers (small, large "
                                  f"exposure), got {list(getattr(self, name))}")
        if self.short_sleep_hours > self.long_sleep_hours:
            raise ConfigError("triggers.short_sleep_hours must be <= triggers.long_sleep_hours, "
                              f"got {self.short_sleep_hours} > {self.long_sleep_hours}")
