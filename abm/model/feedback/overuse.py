"""Medication overuse: frequent acute medication raises the attack rate (medication-overuse
headache), which brings more medication.

ICHD-3 (8.2) calls medication use *overuse* when it reaches 15 or more days a month of simple
analgesics, or 10 or more of triptans or opioids, for more than 3 months. Here a patient overuses
on a day (``medication_overuse``) when their medication days in the ``months`` x 30 days before
it reach ``months`` times their class's monthly threshold: from the day after the count reaches
it, until the day after it falls below. The patient's state machine (``abm.engine.states``)
checks it when an attack adds medication days and wakes on the day the overuse would end, with no
check on the days between.

**Overuse at the start.** A population already has medication-overuse headache when a study
begins. A patient whose expected medication days a month (target migraine days times the share of
attacks they treat) reach their class's threshold overuses from day 0 (:func:`prevalent`), with a
history of that many medication days a month before the run; calibration gives them their target
frequency *with* the medication-overuse headache (their baseline is divided by
``baseline_factor``), so the loops keep the cohort on its targets, and an overuse that ends (the
frequency drifts down, a medication limit) lowers the frequency.

While a patient overuses, their baseline onset probability is ``baseline_factor`` times higher;
after the overuse ends the extra fades with time constant ``reversion_days`` (withdrawal helps
over months). The loop: more attacks, more medication days, longer overuse. Overuse also raises
the risk of chronification (``feedback.chronification``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from abm.engine.block import Block
from abm.model.attacks import STATE_COLUMN
from abm.model.component import Column, Component
from abm.model.feedback.settings import OveruseFeedback
from abm.model.processes import marked_days

#: the engine's record of each overuse period: ``cohort.state_log[COLUMN]``
COLUMN = "medication_overuse"


class MedicationOveruse(Component):
    """Medication overuse and the medication-overuse headache it brings."""

    name = "medication_overuse"
    kind = "feedback"
    section = OveruseFeedback
    state_edges = (("medication_days_30d", COLUMN, 0), (COLUMN, STATE_COLUMN, 0))
    columns = (Column(COLUMN, pl.Boolean, "", "ground truth: the patient overuses acute "
                      "medication that day (ICHD-3 thresholds held for feedback.overuse.months "
                      "months); the baseline is feedback.overuse.baseline_factor times higher",
                      feature=False),)
    source = "ICHD-3 8.2 (thresholds); assumption (size and reversion)"

    def enabled(self, config: Any) -> bool:
        return overuse_on(config)

    def draw(self, block: Block) -> dict[str, np.ndarray]:
        return {COLUMN: np.zeros((block.count, block.days), dtype=bool)}

    def after_run(self, block: Block, onsets: np.ndarray) -> dict[str, np.ndarray]:
        return {COLUMN: periods(block.states.get(COLUMN, []), block.count, block.days)}


def overuse_on(config: Any) -> bool:
    """Whether medication overuse is modelled: its section says so and acute medication is
    modelled (no medication, no overuse)."""
    return bool(config.feedback.overuse.enabled and config.medication.enabled)


def monthly_threshold(config: Any, medication_class: np.ndarray) -> np.ndarray:
    """Each patient's overuse threshold, medication days a month, for their usual class."""
    o = config.feedback.overuse
    return np.array([o.analgesic_days, o.triptan_days, o.opioid_days])[
        medication_class.astype(np.intp)]


def expected_medication_days(patients: dict[str, np.ndarray]) -> np.ndarray:
    """Each patient's expected medication days a month: target migraine days x treated share."""
    return patients["target_migraine_days_per_month"] * patients["treatment_share"]


def prevalent(config: Any, patients: dict[str, np.ndarray]) -> np.ndarray:
    """Whether each patient overuses at the start: their expected medication days a month reach
    their class's threshold."""
    return expected_medication_days(patients) >= monthly_threshold(
        config, patients["medication_class"])


def periods(log: list[tuple[int, int, int]], n: int, days: int) -> np.ndarray:
    """``(n, days)`` bool: True on days ``start <= d < end`` of each ``(patient, start, end)``."""
    rows = np.array(log, dtype=np.int64).reshape(-1, 3)
    return marked_days(rows[:, 0], rows[:, 1], rows[:, 2], n, days)
