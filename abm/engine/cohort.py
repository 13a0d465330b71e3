"""The cohort of a run: every patient's arrays, with the patient as first axis.

Built by :func:`abm.engine.simulation.build_cohort`, edited by the agents while they run, read by
the recorder (``abm.output.recorder``) once the run is over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from abm.config.settings import Config
from abm.engine.calendar import Calendar
from abm.engine.edits import EditLog
from abm.model.attacks import AttackDraws
from abm.model.population import Profiles
from abm.model.weather import LocationSeries

#: a progress callback: (stage, done, total)
Progress = Callable[[str, int, int], None]


@dataclass
class Cohort:
    """Everything about the patients of a run, as arrays with the patient as first axis.

    While the agents run, the stress levels and trigger codes they edit live in the patients'
    packed states (``abm.engine.patient``); the arrays here hold the final series once
    :func:`run_agents` returns.
    """

    config: Config
    calendar: Calendar
    locations: LocationSeries
    profiles: Profiles
    baseline: np.ndarray
    factor_table: np.ndarray
    sleep: dict[str, np.ndarray]
    stress_level: np.ndarray
    diet: dict[str, np.ndarray]
    codes: np.ndarray
    attacks: AttackDraws
    onset_uniform: np.ndarray
    feedback_uniform: np.ndarray
    #: the points of the configured stress feedback on each day (from ``feedback_uniform``)
    stress_points: np.ndarray
    #: whether an attack would start on each day on the unedited series (the patients keep their
    #: own working copy, so this stays as drawn: ``caused_by_feedback`` compares with it)
    would_start: np.ndarray
    rules: list = field(default_factory=list)
    #: index of the patient in row 0 (a shard of a larger run starts past 0)
    first_patient: int = 0
    edits: EditLog = field(default_factory=EditLog)
    onsets: list[list[int]] = field(default_factory=list)

    @property
    def days(self) -> int:
        return self.calendar.days

    def __post_init__(self) -> None:
        #: the onset probability cap (a plain attribute: read once per refreshed day)
        self.cap = self.config.attacks.max_onset_probability
        #: ``(low, choices)`` of the configured stress feedback, whose points ``stress_points``
        #: holds: ``low + floor(u * choices)``
        lo, hi = self.config.feedback.stress.points
        self.packed_points = (lo, hi - lo + 1)
