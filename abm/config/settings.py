"""The configuration: frozen, validated sections with documented, sourced defaults.

A :class:`Config` holds one section per concern (``population``, ``weather``, ``sleep``,
``stress``, ``diet``, ``attacks``, ``triggers``, ``feedback``, ``run``). Every field declares its
type, its allowed range and where its default comes from; construction checks all of them, so an
object that exists is valid. Unknown keys, wrong types, NaN, infinities and out-of-range values are
refused with a :class:`~abm.errors.ConfigError` naming the dotted field, e.g.
``population.chronic_ratio must be in [0, 1], got 1.5``.

Each section is declared by the component that reads it (``abm.model``) and gathered here.
Sources name the publication (author, year); "seed" is the user's original design document.
Values marked "assumption" have no published figure behind them and are kept small.

Change values with :meth:`Config.replace` (dotted keys) or :func:`load_config` (TOML).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from abm.config.fields import Section, setting
from abm.errors import ConfigError
from abm.model.catalog import built_in, observation_sections
from abm.model.presets import NAMES, overrides


@dataclasses.dataclass(frozen=True)
class Run(Section):
    """How long, from which date, with which seed, and how large runs are split."""

    _path = "run"
    days: int = setting(180, 1, 36_600, source="seed: 180 days (6 months)")
    seed: int = setting(42, 0, 2**63 - 1, source="seed: seed=42 in the usage example")
    start_date: str = setting("2024-01-01", source="seed: np.datetime64('2024-01-01')")
    shard_patients: int = setting(10_000, 1, 10_000_000, source="measured: a shard of 10,000 "
                             "patients x 180 days peaks under 1 GB; larger runs are split into "
                             "shards written as part files")

    def _check(self) -> None:
        try:
            dt.date.fromisoformat(self.start_date)
        except ValueError:
            raise ConfigError("run.start_date must be a date YYYY-MM-DD, "
                              f"got {self.start_date!r}") from None

    @property
    def start(self) -> dt.date:
        """``start_date`` as a date."""
        return dt.date.fromisoformat(self.start_date)


def _group(path: str, children: dict[str, type], base: type | None = None) -> type:
    """A section made of other sections (``feedback`` holds one table per rule). With ``base``,
    a section that has settings of its own and tables besides (``triggers``: the seed triggers'
    settings, and one table per further risk factor)."""
    fields = [(name, kind, dataclasses.field(default_factory=kind))
              for name, kind in children.items()]
    name = "".join(part.title() for part in path.split(".")) + (
        "Settings" if base is None else "Tables")
    group = dataclasses.make_dataclass(name, fields, bases=(base or Section,), frozen=True,
                                       namespace={"_path": path, "__module__": __name__})
    group.__doc__ = (f"The ``{path}`` tables: " + ", ".join(children) + "." if base is None
                     else base.__doc__)
    return group


def _sections() -> dict[str, type]:
    """Every top-level section, in the order of the components that declare them (the
    catalog), then ``run``. A section whose path has a dot is gathered into its group; a group
    whose name is also a section's (``triggers``) holds that section's settings and the tables."""
    top: dict[str, type | None] = {}
    tables: dict[str, dict[str, type]] = {}
    for section in [c.section for c in built_in()] + observation_sections():
        if section is None:
            continue
        head, _, rest = section._path.partition(".")
        if rest:
            top.setdefault(head, None)
            tables.setdefault(head, {}).setdefault(rest, section)
        elif top.get(head) is None:
            top[head] = section
    out = {name: (_group(name, tables[name], kind) if name in tables else kind)
           for name, kind in top.items()}
    for kind in out.values():
        globals().setdefault(kind.__name__, kind)  # a group made here pickles by its name
    out["run"] = Run
    return out


_SECTIONS: dict[str, type] = _sections()


class _ConfigBase:
    """What every configuration can do (the fields come from the components' sections)."""

    def __post_init__(self) -> None:
        for name, kind in _SECTIONS.items():
            if not isinstance(getattr(self, name), kind):
                raise ConfigError(f"{name} must be a table of settings, "
                                  f"got {getattr(self, name)!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any:
        """Build from nested mappings (as read from TOML); unknown keys are refused. The
        preset named by ``population.preset`` fills the settings ``data`` does not give."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"configuration must be a table of sections, got {data!r}")
        data = _with_preset(data)
        sections: dict[str, Any] = {}
        for name, value in data.items():
            if name not in _SECTIONS:
                raise ConfigError(f"unknown section {name!r}; allowed: {', '.join(_SECTIONS)}")
            sections[name] = _build(_SECTIONS[name], value, name)
        return cls(**sections)

    def to_dict(self) -> dict[str, Any]:
        """Nested plain values (lists for pairs), the inverse of :meth:`from_dict`."""
        def plain(obj: Any) -> Any:
            if dataclasses.is_dataclass(obj):
                return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
            if isinstance(obj, tuple):
                return list(obj)
            return obj
        return plain(self)

    def replace(self, **dotted: Any) -> Any:
        """A copy with fields changed by dotted key, e.g. ``replace(**{"run.days": 30})``.
        Changing ``population.preset`` applies that preset's settings first; the other keys
        given win over them."""
        data = self.to_dict()
        if "population.preset" in dotted:
            preset = dotted["population.preset"]
            _check_preset(preset)
            dotted = {**overrides(preset), **dotted}
        for key, value in dotted.items():
            parts = key.split(".")
            node = data
            for i, part in enumerate(parts[:-1]):
                if part not in node or not isinstance(node[part], dict):
                    raise ConfigError(f"unknown setting {'.'.join(parts[: i + 1])!r} in {key!r}")
                node = node[part]
            if parts[-1] not in node:
                raise ConfigError(f"unknown setting {key!r}")
            if isinstance(node[parts[-1]], dict):
                raise ConfigError(f"{key} is a section; set one of its fields instead")
            node[parts[-1]] = value
        return Config.from_dict(data)


Config = dataclasses.make_dataclass(
    "Config", [(name, kind, dataclasses.field(default_factory=kind))
               for name, kind in _SECTIONS.items()],
    bases=(_ConfigBase,), frozen=True, namespace={"__module__": __name__})
Config.__doc__ = """The whole configuration of a run: one section per component (``population``,
``weather``, ``sleep``, ... ``feedback``) and ``run``. Every default is the user's design; change
values with :meth:`replace` (dotted keys) or :func:`load_config` (TOML)."""


def _check_preset(name: Any) -> None:
    if name not in NAMES:
        raise ConfigError(f"population.preset must be one of {', '.join(NAMES)}, got {name!r}")


def _with_preset(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """``data`` with its preset's settings where ``data`` gives none."""
    population = data.get("population")
    if not isinstance(population, Mapping) or "preset" not in population:
        return data
    _check_preset(population["preset"])
    # tables are copied before they are filled, so the caller's data stays as it was
    merged = {name: (dict(value) if isinstance(value, Mapping) else value)
              for name, value in data.items()}
    for key, value in overrides(population["preset"]).items():
        *path, name = key.split(".")
        table: Any = merged
        for part in path:  # nested tables are copied before they are filled
            inner = table.get(part, {}) if isinstance(table, dict) else None
            if not isinstance(inner, Mapping):
                break
            table[part] = inner = dict(inner)
            table = inner
        else:
            table.setdefault(name, value)
    return merged


def _build(kind: type, value: Any, path: str) -> Any:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path} must be a table of settings, got {value!r}")
    names = {f.name for f in dataclasses.fields(kind)}
    kwargs: dict[str, Any] = {}
    for key, item in value.items():
        if key not in names:
            raise ConfigError(f"unknown setting {path}.{key}; allowed: {', '.join(sorted(names))}")
        child = next(f.type for f in dataclasses.fields(kind) if f.name == key)
        if isinstance(child, type) and dataclasses.is_dataclass(child):
            item = _build(child, item, f"{path}.{key}")
        kwargs[key] = item
    return kind(**kwargs)


def read_toml(path: Path, what: str = "configuration file") -> dict[str, Any]:
    """The tables of a TOML file; every problem is a one-line ConfigError naming the file."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, expected a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML ({exc})") from None


def load_config(path: str | Path, preset: str | None = None) -> Config:
    """Read a TOML file of sections (``[population]``, ``[feedback.stress]``, ...); ``preset``,
    if given, replaces the file's ``population.preset`` (the file's other settings still win
    over the preset's)."""
    path = Path(path)
    data = read_toml(path)
    if preset is not None:
        data = {**data, "population": {**data.get("population", {}), "preset": preset}} \
            if isinstance(data.get("population", {}), Mapping) else data
    try:
        return Config.from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def describe() -> list[tuple[str, Any, str]]:
    """Every setting as ``(dotted name, default, source)``, for docs and ``--help``."""
    rows: list[tuple[str, Any, str]] = []

    def walk(kind: type, prefix: str) -> None:
        for field in dataclasses.fields(kind):
            default = field.default if field.default is not dataclasses.MISSING else None
            if default is None and field.default_factory is not dataclasses.MISSING:
                walk(type(field.default_factory()), f"{prefix}{field.name}.")
                continue
            rows.append((f"{prefix}{field.name}", default, field.metadata.get("source", "")))

    walk(Config, "")
    return rows


def markdown_table() -> str:
    """The README's table of settings: name, default, source."""
    def show(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, tuple):
            return "[" + ", ".join(str(v) for v in value) + "]"
        if isinstance(value, str):
            return f'"{value}"'
        return str(value)

    rows = ["| setting | default | source |", "|---|---|---|"]
    rows += [f"| `{name}` | `{show(default)}` | {source} |" for name, default, source in describe()]
    return "\n".join(rows) + "\n"
