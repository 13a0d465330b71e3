"""The cohort of a run: every patient's arrays, with the patient as first axis.

Built by :func:`abm.engine.simulation.build_cohort` from the model's components, edited by the
agents while they run (``abm.engine.patient``), read by the recorder (``abm.output.recorder``)
once the run is over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from abm.engine.calendar import Calendar
from abm.engine.edits import EditLog
from abm.engine.model import Model
from abm.model.attacks import AttackDraws

#: a progress callback: (stage, done, total)
Progress = Callable[[str, int, int], None]


@dataclass
class Cohort:
    """Everything about the patients of a run.

    ``columns`` holds every daily column ``(n, days)`` in its storage dtype, ``latent`` the
    latent values of the editable ones (edits add to them during the run, so after it they are
    the edited inputs), ``patients`` the per-patient attributes. While the agents run, the flags
    and onset decisions they edit live in the patients' packed states (written back when the
    run is over); the series they edit are edited in place.
    """

    config: Any
    model: Model
    calendar: Calendar
    shared: dict[str, Any]
    patients: dict[str, np.ndarray]
    columns: dict[str, np.ndarray]
    latent: dict[str, np.ndarray]
    #: the sum of the terms of each editable column that has terms, as last derived
    termsums: dict[str, np.ndarray]
    #: packed trigger flags ``(code bytes, n, days)`` (``abm.engine.derive.pack``)
    codes: np.ndarray
    baseline: np.ndarray
    #: per byte of flags, the ``(n, 2**bits)`` factor tables (``abm.engine.hazard``)
    factor_tables: list[np.ndarray]
    attacks: AttackDraws
    onset_uniform: np.ndarray
    #: whether an attack would start on each day on the unedited series (the patients keep their
    #: own working copy, so this stays as drawn: ``caused_by_feedback`` compares with it)
    would_start: np.ndarray
    #: each feedback rule's planned edits: rule name -> [(column, offset_days, delta)]
    planned: dict[str, list[tuple[str, int, Any]]] = field(default_factory=dict)
    #: index of the patient in row 0 (a shard of a larger run starts past 0)
    first_patient: int = 0
    edits: EditLog = field(default_factory=EditLog)
    #: per patient, the ratio of the baseline calibrated for the switched target to the one
    #: calibrated for the target (chronification), if on
    switch_factor: np.ndarray | None = None
    onsets: list[list[int]] = field(default_factory=list)

    @property
    def days(self) -> int:
        return self.calendar.days

    @property
    def size(self) -> int:
        return self.baseline.shape[0]

    def __post_init__(self) -> None:
        #: the onset probability cap (a plain attribute: read once per refreshed day)
        self.cap = self.config.attacks.max_onset_probability
        #: set by the run: the attack callbacks
        self.callbacks: list[Any] = []
        self.fast_rules: list[Any] = []
        self.compiled: Any = None
        self.edited_columns: list[str] = []
        #: where each region of the patients' packed states lies: name -> (offset, bytes, format)
        self.layout: dict[str, tuple[int, int, str]] = {}
        #: set by the post-run step (``abm.engine.afterrun``): per ``attacks`` column
        #: ``<trigger>_from_<component>``, where the step switched that flag on ``(n, days)``
        self.switched_on: dict[str, np.ndarray] = {}
        #: set by the observation step (``abm.engine.observe``): per observed column, its
        #: recorded values ``(n, days)`` and where they were recorded; per entry-time column,
        #: minutes since the first day's midnight (-1: no entry)
        self.observed: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.entry_minutes: dict[str, np.ndarray] = {}
        #: set by the patients' state machines (``abm.engine.states``): periods and changes
        self.state_log: dict[str, list[tuple]] = {}
        #: the packed flags as drawn, before any edit (set by the run when rules edit)
        self.codes_before: np.ndarray | None = None
        #: the state multiplier as drawn, before any state change (set when there is one)
        self.state_before: np.ndarray | None = None

