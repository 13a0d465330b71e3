"""What every configuration section is: frozen dataclasses whose fields carry range and source.

A section is a frozen dataclass deriving from :class:`Section`, each field made with
:func:`setting` (its default, its allowed range and where the default comes from). Construction
checks every field, so a section that exists is valid; errors are one line naming the dotted
field, e.g. ``population.chronic_ratio must be in [0, 1], got 1.5``. Components own their
sections (``abm.model``); :class:`abm.config.settings.Config` gathers them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from abm.errors import ConfigError

_INF = math.inf


def setting(default: Any, lo: float | None = None, hi: float | None = None, *, source: str,
            lo_open: bool = False, hi_open: bool = False,
            choices: tuple[str, ...] | None = None, names: bool = False) -> Any:
    """A field with its allowed range (numbers), or its allowed values (``choices``, strings),
    and the source of its default. A tuple default of two numbers is a ``[low, high]`` pair; of
    another length, a list of that many numbers in any order; with ``names``, a list of any
    number of names (strings)."""
    meta = {"lo": lo, "hi": hi, "lo_open": lo_open, "hi_open": hi_open, "source": source,
            "choices": choices, "names": names}
    if isinstance(default, (list, tuple)):
        return dataclasses.field(default=tuple(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


def _check_number(name: str, value: Any, kind: type, meta: Mapping[str, Any]) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be {'an integer' if kind is int else 'a number'}, "
                          f"got {value!r}")
    if kind is int:
        if isinstance(value, float):
            if not value.is_integer():
                raise ConfigError(f"{name} must be an integer, got {value!r}")
            value = int(value)
    else:
        value = float(value)
        if math.isnan(value) or math.isinf(value):
            raise ConfigError(f"{name} must be a finite number, got {value!r}")
    lo, hi = meta.get("lo"), meta.get("hi")
    too_low = lo is not None and (value <= lo if meta.get("lo_open") else value < lo)
    too_high = hi is not None and (value >= hi if meta.get("hi_open") else value > hi)
    if too_low or too_high:
        left = "(" if meta.get("lo_open") else "["
        right = ")" if meta.get("hi_open") else "]"
        lo_s = "-inf" if lo is None else _fmt(lo)
        hi_s = "inf" if hi is None else _fmt(hi)
        raise ConfigError(f"{name} must be in {left}{lo_s}, {hi_s}{right}, got {value!r}")
    return value


class Section:
    """Validation shared by every section: types and ranges from the field metadata.

    ``_path`` is the section's dotted place in the configuration (``"sleep"``,
    ``"feedback.stress"``).
    """

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            name = f"{self._path}.{field.name}"
            value = getattr(self, field.name)
            kind = type(field.default) if field.default is not dataclasses.MISSING else None
            if dataclasses.is_dataclass(kind):
                if not isinstance(value, kind):
                    raise ConfigError(f"{name} must be a table of settings, got {value!r}")
                continue
            meta = field.metadata
            if kind is bool:
                if not isinstance(value, bool):
                    raise ConfigError(f"{name} must be true or false, got {value!r}")
            elif kind in (int, float):
                object.__setattr__(self, field.name, _check_number(name, value, kind, meta))
            elif kind is tuple and meta.get("names"):
                if not isinstance(value, (list, tuple)) or not all(
                        isinstance(v, str) for v in value):
                    raise ConfigError(f"{name} must be a list of names, got {value!r}")
                object.__setattr__(self, field.name, tuple(value))
            elif kind is tuple:
                size = len(field.default)
                if not isinstance(value, (list, tuple)) or len(value) != size:
                    what = "a pair [low, high]" if size == 2 else f"a list of {size} numbers"
                    raise ConfigError(f"{name} must be {what}, got {value!r}")
                inner = int if all(isinstance(v, int) for v in field.default) else float
                pair = tuple(_check_number(name, v, inner, meta) for v in value)
                if size == 2 and pair[0] > pair[1]:
                    raise ConfigError(f"{name} must be [low, high] with low <= high, "
                                      f"got {list(pair)}")
                object.__setattr__(self, field.name, pair)
            elif kind is str:
                if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
                    value = value.isoformat()  # TOML's unquoted dates
                    object.__setattr__(self, field.name, value)
                if not isinstance(value, str):
                    raise ConfigError(f"{name} must be a string, got {value!r}")
                if meta.get("choices") and value not in meta["choices"]:
                    raise ConfigError(f"{name} must be one of {', '.join(meta['choices'])}, "
                                      f"got {value!r}")
        self._check()

    def _check(self) -> None:
        """Cross-field rules of a section (overridden where there are any)."""

    _path = ""
