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


@dataclass(frozen=True)
class OveruseFeedback(Section):
    """Feedback: medication overuse raises the baseline (medication-overuse headache)."""

    _path = "feedback.overuse"
    enabled: bool = setting(False, source="off in the clinic preset (the user's design); on in "
                            "the population and evidence presets")
    analgesic_days: int = setting(15, 1, 30, source="ICHD-3 8.2: simple analgesics on 15 or "
                                  "more days a month")
    triptan_days: int = setting(10, 1, 30, source="ICHD-3 8.2: triptans on 10 or more days a "
                                "month")
    opioid_days: int = setting(10, 1, 30, source="ICHD-3 8.2: opioids on 10 or more days a "
                               "month")
    months: int = setting(3, 1, 24, source="ICHD-3 8.2: regular overuse for more than 3 months")
    baseline_factor: float = setting(1.5, 1, 20, source="assumption: medication-overuse headache "
                                     "raises the attack rate by half while it lasts")
    reversion_days: float = setting(60.0, 0, 3650, source="assumption: after overuse stops the "
                                    "extra rate fades with this time constant (reverts over "
                                    "months; Diener 2018)")


@dataclass(frozen=True)
class ChronificationFeedback(Section):
    """Feedback: episodic migraine turns chronic (and back) at events, faster with a high
    frequency, overuse and opioids."""

    _path = "feedback.chronification"
    enabled: bool = setting(False, source="off in the clinic preset (the user's design); on in "
                            "the population and evidence presets")
    low_frequency_annual_rate: float = setting(0.0063, 0, 1, hi_open=True, source="Bigal 2008: "
                                               "2.5% a year across AMPP's episodic patients; "
                                               "set so that the population preset shows it with "
                                               "the frequency and overuse odds ratios")
    frequency_days: tuple = setting((5.0, 10.0), 0, 30, source="Katsarava 2004: bins 0-4, 5-9 "
                                    "and 10-14 headache days a month")
    frequency_odds_ratios: tuple = setting((6.2, 20.1), 1, 1000, source="Katsarava 2004: 5-9 "
                                           "days OR 6.2, 10-14 days OR 20.1 against 0-4")
    overuse_odds_ratio: float = setting(2.0, 1, 1000, source="assumption: overuse doubles the "
                                        "risk beyond its frequency (Katsarava 2004: OR 19.4 "
                                        "unadjusted for the frequency that goes with it)")
    opioid_odds_ratio: float = setting(1.98, 0.01, 100, source="Bigal 2008: opiates OR 1.98 "
                                       "(triptans 1.25 and NSAIDs 0.85 not significant: 1)")
    chronic_days_per_month: tuple = setting((15.0, 22.0), 15, 30, source="assumption: a "
                                            "chronified patient's monthly migraine days")
    remission_annual_rate: float = setting(0.3, 0, 1, hi_open=True, source="assumption: keeps a "
                                           "population's chronic share about stable (inflow "
                                           "about 2.3% of the cohort a year against 30% of a "
                                           "6.8% share); Serrano 2017: 73.4% of chronic people "
                                           "have episodic quarters")
    remission_days_per_month: tuple = setting((8.0, 14.0), 0, 15, hi_open=True,
                                              source="assumption: remission to high-frequency "
                                              "episodic migraine")
