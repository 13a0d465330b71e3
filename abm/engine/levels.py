"""Where each risk factor's exposure level lives in the engine's packed codes.

A day's trigger levels are packed into bytes (``abm.engine.derive.pack``): each byte indexes a
table of the products of its risk factors' factors (``abm.engine.hazard.factor_tables``), so one
table look-up per byte gives a day's onset multiplier. The layout is derived from the risk
factors' numbers of dose levels; no component declares bits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from abm.errors import ConfigError


@dataclass(frozen=True)
class FlagField:
    """Where a risk factor's exposure level lives in the packed codes of a day: ``width`` bits
    from bit ``shift`` of byte ``byte`` (one bit for an on/off flag, two for up to three dose
    levels). A field never straddles two bytes, so one byte indexes one table of factors."""

    byte: int
    shift: int
    width: int

    @property
    def mask(self) -> int:
        """The field's bits within its byte."""
        return ((1 << self.width) - 1) << self.shift


def flag_fields(widths: Sequence[int]) -> list[FlagField]:
    """Pack fields of ``widths`` bits into bytes in order, starting a new byte where a field
    would not fit in what is left of the current one."""
    fields: list[FlagField] = []
    byte = shift = 0
    for width in widths:
        if not 1 <= width <= 8:
            raise ConfigError(f"a risk factor has 1-255 dose levels, got {(1 << width) - 1}")
        if shift + width > 8:
            byte, shift = byte + 1, 0
        fields.append(FlagField(byte, shift, width))
        shift += width
    return fields
