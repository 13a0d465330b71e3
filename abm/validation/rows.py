"""A row of the validation table, and how a measurement is judged against its target.

A row passes or fails on the point estimate, fails at any size when its 95% interval lies wholly
outside the target, and is ``n/a`` (not a failure) when the run is too small to judge it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from abm.model import interventions
from abm.validation.stats import Z95, wilson_interval


@dataclass
class Check:
    """One row of the validation table.

    ``passed`` is ``None`` when the run is too small to judge the target (``measured`` then
    starts with ``n/a: too few``): such a row is not a failure.
    """

    name: str
    measured: str
    target: str
    passed: bool | None

    @property
    def failed(self) -> bool:
        """A real failure: measured, and off target."""
        return self.passed is False

    @property
    def result(self) -> str:
        """``pass``, ``FAIL`` or ``n/a``, as the table prints it."""
        return "n/a" if self.passed is None else "pass" if self.passed else "FAIL"


def min_patients_for_share(target: float, tolerance: float) -> int:
    """Patients needed before a share can be judged against ``target ± tolerance``: the 95%
    sampling half-width of a share around the target, 1.96 sqrt(p (1 - p) / n), must fit within
    the tolerance."""
    return max(1, math.ceil(Z95 * Z95 * target * (1 - target) / (tolerance * tolerance)))


def judge(name: str, measured: str, target: str, passed: bool, outside: bool,
           too_few: str) -> Check:
    """A row: failed when the 95% interval is wholly ``outside`` the target (at any size), else
    ``n/a`` when there is a shortfall (``too_few``), else judged by the point estimate."""
    if outside:
        return Check(name, measured, target, False)
    if too_few:
        return Check(name, f"n/a: too few {too_few}" + (f": {measured}" if measured else ""),
                     target, None)
    return Check(name, measured, target, passed)


def share_check(name: str, count: int, n: int, target: float, tolerance: float,
                 tolerance_text: str, short: str = "") -> Check:
    """A share of patients against ``target ± tolerance``. ``short`` is a shortfall that more
    patients cannot make up for (too few days): then the row is n/a whatever the interval."""
    share = count / n
    lo, hi = wilson_interval(count, n)
    need = min_patients_for_share(target, tolerance)
    few = short or (f"patients ({n}; {tolerance_text} needs {need})" if n < need else "")
    outside = not short and (hi < target - tolerance or lo > target + tolerance)
    return judge(name, f"{share:.1%}", f"{target:.0%} {tolerance_text}",
                  abs(share - target) <= tolerance, outside, few)




def unless_intervened(check: Check, config: object) -> Check:
    """``check`` of a frequency target, or ``n/a`` when an intervention lowers the frequency
    the target describes (the configuration changed what it assumes)."""
    if check.passed is None or not interventions.active(config):
        return check
    return Check(check.name, f"n/a: [interventions] changed the frequency: {check.measured}",
                 check.target, None)
