"""Acute medication: whether, when and with what a patient treats an attack.

Each patient has habits, drawn once: the class of acute medication they usually take
(``medication_class``: a simple analgesic, a triptan or an opioid) and the share of their attacks
they treat (``treatment_share``: logit-normal, median ``medication.treated_share``). For
every day, one pre-drawn uniform decides whether an attack starting that day would be treated
(below the patient's share) and, from the same number, how long after the onset the first dose
comes (exponential, mean ``delay_mean_hours``): an attack that starts on the same day in two
variants is treated the same way (common random numbers).

**Treated attacks are shorter.** A treated attack lasts ``treated_duration_factor`` (0.74) of its
untreated duration (Landy 2012: 9.1 h when treated within the first hour against 12.3 h), never
less than the time to the dose; a dose that would come after the attack is over is not taken.
The engine draws the attacks with these durations, so calibration already sees the shorter
attacks.

**Medication days.** A treated attack is a medication day on every calendar day from the dose to
its end (Seng 2017: medication on 96.5% of migraine days in a clinic diary). ``acute_medication``
(the class, or ``none``) and ``medication_days_30d`` (the days with acute medication in the 30
days up to and including the day) are written once every attack is decided; a medication limit
(``interventions``) or medication overuse (``feedback.overuse``) read the same count during the
run. Only migraine attacks are treated here: other headaches, which people with migraine also
treat, are not modelled (assumption), so overuse needs a high migraine frequency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from abm.config.fields import Section, setting
from abm.engine.block import Block
from abm.errors import ConfigError
from abm.model.component import Column, Component
from abm.model.processes import marked_days, trailing_count

#: the classes of acute medication, in the order of ``medication.class_shares``
CLASSES = ("analgesic", "triptan", "opioid")
#: the values of the daily ``acute_medication`` column (stored as their index)
DAILY_VALUES = ("none", *CLASSES)
#: days in the window of ``medication_days_30d``
WINDOW_DAYS = 30
HOURS_PER_DAY = 24.0


@dataclass(frozen=True)
class MedicationSettings(Section):
    """Acute medication per attack: who treats, with what, how soon; treated attacks are
    shorter."""

    _path = "medication"
    enabled: bool = setting(True, source="Seng 2017: medication on 96.5% of migraine days in a "
                            "clinic diary")
    treated_share: float = setting(0.9, 0, 1, source="assumption: the median patient treats 9 "
                                   "of 10 attacks (Seng 2017: 96.5% of migraine days in a clinic "
                                   "diary)")
    habit_sd: float = setting(1.0, 0, 5, source="assumption: the spread of patients' treated "
                              "shares (SD on the logit scale)")
    class_shares: tuple = setting((0.55, 0.35, 0.10), 0, 1, source="assumption: usual class "
                                  "analgesic, triptan, opioid (AMPP: opioids used by a minority; "
                                  "Bigal 2008)")
    delay_mean_hours: float = setting(1.5, 0, 48, source="assumption: mean time from onset to "
                                      "the first dose (exponential); Landy 2012 compares doses "
                                      "within the first hour with later ones")
    treated_duration_factor: float = setting(0.74, 0.05, 1, source="Landy 2012: 9.1 h treated "
                                             "within 1 h against 12.3 h")

    def _check(self) -> None:
        if len(self.class_shares) != len(CLASSES) or sum(self.class_shares) <= 0:
            raise ConfigError(f"medication.class_shares must be {len(CLASSES)} shares "
                              f"({', '.join(CLASSES)}) that do not all equal 0, got "
                              f"{list(self.class_shares)}")


@dataclass
class Treatment:
    """How each potential attack of a block would be treated, ``(n, days)`` arrays."""

    treated: np.ndarray        # bool
    treatment_hour: np.ndarray  # float64 hours after the onset day's midnight (nan: none)
    duration_hours: np.ndarray  # float64: the treated duration where treated


class Medication(Component):
    """The patients' acute-medication habits and the medication days of their attacks."""

    name = "medication"
    section = MedicationSettings
    purposes = ("class", "share", "treat")
    columns = (
        Column("medication_class", pl.Enum(list(CLASSES)), "", "the acute medication the "
               "patient usually takes: " + ", ".join(CLASSES), frame="patients"),
        Column("treatment_share", pl.Float64, "0-1", "the share of the patient's attacks they "
               "treat (habit)", frame="patients"),
        Column("acute_medication", pl.Enum(list(DAILY_VALUES)), "", "the acute medication "
               "taken that day: " + ", ".join(DAILY_VALUES) + " (every day from the dose to the "
               "end of a treated attack)", feature=False),
        Column("medication_days_30d", pl.Int16, "days", "days with acute medication in the 30 "
               "days up to and including this one", range=(0, WINDOW_DAYS)),
        Column("treated", pl.Boolean, "", "the attack was treated with acute medication",
               frame="attacks"),
        Column("medication", pl.Enum(list(CLASSES)), "", "the medication taken (null: "
               "untreated): " + ", ".join(CLASSES), frame="attacks"),
        Column("treatment_hour", pl.Float64, "h", "when the first dose was taken, in hours "
               "after midnight of the onset day (above 24: a later day); null: untreated",
               frame="attacks"),
    )
    source = "Landy 2012 (treated attacks shorter), Seng 2017 (medication on migraine days)"
    # an onset brings medication on the days its attack covers (at most 72 h from an onset late
    # in the day: 4 calendar days), and each medication day counts for 30 days
    after_run_edges = (*(("migraine_onset", "acute_medication", lag) for lag in range(4)),
                       *(("acute_medication", "medication_days_30d", lag)
                         for lag in range(WINDOW_DAYS)))

    def draw(self, block: Block) -> dict[str, np.ndarray]:
        s = self.settings(block.config)
        shares = np.asarray(s.class_shares, dtype=np.float64)
        which = np.searchsorted(np.cumsum(shares / shares.sum()), block.uniform(self, "class"),
                                side="right")
        share = _logit_normal(s.treated_share, s.habit_sd, block.normal(self, "share"))
        zeros = np.zeros((block.count, block.days), dtype=np.int8)
        return {"medication_class": np.minimum(which, len(CLASSES) - 1).astype(np.int8),
                "treatment_share": share,
                "acute_medication": zeros,
                "medication_days_30d": zeros.astype(np.int16)}

    def treatment(self, block: Block, onset_hour: np.ndarray,
                  duration_hours: np.ndarray) -> Treatment:
        """How an attack starting on each day (``onset_hour``, untreated ``duration_hours``)
        would be treated, from the day's one uniform: treated below the patient's share, the
        delay to the dose from the same uniform rescaled (so it is independent of the decision)."""
        s = self.settings(block.config)
        share = block.patients["treatment_share"][:, None]
        u = block.uniform(self, "treat", daily=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            rescaled = np.where(share > 0, u / share, 1.0)
        delay = -s.delay_mean_hours * np.log1p(-np.minimum(rescaled, 1 - 1e-12))
        delay = np.round(delay * 60) / 60
        treated = (u < share) & (delay < duration_hours)
        # on the 0.1 h grid of durations, and never before the dose (the delay rounded up: the
        # untreated duration is on the grid and above the delay, so it stays the longest)
        at_dose = np.ceil(np.round(delay * 10, 6)) / 10
        shorter = np.maximum(np.round(duration_hours * s.treated_duration_factor, 1), at_dose)
        duration = np.where(treated, shorter, duration_hours)
        hour = np.where(treated, onset_hour + delay, np.nan)
        return Treatment(treated, hour, duration)

    def attack_values(self, patients: Any, attacks: Any, rows: np.ndarray, days: np.ndarray
                      ) -> dict[str, Any]:
        treated = attacks.treated[rows, days]
        usual = patients["medication_class"][rows]
        medication = pl.Series(values=list(CLASSES), dtype=pl.Enum(list(CLASSES))).gather(
            pl.Series(usual.astype(np.uint32)))
        return {"treated": treated,
                "medication": pl.select(pl.when(pl.Series(treated)).then(medication))
                .to_series(),
                "treatment_hour": pl.Series(attacks.treatment_hour[rows, days]).fill_nan(None)}

    def after_run(self, block: Block, onsets: np.ndarray) -> dict[str, np.ndarray]:
        """``acute_medication`` and ``medication_days_30d`` from the attacks as they happened
        (``block.attacks``: the engine's record of each onset's treatment and span)."""
        record = block.attacks
        days = medication_days(onsets, record.treated, record.treatment_hour, record.span_days)
        code = (block.patients["medication_class"].astype(np.int8) + 1)[:, None]
        return {"acute_medication": np.where(days, code, 0).astype(np.int8),
                "medication_days_30d": trailing_count(days, WINDOW_DAYS).astype(np.int16)}


def _logit_normal(median: float, sd: float, z: np.ndarray) -> np.ndarray:
    """Shares with the given ``median`` and ``sd`` on the logit scale (0 and 1 stay exact)."""
    if median <= 0 or median >= 1:
        return np.full(z.shape, float(median))
    return 1.0 / (1.0 + np.exp(-(np.log(median / (1 - median)) + sd * z)))


def medication_days(onsets: np.ndarray, treated: np.ndarray, treatment_hour: np.ndarray,
                    span_days: np.ndarray) -> np.ndarray:
    """``(n, days)`` bool: the days with acute medication, from each treated onset's dose day to
    its last calendar day."""
    n, days = onsets.shape
    i, d = np.nonzero(onsets & treated)
    first = d + np.floor(treatment_hour[i, d] / HOURS_PER_DAY).astype(np.int64)
    end = d + span_days[i, d].astype(np.int64)  # one past the last day covered
    return marked_days(i, first, end, n, days)
