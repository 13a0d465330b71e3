"""The configuration: frozen, validated sections with documented, sourced defaults.

A :class:`Config` holds one section per concern (``population``, ``weather``, ``sleep``,
``stress``, ``diet``, ``attacks``, ``triggers``, ``feedback``, ``run``). Every field declares its
type, its allowed range and where its default comes from; construction checks all of them, so an
object that exists is valid. Unknown keys, wrong types, NaN, infinities and out-of-range values are
refused with a :class:`~abm.errors.ConfigError` naming the dotted field, e.g.
``population.chronic_ratio must be in [0, 1], got 1.5``.

Sources: "seed" is the user's original design document; "design" is a rule of this model that the
seed does not state; published sources are cited by first author and year (listed in full in the
README's References). Values marked "assumption" have no published figure behind them and are kept
small.

Change values with :meth:`Config.replace` (dotted keys) or :func:`load_config` (TOML).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from abm.errors import ConfigError

_INF = math.inf


def _f(default: Any, lo: float | None = None, hi: float | None = None, *, source: str,
       lo_open: bool = False, hi_open: bool = False) -> Any:
    """A field with its allowed range and the source of its default."""
    meta = {"lo": lo, "hi": hi, "lo_open": lo_open, "hi_open": hi_open, "source": source}
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


class _Section:
    """Validation shared by every section: types and ranges from the field metadata."""

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
            elif kind is tuple:
                if not isinstance(value, (list, tuple)) or len(value) != 2:
                    raise ConfigError(f"{name} must be a pair [low, high], got {value!r}")
                inner = int if all(isinstance(v, int) for v in field.default) else float
                pair = tuple(_check_number(name, v, inner, meta) for v in value)
                if pair[0] > pair[1]:
                    raise ConfigError(f"{name} must be [low, high] with low <= high, "
                                      f"got {list(pair)}")
                object.__setattr__(self, field.name, pair)
            elif kind is str:
                if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
                    value = value.isoformat()  # TOML's unquoted dates
                    object.__setattr__(self, field.name, value)
                if not isinstance(value, str):
                    raise ConfigError(f"{name} must be a string, got {value!r}")
        self._check()

    def _check(self) -> None:
        """Cross-field rules of a section (overridden where there are any)."""

    _path = ""


@dataclasses.dataclass(frozen=True)
class Population(_Section):
    """Who the patients are: demographics, migraine type, target frequency, susceptibility."""

    _path = "population"
    num_patients: int = _f(1000, 1, 10_000_000_000, source="seed: 1000 patients")
    num_locations: int = _f(20, 1, 100_000, source="seed: up to 20 weather patterns")
    chronic_ratio: float = _f(0.15, 0, 1, source="seed: 15% chronic (a clinic-like cohort; "
                              "population studies give 7-9%, Buse 2012, Adams 2015)")
    aura_ratio: float = _f(0.30, 0, 1, source="seed: 30% with aura (Le 2012: about 33%)")
    female_ratio: float = _f(0.70, 0, 1, source="seed: 70% female (AMPP: 80%, Buse 2020)")
    age_years: tuple = _f((18, 64), 0, 120, source="seed: randint(18, 65)")
    chronic_days_per_month: tuple = _f((15.0, 25.0), 15, 30, source="seed: U(15, 25)")
    episodic_days_per_month: tuple = _f((1.0, 14.0), 0, 15, hi_open=True, source="seed: U(1, 14)")
    susceptibility: tuple = _f((0.1, 1.0), 0, 1, source="seed: U(0.1, 1.0) for each trigger")


@dataclasses.dataclass(frozen=True)
class Weather(_Section):
    """Location weather: seasonal temperature, humidity, pressure systems."""

    _path = "weather"
    temperature_mean_c: float = _f(15.0, -50, 50, source="seed: 15 + 15 sin(...)")
    temperature_amplitude_c: float = _f(15.0, 0, 40, source="seed: seasonal amplitude 15 C")
    temperature_anomaly_sd_c: float = _f(3.0, 0, 20, source="assumption: day-to-day anomaly "
                                         "SD, AR(1) with persistence 0.7")
    location_temperature_spread_c: float = _f(3.0, 0, 30, source="assumption: locations' mean "
                                              "temperature U(-3, 3) C around the mean")
    humidity_mean_pct: float = _f(60.0, 20, 100, source="seed: 60 + N(0, 15)")
    humidity_sd_pct: float = _f(15.0, 0, 50, source="seed: N(0, 15)")
    pressure_mean_hpa: float = _f(1013.0, 900, 1100, source="seed: around 1013 hPa")
    pressure_change_sd_winter_hpa: float = _f(7.3, 0, 30, source="fitted: with the two "
                                              "settings below, daily changes have SD 7.3 hPa and "
                                              "a >= 5 hPa drop on 25% of winter days (London "
                                              "Heathrow 1979-2020: 7.5-7.9 hPa, 24-25%)")
    pressure_change_sd_summer_hpa: float = _f(4.2, 0, 30, source="fitted: SD 4.4 hPa, drops on "
                                              "13% of summer days (Heathrow: 4.4-4.6, 12-13%)")
    pressure_reversion: float = _f(0.25, 0, 1, lo_open=True, source="fitted: share of the "
                                   "anomaly that decays per day; pressure SD 11 hPa "
                                   "(Heathrow: 10.5)")
    pressure_change_persistence: float = _f(0.3, 0, 0.95, source="fitted: lag-1 "
                                            "autocorrelation of daily changes 0.14 (Heathrow: "
                                            "0.15)")
    volatility: float = _f(1.0, 0, 5, source="1.0 = Heathrow-like; scales every location's "
                           "pressure changes (calm < 1 < stormy)")
    patient_offset_temperature_c: float = _f(2.0, 0, 20, source="seed: U(-2, 2) per patient")
    patient_offset_humidity_pct: float = _f(5.0, 0, 50, source="seed: U(-5, 5) per patient")
    patient_offset_pressure_hpa: float = _f(1.0, 0, 20, source="seed: U(-1, 1) per patient")


@dataclasses.dataclass(frozen=True)
class Sleep(_Section):
    """Nightly sleep: habitual length, night-to-night variation, weekends, disrupted nights."""

    _path = "sleep"
    mean_hours: float = _f(7.0, 3, 12, source="seed: N(7, 1.5); Vgontzas 2020: 7.3 +- 1.2 h")
    between_patient_sd_hours: float = _f(0.5, 0, 3, source="assumption: habitual sleep varies "
                                         "by person; with the nightly SD gives total SD about 1.2")
    nightly_sd_hours: float = _f(1.0, 0, 5, source="assumption: within-person night-to-night SD")
    persistence: float = _f(0.3, 0, 0.95, source="seed: 0.3 weight on the previous night")
    weekend_extra_hours: float = _f(0.45, -3, 3, source="Scott 2025: weekend nights 20-35 min "
                                    "longer (27 min)")
    disruption_probability: float = _f(0.05, 0, 1, source="assumption: about one disrupted "
                                       "night in 20 (the seed's 15% gave too many)")
    short_night_hours: tuple = _f((3.0, 5.0), 2, 14, source="seed: U(3, 5) short nights")
    long_night_hours: tuple = _f((9.0, 11.0), 2, 14, source="seed: U(9, 12) long nights")
    deep_fraction: float = _f(0.18, 0.05, 0.35, source="seed: U(0.1, 0.3), mean 0.2")
    rem_fraction: float = _f(0.22, 0.10, 0.35, source="seed: U(0.15, 0.25), mean 0.2")
    awake_median_minutes: float = _f(20.0, 0, 240, lo_open=True, source="seed: U(10, 60)")


@dataclasses.dataclass(frozen=True)
class Stress(_Section):
    """Daily stress on a 1-10 integer scale."""

    _path = "stress"
    baseline: tuple = _f((2.0, 5.0), 1, 10, source="seed: U(2, 5) per patient")
    weekday_extra: float = _f(1.0, -5, 5, source="seed: U(0, 2) on weekdays")
    weekend_extra: float = _f(-0.25, -5, 5, source="seed: U(-1, 0.5) at weekends")
    daily_sd: float = _f(0.8, 0, 5, source="assumption: day-to-day SD of the latent level")
    persistence: float = _f(0.5, 0, 0.95, source="seed: autocorrelated (0.3 weight)")
    spike_probability: float = _f(0.05, 0, 1, source="seed: 10% spikes; halved because spikes "
                                  "here persist through the autocorrelation")
    spike_points: tuple = _f((3, 5), 1, 9, source="seed: spikes of +3 to +5 points")


@dataclasses.dataclass(frozen=True)
class Diet(_Section):
    """Daily diet flags and water."""

    _path = "diet"
    alcohol_probability: tuple = _f((0.05, 0.30), 0, 1, source="seed: U(0.05, 0.3) per patient")
    alcohol_weekend_extra: float = _f(0.20, 0, 1, source="seed: +0.2 at weekends (Fri, Sat)")
    caffeine_probability: tuple = _f((0.30, 0.90), 0, 1, source="seed: U(0.3, 0.9)")
    chocolate_probability: tuple = _f((0.10, 0.40), 0, 1, source="seed: U(0.1, 0.4)")
    processed_food_probability: tuple = _f((0.30, 0.70), 0, 1, source="seed: U(0.3, 0.7)")
    water_liters: tuple = _f((1.0, 2.5), 0, 10, source="seed: U(0.5, 3.0) a day; here a "
                             "personal mean from this range")
    water_daily_sd_liters: float = _f(0.4, 0, 5, source="assumption")


@dataclasses.dataclass(frozen=True)
class Attacks(_Section):
    """What an attack looks like once it starts: timing, length, severity, aura."""

    _path = "attacks"
    duration_median_hours: float = _f(24.0, 4, 72, source="Dodick 2018: median pain duration "
                                      "about 24 h untreated")
    duration_log_sd: float = _f(0.6, 0, 3, source="assumption: lognormal spread so that 4-72 h "
                                "(ICHD-3) covers about 99% before clipping")
    duration_hours: tuple = _f((4.0, 72.0), 0, 240, lo_open=True, source="ICHD-3: 4-72 h")
    morning_onset_share: float = _f(0.6, 0, 1, source="Fox & Davis 1998: onsets peak in the "
                                    "early morning; the rest spread over the day")
    morning_onset_hour: float = _f(7.0, 0, 24, hi_open=True, source="Fox & Davis 1998: 4-9 am")
    severity_mean: float = _f(6.0, 1, 10, source="assumption: moderate to severe on 1-10; AMPP: "
                              "54% severe impairment")
    severity_sd: float = _f(1.8, 0, 10, source="assumption")
    aura_attack_share: float = _f(0.7, 0, 1, source="assumption: patients with aura also have "
                                  "attacks without it")
    max_onset_probability: float = _f(0.95, 0, 1, lo_open=True, source="seed: cap at 0.95")


@dataclasses.dataclass(frozen=True)
class Triggers(_Section):
    """Trigger rules (pure functions of logged values) and their relative effects.

    An active trigger on day d-1 multiplies the onset probability of day d by
    ``1 + effect * susceptibility``. With susceptibility U(0.1, 1.0) the default effect 0.32 gives
    a cohort risk ratio of about 1.175, the middle of the seed's "15-20%" read as a relative effect
    (the target ``abm validate`` checks), below the published significant odds ratios of 1.27-2.1
    (Kimoto 2011, Bertisch 2020, Mostofsky 2020).
    """

    _path = "triggers"
    pressure_drop_hpa: float = _f(5.0, 0, 50, lo_open=True, source="seed: drop >= 5 hPa in 24 h")
    short_sleep_hours: float = _f(5.0, 0, 14, source="seed: < 5 h")
    long_sleep_hours: float = _f(9.0, 0, 14, source="seed: > 9 h")
    stress_rise_points: int = _f(3, 1, 9, source="seed: a sudden +3-5 points")
    diet_min_items: int = _f(2, 1, 3, source="design: at least 2 of alcohol, caffeine, "
                             "chocolate (the seed's three dietary flags)")
    weather_effect: float = _f(0.32, 0, 20, source="calibrated: cohort risk ratio 1.15-1.20")
    sleep_effect: float = _f(0.32, 0, 20, source="calibrated: cohort risk ratio 1.15-1.20")
    stress_effect: float = _f(0.32, 0, 20, source="calibrated: cohort risk ratio 1.15-1.20")
    diet_effect: float = _f(0.32, 0, 20, source="calibrated: cohort risk ratio 1.15-1.20")

    def _check(self) -> None:
        if self.short_sleep_hours > self.long_sleep_hours:
            raise ConfigError("triggers.short_sleep_hours must be <= triggers.long_sleep_hours, "
                              f"got {self.short_sleep_hours} > {self.long_sleep_hours}")


@dataclasses.dataclass(frozen=True)
class StressFeedback(_Section):
    """The required loop: an attack raises the next day's stress."""

    _path = "feedback.stress"
    enabled: bool = _f(True, source="design: the required loop, on by default")
    points: tuple = _f((1, 2), 0, 9, source="design: +1 to +2 points; no published size "
                       "(Stubberud 2021), so kept small")


@dataclasses.dataclass(frozen=True)
class SleepFeedback(_Section):
    """Post-attack sleep: the night after an attack starts is a little longer."""

    _path = "feedback.sleep"
    enabled: bool = _f(False, source="off: the effect is real but tiny, and the user's design "
                       "does not ask for it")
    extra_hours: float = _f(0.12, -5, 5, source="Vgontzas 2020: +7.3 min (1.5-13.0)")


@dataclasses.dataclass(frozen=True)
class Feedback(_Section):
    """Feedback rules attached to attack events; each can be switched off."""

    _path = "feedback"
    stress: StressFeedback = dataclasses.field(default_factory=StressFeedback)
    sleep: SleepFeedback = dataclasses.field(default_factory=SleepFeedback)

    def __post_init__(self) -> None:
        for name, kind in (("stress", StressFeedback), ("sleep", SleepFeedback)):
            if not isinstance(getattr(self, name), kind):
                raise ConfigError(f"feedback.{name} must be a table of settings, "
                                  f"got {getattr(self, name)!r}")


@dataclasses.dataclass(frozen=True)
class Run(_Section):
    """How long, from when, and with which seed."""

    _path = "run"
    days: int = _f(180, 1, 36_600, source="seed: 180 days (6 months)")
    seed: int = _f(42, 0, 2**63 - 1, source="seed: seed=42 in the usage example")
    start_date: str = _f("2024-01-01", source="seed: np.datetime64('2024-01-01')")
    shard_patients: int = _f(10_000, 1, 10_000_000, source="measured: a shard of 10,000 "
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


_SECTIONS: dict[str, type] = {
    "population": Population, "weather": Weather, "sleep": Sleep, "stress": Stress,
    "diet": Diet, "attacks": Attacks, "triggers": Triggers, "feedback": Feedback, "run": Run,
}
_FEEDBACK: dict[str, type] = {"stress": StressFeedback, "sleep": SleepFeedback}


@dataclasses.dataclass(frozen=True)
class Config:
    """The whole configuration of a run. Every default is the user's original design where it
    gives one; the README's Configuration table says where each default comes from."""

    population: Population = dataclasses.field(default_factory=Population)
    weather: Weather = dataclasses.field(default_factory=Weather)
    sleep: Sleep = dataclasses.field(default_factory=Sleep)
    stress: Stress = dataclasses.field(default_factory=Stress)
    diet: Diet = dataclasses.field(default_factory=Diet)
    attacks: Attacks = dataclasses.field(default_factory=Attacks)
    triggers: Triggers = dataclasses.field(default_factory=Triggers)
    feedback: Feedback = dataclasses.field(default_factory=Feedback)
    run: Run = dataclasses.field(default_factory=Run)

    def __post_init__(self) -> None:
        for name, kind in _SECTIONS.items():
            if not isinstance(getattr(self, name), kind):
                raise ConfigError(f"{name} must be a table of settings, "
                                  f"got {getattr(self, name)!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Config:
        """Build from nested mappings (as read from TOML); unknown keys are refused."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"configuration must be a table of sections, got {data!r}")
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

    def replace(self, **dotted: Any) -> Config:
        """A copy with fields changed by dotted key, e.g. ``replace(**{"run.days": 30})``."""
        data = self.to_dict()
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


def _build(kind: type, value: Any, path: str) -> Any:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path} must be a table of settings, got {value!r}")
    names = {f.name for f in dataclasses.fields(kind)}
    kwargs: dict[str, Any] = {}
    for key, item in value.items():
        if key not in names:
            raise ConfigError(f"unknown setting {path}.{key}; allowed: {', '.join(sorted(names))}")
        if kind is Feedback:
            item = _build(_FEEDBACK[key], item, f"{path}.{key}")
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


def load_config(path: str | Path) -> Config:
    """Read a TOML file of sections (``[population]``, ``[feedback.stress]``, ...)."""
    path = Path(path)
    data = read_toml(path)
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
