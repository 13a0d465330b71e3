"""The prodrome: symptoms in the day or two before an attack (reverse causation).

Many attacks are announced hours to days ahead by premonitory symptoms: tiredness (72% of the
warned attacks in Giffin 2003), a stiff neck (50%) and food cravings (about 18%), mostly in the
last 12 hours before the headache and less often 25-36 hours before it (Houtveen & Sorbi 2013).
With onsets mostly in the morning, that is mainly the calendar day before the onset day, less
often the day before that.

**The columns.** ``fatigue``, ``neck_stiffness`` and ``food_craving`` are daily symptoms. Each has
a background chance on any day; on the day before an onset the prodrome brings it with chance
``<symptom>_day_before`` as well (either brings it: ``1 - (1 - background)(1 - day_before)``),
two days before with ``two_days_before_share`` of that chance. Each symptom-day has one
pre-drawn uniform (its stream ``<symptom>``), and the symptom is present when the uniform falls
below the day's chance: the same onset meets the same numbers, and a day a symptom has without
the prodrome it keeps with it (common random numbers).

**Craving brings chocolate.** A craving on the day before an onset (the prodrome's, hours
before the headache) turns a day without chocolate into a chocolate day with probability
``craving_chocolate_probability`` (stream ``craving_chocolate``); ``chocolate_from_craving`` marks
those days (ground truth, not a feature). Only that day's craving does: the diet flag it sets
raises the onset probability of the onset day itself, so every day without an onset keeps the
probability that decided it, and the onsets still follow the final probabilities.

**Reverse causation.** The prodrome follows an onset that is already decided (the attack has
begun physiologically): the component works in the post-run step
(:meth:`~abm.model.component.Component.after_run`), once the agents have decided every onset, and
never changes one. The chocolate it brings sets the diet flags that read it (re-derived by the
engine), so the logged ``diet_trigger`` and ``p_onset`` stay recomputable from the logged
columns, and the ``attacks`` frame's ``diet_from_prodrome`` says where the diet flag of the day
before an onset was switched on by the prodrome. A diary study that counts chocolate the day
before attacks then sees part of the association run backwards, from the attack to the chocolate.
Before the run (in the draw) the columns are all false: the symptoms exist only with the onsets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from abm.config.fields import Section, setting
from abm.engine.block import Block
from abm.model.component import Column, Component

#: the symptoms, each a daily column and a random purpose
SYMPTOMS = ("fatigue", "neck_stiffness", "food_craving")
#: the diet column that craving raises, and the ground-truth column of the days it did
CHOCOLATE = "chocolate_consumed"
FROM_CRAVING = "chocolate_from_craving"
ONSET = "migraine_onset"


@dataclass(frozen=True)
class ProdromeSettings(Section):
    """Premonitory symptoms before attacks (fatigue, neck stiffness, food craving), and the
    chocolate that craving brings."""

    _path = "prodrome"
    enabled: bool = setting(True, source="on: premonitory symptoms precede many attacks "
                            "(Giffin 2003; Karsan & Goadsby 2018)")
    fatigue_background: float = setting(0.20, 0, 1, source="assumption: tiredness on about 1 "
                                        "day in 5 without an attack coming; with rarer symptoms "
                                        "a model on day-d columns reaches AUROC 0.76, above the "
                                        "published 0.56-0.73 (Holsteen 2020, Houle 2017)")
    neck_stiffness_background: float = setting(0.10, 0, 1, source="assumption: about 1 day in "
                                               "10")
    food_craving_background: float = setting(0.08, 0, 1, source="assumption: about 1 day in "
                                             "12")
    fatigue_day_before: float = setting(0.24, 0, 1, source="Giffin 2003: tiredness in 72% of "
                                        "warned attacks; assumption: a third of attacks are "
                                        "warned, so 0.72 / 3 (a half makes day-d columns "
                                        "predict above the published AUROC 0.56-0.73)")
    neck_stiffness_day_before: float = setting(0.17, 0, 1, source="Giffin 2003: stiff neck in 50% "
                                               "of warned attacks, / 3 warned (assumption)")
    food_craving_day_before: float = setting(0.06, 0, 1, source="Giffin 2003: food craving in "
                                             "about 18% of warned attacks (unverified), / 3 "
                                             "warned (assumption)")
    two_days_before_share: float = setting(0.3, 0, 1, source="Houtveen & Sorbi 2013: changes "
                                           "mainly in the last 12 h, some 25-36 h before; "
                                           "assumption: the chance two days before is 30% of "
                                           "the day before's")
    craving_chocolate_probability: float = setting(0.15, 0, 1, source="assumption: a craving "
                                                   "day without chocolate becomes a chocolate "
                                                   "day with this chance; small, so that the "
                                                   "diet trigger's risk ratio stays within its "
                                                   "target (measured on the default run: +0.02; "
                                                   "1.0 gives +0.13)")


class Prodrome(Component):
    """Premonitory symptoms on the days before an onset, set after the run from the decided
    onsets (reverse causation), and the chocolate that craving brings."""

    name = "prodrome"
    section = ProdromeSettings
    purposes = (*SYMPTOMS, "craving_chocolate")
    columns = (
        Column("fatigue", pl.Boolean, "", "tiredness that day (a background chance; raised on "
               "the 2 days before an onset: prodrome)"),
        Column("neck_stiffness", pl.Boolean, "", "a stiff neck that day (background; raised "
               "before an onset)"),
        Column("food_craving", pl.Boolean, "", "a food craving that day (background; raised "
               "before an onset); may bring chocolate"),
        Column(FROM_CRAVING, pl.Boolean, "", "ground truth: chocolate_consumed is on only "
               "because of the food craving of the day before an onset (set after the onsets "
               "were decided: never a cause of one)", feature=False),
    )
    changes_after_run = (CHOCOLATE,)
    after_run_edges = (
        *((ONSET, s, lag) for s in SYMPTOMS for lag in (-1, -2)),
        ("food_craving", CHOCOLATE, 0),
        ("food_craving", FROM_CRAVING, 0),
    )
    source = ("Giffin 2003 (premonitory symptoms), Houtveen & Sorbi 2013 (timing); craving -> "
              "chocolate: assumption")

    def draw(self, block: Block) -> dict[str, np.ndarray]:
        """All false: the symptoms are set after the run, from the onsets."""
        shape = (block.count, block.days)
        return {col.name: np.zeros(shape, dtype=bool) for col in self.columns}

    def after_run(self, block: Block, onsets: np.ndarray) -> dict[str, np.ndarray]:
        s = self.settings(block.config)
        day_before = np.zeros_like(onsets)
        day_before[:, :-1] = onsets[:, 1:]
        two_before = np.zeros_like(onsets)
        two_before[:, :-2] = onsets[:, 2:]
        out: dict[str, np.ndarray] = {}
        for symptom in SYMPTOMS:
            background = getattr(s, f"{symptom}_background")
            # the prodrome adds to the background: either brings the symptom
            warned = getattr(s, f"{symptom}_day_before")
            first = 1 - (1 - background) * (1 - warned)
            second = 1 - (1 - background) * (1 - s.two_days_before_share * warned)
            chance = np.where(day_before, first, np.where(two_before, second, background))
            out[symptom] = block.uniform(self, symptom, daily=True) < chance
        chocolate = block.columns[CHOCOLATE]
        brought = (out["food_craving"] & day_before & ~chocolate
                   & (block.uniform(self, "craving_chocolate", daily=True)
                      < s.craving_chocolate_probability))
        out[FROM_CRAVING] = brought
        out[CHOCOLATE] = chocolate | brought
        return out

    def problems(self, columns: Any) -> list[str]:
        if FROM_CRAVING in columns and CHOCOLATE in columns:
            bad = columns[FROM_CRAVING] & ~(columns[CHOCOLATE] & columns["food_craving"])
            if bad.any():
                return [f"{FROM_CRAVING} on a day without craving or chocolate"]
        return []
