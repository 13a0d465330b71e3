"""A configuration written as commented TOML that :func:`abm.config.load_config` reads back.

A new user needs a complete starting file: every setting with its value, what values it allows
and where its default comes from. :func:`to_toml` writes one from the same field metadata that
:mod:`abm.config.settings` validates with, so the comments cannot drift from the checks. The
configuration is flat tables of numbers, strings, booleans and pairs, so a few lines of writer
suffice (the standard library reads TOML but does not write it).
"""

from __future__ import annotations

import dataclasses
import math
import textwrap
from typing import Any

from abm.config.settings import Config

WIDTH = 99

def description(section: Any) -> str:
    """What a table holds, printed above it: the first paragraph of its section's docstring
    (each component documents its own section)."""
    doc = (type(section).__doc__ or "").strip()
    return " ".join(doc.split("\n\n", 1)[0].split())


HEADER = """\
# abm configuration: every setting, with its allowed values and where its default comes from.
# Use it with: abm run --config FILE (options such as --patients and --seed override it), or
# abm.load_config(FILE) in Python. A setting left out keeps its default; unknown settings, wrong
# types and out-of-range values are refused with a message naming the setting.
#
# Sources of the defaults: "seed" is the original design this package implements, "required" a
# rule that design asks for; "assumption" marks a value with no published figure behind it (kept
# small); "fitted" and "calibrated" values are tuned so that the simulated data match the figures
# they name; "measured" ones come from benchmarks of this package; an author and year cite a
# published study.
"""

#: units spelled out in the comments, by the ending of a setting's name
UNITS = (("_hpa", "hPa"), ("_c", "degrees C"), ("_pct", "%"), ("_hours", "hours"),
         ("_minutes", "minutes"), ("_liters", "liters"), ("_years", "years"),
         ("_days_per_month", "days per month"), ("_points", "points"))


def value(item: Any) -> str:
    """One value as TOML: booleans, whole numbers, floats (always with a point or exponent, so
    they read back as floats), strings, and pairs as arrays."""
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, float):
        if not math.isfinite(item):
            raise ValueError(f"not a finite number: {item!r}")  # the configuration refuses these
        return repr(item)
    if isinstance(item, str):
        return _string(item)
    if isinstance(item, (tuple, list)):
        return "[" + ", ".join(value(v) for v in item) + "]"
    raise TypeError(f"no TOML form for {item!r}")


def _string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


def allowed(field: dataclasses.Field, default: Any) -> str:
    """What a setting accepts, in words: "a number in [0, 1]", "a pair [low, high] ...".

    Ranges are written as the configuration's errors write them: ``[`` and ``]`` include the
    bound, ``(`` and ``)`` exclude it.
    """
    meta = field.metadata
    lo, hi = meta.get("lo"), meta.get("hi")
    if lo is None and hi is None:
        interval = ""
    else:
        left = "(" if meta.get("lo_open") or lo is None else "["
        right = ")" if meta.get("hi_open") or hi is None else "]"
        interval = (f" in {left}{'-inf' if lo is None else _number(lo)}, "
                    f"{'inf' if hi is None else _number(hi)}{right}")
    unit = next((f" ({text})" for end, text in UNITS if field.name.endswith(end)), "")
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, str):
        return "a date YYYY-MM-DD" if field.name.endswith("date") else "a string"
    if isinstance(default, tuple) and meta.get("names"):
        return "a list of names"
    if isinstance(default, tuple):
        kind = "whole numbers" if all(isinstance(v, int) for v in default) else "numbers"
        if len(default) != 2:
            return f"a list of {len(default)} {kind}{interval}{unit}"
        return f"a pair [low, high] of {kind}{interval}, low <= high{unit}"
    kind = "a whole number" if isinstance(default, int) else "a number"
    return f"{kind}{interval}{unit}"


def _comment(text: str, hang: str = "") -> list[str]:
    """``text`` as comment lines of at most :data:`WIDTH` characters; later lines indented by
    ``hang`` so that a long source reads as one note."""
    return textwrap.wrap(text, WIDTH, initial_indent="# ", subsequent_indent="# " + hang,
                         break_on_hyphens=False)


def _tables(config: Config) -> list[tuple[str, Any, Any]]:
    """``(table name, section of config, section with the defaults)``, in file order."""
    defaults = Config()
    tables = []
    for field in dataclasses.fields(Config):
        section, default = getattr(config, field.name), getattr(defaults, field.name)
        nested = [f for f in dataclasses.fields(section) if dataclasses.is_dataclass(
            getattr(section, f.name))]
        if nested:
            if len(nested) < len(dataclasses.fields(section)):  # settings of its own as well
                tables.append((field.name, section, default))
            for inner in nested:
                tables.append((f"{field.name}.{inner.name}", getattr(section, inner.name),
                               getattr(default, inner.name)))
        else:
            tables.append((field.name, section, default))
    return tables


def to_toml(config: Config | None = None, comments: bool = True) -> str:
    """``config`` (default: the defaults) as a TOML file, every setting given.

    With ``comments``, a header explains the file and each setting is preceded by what it
    accepts, its default and the source of that default.
    """
    config = config if config is not None else Config()
    lines = HEADER.splitlines() + [""] if comments else []
    for name, section, defaults in _tables(config):
        if comments:
            lines += _comment(description(section))
        lines.append(f"[{name}]")
        own = [f for f in dataclasses.fields(section)
               if not dataclasses.is_dataclass(getattr(section, f.name))]
        for i, field in enumerate(own):
            current, default = getattr(section, field.name), getattr(defaults, field.name)
            if comments:
                if i:
                    lines.append("")
                lines += _comment(f"{allowed(field, default)}; default {value(default)}")
                source = field.metadata.get("source")
                if source:
                    lines += _comment(source, hang="  ")
            lines.append(f"{field.name} = {value(current)}")
        lines.append("")
    return "\n".join(lines)
