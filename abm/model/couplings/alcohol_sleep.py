"""Drinks in the evening make that night's sleep less efficient and poorer.

For each alcoholic drink of day d (``alcohol_drinks``), the night logged on day d (it starts that
evening) loses ``efficiency_per_drink`` (0.01) of its sleep efficiency and ``quality_per_drink``
(1.5) points of its sleep quality, on their latent values before rounding.

The direction is documented (alcohol before bed fragments the second half of the night and lowers
sleep quality in a dose-dependent way; Ebrahim 2013 reviews the laboratory studies), but no size
per drink for diary efficiency or a 0-100 quality score can be taken from it: both sizes are
assumptions kept small.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from abm.config.fields import Section, setting
from abm.model.component import Coupling, Term, Values


@dataclass(frozen=True)
class AlcoholSleepSettings(Section):
    """Coupling: drinks lower that night's sleep efficiency and sleep quality."""

    _path = "couplings.alcohol_sleep"
    enabled: bool = setting(True, source="on: a known direction with small sizes")
    efficiency_per_drink: float = setting(0.01, 0, 0.2, source="assumption: a known direction "
                                          "(Ebrahim 2013) with no usable size; kept small")
    quality_per_drink: float = setting(1.5, 0, 20, source="assumption: a known direction "
                                       "(Ebrahim 2013) with no usable size; kept small")


class AlcoholSleep(Coupling):
    """``sleep_efficiency`` and ``sleep_quality`` of day d fall with that day's drinks."""

    name = "alcohol_sleep"
    section = AlcoholSleepSettings
    target = "sleep_efficiency"
    targets = ("sleep_efficiency", "sleep_quality")
    inputs = (("alcohol_drinks", 0),)
    source = ("assumption: -0.01 efficiency and -1.5 quality points per drink (Ebrahim 2013: "
              "direction)")

    def term(self, v: Values, config: Any) -> Any:
        return -self.settings(config).efficiency_per_drink * v["alcohol_drinks", 0]

    def quality_term(self, v: Values, config: Any) -> Any:
        """The term added to ``sleep_quality``."""
        return -self.settings(config).quality_per_drink * v["alcohol_drinks", 0]

    def terms(self, config: Any) -> tuple[Term, ...]:
        return (*super().terms(config),
                Term("sleep_quality", tuple(self.inputs),
                     lambda v: self.quality_term(v, config), self.name))
