"""A block of patients being drawn: what a component's ``draw`` reads and fills.

The engine draws patients in blocks (``abm.engine.simulation.BLOCK_PATIENTS``) so that memory
stays bounded; every component's ``draw`` receives the block, reads its own random streams
(:meth:`Block.uniform`, :meth:`Block.normal`), what the run shares (``shared``: the locations'
weather), the patients' attributes drawn so far (``patients``) and the daily columns of the
components before it (``columns``), and returns its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.engine import streams
from abm.engine.calendar import Calendar


class Block:
    """Patients ``first … first + count - 1`` of a run."""

    def __init__(self, config: Any, calendar: Calendar, shared: dict[str, Any], first: int,
                 count: int) -> None:
        self.config = config
        self.calendar = calendar
        self.shared = shared
        self.first = first
        self.count = count
        self.days = calendar.days
        #: per-patient attributes ``(count,)`` by name
        self.patients: dict[str, np.ndarray] = {}
        #: daily columns ``(count, days)`` by name (final values of the components drawn so far)
        self.columns: dict[str, np.ndarray] = {}
        #: the sum of the terms of each editable column that has terms (``abm.engine.derive``)
        self.termsums: dict[str, np.ndarray] = {}
        #: in the post-run step only: the attacks as they happened
        #: (:class:`~abm.model.attacks.AttackDraws`: treated, span) and the periods of the
        #: patients' slow states (``abm.engine.states``)
        self.attacks: Any = None
        self.states: dict[str, list[tuple]] = {}

    def _draw(self, component: Any, purpose: str, daily: bool, normal: bool) -> np.ndarray:
        if purpose not in component.purposes:
            raise ValueError(f"component {component.name!r} did not declare the random purpose "
                             f"{purpose!r} (declared: {', '.join(component.purposes) or 'none'})")
        return streams.draw(self.config.run.seed, streams.PATIENT_DOMAIN, component.name, purpose,
                            self.first, self.count, self.days if daily else None, normal)

    def uniform(self, component: Any, purpose: str, daily: bool = False) -> np.ndarray:
        """Uniforms in [0, 1) of ``component``'s ``purpose``: ``(count,)`` or, ``daily``,
        ``(count, days)``."""
        return self._draw(component, purpose, daily, normal=False)

    def normal(self, component: Any, purpose: str, daily: bool = False) -> np.ndarray:
        """Standard normals of ``component``'s ``purpose``, shaped as :meth:`uniform`."""
        return self._draw(component, purpose, daily, normal=True)

    def between(self, component: Any, purpose: str, bounds: tuple[float, float]) -> np.ndarray:
        """A per-patient value uniform in ``bounds`` (a personal habit, a baseline)."""
        lo, hi = bounds
        return lo + self.uniform(component, purpose) * (hi - lo)
