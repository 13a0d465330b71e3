"""The built-in components, in the order a day's columns are drawn and laid out.

This list is the one place a built-in component is registered: the frames' columns, the event
log, validation, exports and the causal graph follow from it (``abm.engine.model``). Its order
is the order of the ``daily`` frame's columns (modalities, then trigger flags).
"""

from __future__ import annotations

from abm.model.attacks import Attacks
from abm.model.component import Component
from abm.model.couplings.alcohol_sleep import AlcoholSleep
from abm.model.couplings.sleep_stress import SleepStress
from abm.model.couplings.stress_sleep import StressSleep
from abm.model.diet import Diet
from abm.model.feedback.sleep import SleepAfterAttack
from abm.model.feedback.stress import StressAfterAttack
from abm.model.menstrual import MenstrualCycle, MenstrualTrigger
from abm.model.population import Population
from abm.model.prodrome import Prodrome
from abm.model.sleep import Sleep
from abm.model.stress import Stress
from abm.model.triggers.alcohol import AlcoholTrigger
from abm.model.triggers.caffeine_withdrawal import CaffeineWithdrawalTrigger
from abm.model.triggers.diet import DietTrigger
from abm.model.triggers.letdown import LetdownTrigger
from abm.model.triggers.sleep import SleepTrigger
from abm.model.triggers.sleep_efficiency import SleepEfficiencyTrigger
from abm.model.triggers.stress import StressTrigger
from abm.model.triggers.weather import WeatherTrigger
from abm.model.weather import Weather


def built_in() -> list[Component]:
    """A fresh instance of every built-in component, in order."""
    return [
        Population(), Weather(), Sleep(), Stress(), Diet(), Attacks(),
        WeatherTrigger(), SleepTrigger(), StressTrigger(), DietTrigger(),
        StressAfterAttack(), SleepAfterAttack(),
        MenstrualCycle(), MenstrualTrigger(), Prodrome(),
        LetdownTrigger(), AlcoholTrigger(), CaffeineWithdrawalTrigger(), SleepEfficiencyTrigger(),
        SleepStress(), StressSleep(), AlcoholSleep(),
    ]
