"""The built-in components, in the order a day's columns are drawn and laid out.

This list is the one place a built-in component is registered: the frames' columns, the event
log, validation, exports and the causal graph follow from it (``abm.engine.model``). Its order
is the order of the ``daily`` frame's columns (modalities, then trigger flags).

The observation layer's sources (:func:`observers`) are registered here too: they are not part of
the model (they change no column and no onset) but measure it after the run
(``abm.model.observation``).
"""

from __future__ import annotations

from abm.model.attacks import Attacks
from abm.model.component import Component
from abm.model.couplings.alcohol_sleep import AlcoholSleep
from abm.model.couplings.sleep_stress import SleepStress
from abm.model.couplings.stress_sleep import StressSleep
from abm.model.diet import Diet
from abm.model.feedback.chronification import Chronification
from abm.model.feedback.overuse import MedicationOveruse
from abm.model.feedback.sleep import SleepAfterAttack
from abm.model.feedback.state import BaselineState
from abm.model.feedback.stress import StressAfterAttack
from abm.model.interventions import Interventions
from abm.model.medication import Medication
from abm.model.menstrual import MenstrualCycle, MenstrualTrigger
from abm.model.observation import ObservationSettings, Observer
from abm.model.observation.diary import Diary
from abm.model.observation.wearable import Wearable
from abm.model.observation.weather import WeatherRecord
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
        Population(), Weather(), Sleep(), Stress(), Diet(), Medication(), Attacks(),
        WeatherTrigger(), SleepTrigger(), StressTrigger(), DietTrigger(),
        StressAfterAttack(), SleepAfterAttack(), MedicationOveruse(), Chronification(),
        BaselineState(), Interventions(),
        MenstrualCycle(), MenstrualTrigger(), Prodrome(),
        LetdownTrigger(), AlcoholTrigger(), CaffeineWithdrawalTrigger(), SleepEfficiencyTrigger(),
        SleepStress(), StressSleep(), AlcoholSleep(),
    ]


def observers() -> list[Observer]:
    """A fresh instance of every source of the observation layer, in the order of their
    columns in the ``observed`` frame's entry times."""
    return [Diary(), Wearable(), WeatherRecord()]


def observation_sections() -> list[type]:
    """The observation layer's configuration sections: ``observation`` (``enabled``), then
    each source's table."""
    return [ObservationSettings, *(o.section for o in observers())]
