"""What a model component is: a declaration the engine reads, plus vectorized functions.

The model is a list of components (``abm.model.catalog``); the engine runs the ones the
configuration switches on, and everything downstream of the draw (frames, schemas, the event log,
validation, exports, the causal graph, the README's tables) is derived from their declarations.
A component declares:

- ``name``: unique; it keys the component's random streams and its node in the causal graph;
- ``section``: its configuration section (a :class:`~abm.config.fields.Section`), if any;
- ``purposes``: the names of its random streams (``Block.uniform`` / ``Block.normal``); each
  purpose draws from a stream of its own, so adding a purpose or a component moves no other draw;
- ``columns``: the columns it writes (name, dtype, unit, meaning, the range its values keep,
  whether a predictive model may use it), daily or per patient;
- ``logs``: the fixed-time kinds of the ``events`` log it writes, and so the hour of day its
  columns are observed at (exports place them there);
- ``inputs``: the columns it reads, with the lag in days (``("stress_level", 1)`` is the day
  before), which are the edges of the causal graph.

Four kinds build on it:

- a **modality** (weather, sleep, stress, diet, ...) draws its columns in ``draw(block)``;
- a :class:`RiskFactor` flags days from logged columns; its multiplier scales the next day's
  onset probability;
- a :class:`Coupling` adds a term to a column from other columns (sleep -> next-day stress);
- a :class:`FeedbackRule` edits a patient's future when an attack starts.

Any component may also declare a **post-run step** (:meth:`Component.after_run`): once the agents
have run and every onset is decided, it changes daily columns from the onsets (a prodrome before
an attack). It never changes an onset; the engine then re-derives the flags that read the columns
it changed, so the logged flags and onset probabilities stay recomputable from the logged columns.

Functions of lagged inputs (``flag``, ``term``) are written once with plain operators, so the same
code runs on whole ``(patients, days)`` arrays in the draw and on single numbers when an edit
re-derives one day: booleans arrive as 0/1 integers in both, ``v["stress_level", 1]`` is the
stress of the day before.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import polars as pl

from abm.config.fields import Section
from abm.errors import ConfigError

if TYPE_CHECKING:
    from abm.engine.block import Block

#: an input of a function: (column, lag in days)
Lagged = tuple[str, int]
#: the values of a function's inputs: ``v[column, lag]`` (arrays in the draw, numbers in edits)
Values = Mapping[Lagged, Any]


@dataclass(frozen=True)
class Column:
    """One output column, declared once: the frames, schemas and README tables read this.

    ``frame`` is ``"daily"`` (one value per patient-day), ``"patients"`` (one per patient) or
    ``"attacks"`` (one per attack: :meth:`Component.attack_values`). A column of type
    ``pl.Enum`` is stored as the index of its value among the Enum's categories.
    A daily column that other components may change (through a :class:`Coupling` or a feedback
    edit) is drawn as a *latent* value and made into what is logged by ``finalize`` (rounding and
    clipping, elementwise on arrays and numbers alike): the engine then keeps the latent value, so
    any edit re-derives the logged one exactly.

    ``range`` is ``(low, high)``, the values a logged column always keeps (validation's
    consistency check reads it; ``None``: no bound worth checking). ``feature`` says whether a
    predictive model may use the column as an input: the ceiling's baselines and the FuseMoE
    export take every daily feature column; a column that is ground truth rather than an
    observation (a latent exposure, say) is declared ``feature=False``.
    ``null`` is the stored value that stands for "no value" (``-1`` in a column of whole days
    that only some patients have): the engine keeps NumPy arrays, which hold no nulls, so a
    component stores this value and the frames show null in its place. Functions that read the
    column (``flag``, ``term``) see the stored value and must treat it as "none"; validation
    restores it when it recomputes flags from a frame.
    """

    name: str
    dtype: pl.DataType
    unit: str
    meaning: str
    frame: str = "daily"
    finalize: Callable[[Any], Any] | None = None
    range: tuple[float, float] | None = None
    feature: bool = True
    null: Any = None

    @property
    def editable(self) -> bool:
        """Whether couplings and feedback rules may change it."""
        return self.finalize is not None


@dataclass(frozen=True)
class LogEntry:
    """A fixed-time kind of the ``events`` log that a component writes every day.

    ``kind`` is logged at ``hour`` (0-23) with ``name`` as what the value is; the value is the
    component's column ``column``, or ``value(columns)`` of its columns, of type ``dtype`` (what
    the exports declare it as). ``per_location`` entries come from the location series
    (``location_values``) instead of the patients.

    The entry also says when the component's columns are observed: a column named by an entry at
    that entry's hour, the component's other columns at its earliest entry's hour (the exports
    place observations there, and the event log carries them as the entry's attributes).
    """

    kind: str
    hour: int
    name: str
    column: str | None = None
    value: Callable[[Mapping[str, np.ndarray]], np.ndarray] | None = None
    per_location: bool = False
    dtype: pl.DataType = pl.Float64


@dataclass(frozen=True)
class Term:
    """An additive term of an editable column: ``column += fn(v)`` over ``inputs``."""

    column: str
    inputs: tuple[Lagged, ...]
    fn: Callable[[Values], Any]
    owner: str


@dataclass(frozen=True)
class PlannedEdit:
    """What a feedback rule does when an attack starts on day t: ``column`` of day
    ``t + offset_days`` changes by ``delta`` (a number, or an array ``(patients, days)`` indexed
    by t). Calibration reads these, so the baselines account for the rule."""

    column: str
    offset_days: int
    delta: float | np.ndarray

    def __post_init__(self) -> None:
        if isinstance(self.offset_days, bool) or not isinstance(self.offset_days, int) \
                or self.offset_days < 0:
            raise ConfigError(f"a planned edit of {self.column!r} must be 0 or more days after "
                              f"the attack's first day (the past does not change), got "
                              f"offset_days={self.offset_days!r}")


class Component:
    """Base of every component: declarations and a vectorized ``draw``."""

    name: ClassVar[str] = ""
    kind: ClassVar[str] = "modality"
    section: ClassVar[type[Section] | None] = None
    purposes: ClassVar[tuple[str, ...]] = ()
    columns: ClassVar[tuple[Column, ...]] = ()
    inputs: ClassVar[tuple[Lagged, ...]] = ()
    #: fixed-time kinds it adds to the ``events`` log
    logs: ClassVar[tuple[LogEntry, ...]] = ()
    #: where the component's defaults and equations come from (shown in the causal graph)
    source: ClassVar[str] = ""
    #: the file of the user's original CSV layout (``--format seed-csv``) that holds its daily
    #: columns, if any; every daily column is also in ``combined_data.csv``
    seed_file: ClassVar[str | None] = None
    #: columns of *other* components that :meth:`after_run` may change (its own daily columns it
    #: may always rewrite): the engine re-derives the flags that read them
    changes_after_run: ClassVar[tuple[str, ...]] = ()
    #: the edges :meth:`after_run` makes, ``(parent, child, lag_days)``, for the causal graph
    #: (kind ``after_run``): ``("migraine_onset", "fatigue", -1)`` says an onset on day d changes
    #: ``fatigue`` of day d - 1, the day before it
    after_run_edges: ClassVar[tuple[tuple[str, str, int], ...]] = ()
    #: the edges a patient's slow state follows during the run (``abm.engine.states``), ``(parent,
    #: child, lag_days)``, for the causal graph (kind ``feedback``); an edge whose column the
    #: configuration has switched off is left out
    state_edges: ClassVar[tuple[tuple[str, str, int], ...]] = ()

    def prepare(self, config: Any, calendar: Any) -> Any:
        """What the component draws once per run and shares with every block (``None``)."""
        return None

    #: the configuration ``settings`` last resolved, and its section (flags re-derived on an
    #: edit ask for their section once per edited day)
    _settings_config: Any = None
    _settings_section: Any = None

    def settings(self, config: Any) -> Any:
        """This component's section of ``config`` (``None`` if it has none)."""
        if self._settings_config is config:
            return self._settings_section
        if self.section is None:
            return None
        node = config
        for part in self.section._path.split("."):
            node = getattr(node, part)
        self._settings_config, self._settings_section = config, node
        return node

    def enabled(self, config: Any) -> bool:
        """Whether the configuration switches the component on (its section's ``enabled``)."""
        section = self.settings(config)
        return bool(getattr(section, "enabled", True))

    def outputs(self) -> tuple[Column, ...]:
        """Every column the component writes."""
        return self.columns

    def draw(self, block: Block) -> dict[str, np.ndarray]:
        """The component's columns for a block of patients: ``(patients, days)`` daily arrays
        (latent values for editable columns) and ``(patients,)`` patient attributes."""
        return {}

    @property
    def runs_after(self) -> bool:
        """Whether the component has a post-run step (it overrides :meth:`after_run`)."""
        return type(self).after_run is not Component.after_run

    def after_run(self, block: Block, onsets: np.ndarray) -> dict[str, np.ndarray]:
        """The post-run step: new values of daily columns, once every onset is decided.

        ``block`` holds every patient of the run (``block.columns``: the final, edited series;
        ``block.patients``: the attributes; its random streams as in :meth:`draw`, so a purpose
        drawn ``daily`` gives every day its own pre-drawn number and the same onset meets the
        same numbers), ``onsets`` is ``(patients, days)``: whether an attack starts that day.
        Returns ``(patients, days)`` arrays for the component's own daily columns and for those
        it declares in :attr:`changes_after_run`; the engine stores them and re-derives the flags
        that read them (no onset changes). A column an edit or a term may change (editable, or
        read by a term) cannot be changed here. The default changes nothing.
        """
        return {}

    def attack_values(self, patients: Mapping[str, np.ndarray], attacks: Any, rows: np.ndarray,
                      days: np.ndarray) -> dict[str, Any]:
        """Values of the component's ``attacks``-frame columns (declared with
        ``frame="attacks"``) for the onsets of patients ``rows`` on ``days``; ``patients`` holds
        the patients' attributes, ``attacks`` the run's
        :class:`~abm.model.attacks.AttackDraws`, as the attacks happened."""
        return {}

    def problems(self, columns: Mapping[str, np.ndarray]) -> list[str]:
        """What is wrong with the logged values of the component's daily columns (``columns``:
        name -> values of every patient-day), beyond the declared ranges that validation checks
        itself: relations between columns that only the component knows. Empty when sound."""
        return []

    def terms(self, config: Any) -> tuple[Term, ...]:
        """Additive terms this component contributes to editable columns."""
        return ()

    def parameters(self, config: Any) -> dict[str, Any]:
        """The parameters that set the component's effects, for the causal graph."""
        section = self.settings(config)
        if section is None:
            return {}
        return {k: v for k, v in section.__dict__.items() if not k.startswith("_")}


def exposure_level(size: Any, small: float, large: float) -> Any:
    """The dose level of an exposure of ``size`` (elementwise, on arrays or one number): 0 below
    ``small``, 1 from ``small``, 2 from ``large`` (a ``large`` below ``small`` makes every
    exposure large). What a risk factor with two doses returns from :meth:`RiskFactor.flag`."""
    return 1 * (size >= small) + 1 * (size >= max(small, large))


class RiskFactor(Component, ABC):
    """A trigger: a day flag computed from logged columns, and a multiplier of the onset
    probability of the day after.

    The flag of day d reads ``inputs`` (columns of day d and, with a lag, earlier days) through
    :meth:`flag`; it is off on the first days whose lagged inputs fall before day 0. While the
    flag of day d is on, day d+1's onset probability is multiplied by
    ``1 + effect * dose * susceptibility``.

    **Dose.** A risk factor whose effect grows with the size of the exposure declares ``doses``,
    the relative effect at each exposure level (``(0.8, 1.6)``: a small and a large exposure),
    and its :meth:`flag` returns the level, 0 (off) to ``len(doses)``; an on/off risk factor
    keeps ``doses = (1.0,)`` and returns a boolean. The flag column is ``level > 0``; the level
    itself is recomputable from the same logged columns.

    **Susceptibility.** Each patient's susceptibility is a mixture: with probability
    :meth:`responder_share` the patient responds, with susceptibility drawn uniformly from
    ``population.susceptibility`` and divided by the share; otherwise it is 0. Dividing by the
    share keeps the cohort's mean susceptibility, and so the cohort-level effect, whatever the
    share (streams ``susceptibility`` and ``responder`` of this component).
    """

    kind: ClassVar[str] = "risk_factor"
    purposes: ClassVar[tuple[str, ...]] = ("susceptibility", "responder")
    #: the relative effect at each exposure level (see the class docstring)
    doses: ClassVar[tuple[float, ...]] = (1.0,)
    #: a published odds ratio of next-day onset the default effect must reproduce (validation
    #: checks it while the effect is at its default), and where it is published
    literature_odds_ratio: ClassVar[tuple[float, float] | None] = None
    literature_source: ClassVar[str] = ""
    #: the short name: ``<trigger>_trigger`` flags, ``susceptibility_<trigger>``, event names
    trigger: ClassVar[str] = ""
    #: what the flag means, in the column's documentation
    meaning: ClassVar[str] = ""

    @property
    def flag_column(self) -> str:
        return f"{self.trigger}_trigger"

    @property
    def susceptibility_column(self) -> str:
        return f"susceptibility_{self.trigger}"

    def outputs(self) -> tuple[Column, ...]:
        """The flag (daily) and the susceptibility (per patient) columns. The flag is not a
        feature for a predictive model: it is a function of logged columns that are."""
        return (
            Column(self.flag_column, pl.Boolean, "", self.meaning, feature=False),
            Column(self.susceptibility_column, pl.Float64, ">= 0",
                   f"scales the {self.trigger} trigger's effect: 0 for a patient it does not "
                   "affect", frame="patients"),
        )

    @abstractmethod
    def flag(self, v: Values, config: Any) -> Any:
        """Whether the trigger is active, from the lagged input values (elementwise): a boolean,
        or the exposure level 0 to ``len(doses)`` for a risk factor with several doses."""

    def effect(self, config: Any) -> float:
        """The multiplier's slope: ``1 + effect * dose * susceptibility`` while the flag is on;
        by default the section's ``effect`` (the setting :attr:`effect_setting` names). A risk
        factor without such a setting overrides this."""
        return float(self.settings(config).effect)

    @property
    def effect_setting(self) -> str:
        """The dotted setting that holds :meth:`effect` (``<section>.effect`` by default), so
        that experiments can switch any trigger's effect off by configuration."""
        return f"{self.section._path}.effect" if self.section is not None else ""

    def dose_weights(self, config: Any) -> tuple[float, ...]:
        """The relative effect at each exposure level under ``config``: the section's ``doses``
        where it has that setting (as many as :attr:`doses`), else :attr:`doses`."""
        return tuple(getattr(self.settings(config), "doses", self.doses))

    @property
    def level_bits(self) -> int:
        """Bits the engine packs the exposure level in."""
        return len(self.doses).bit_length()

    def responder_share(self, config: Any) -> float:
        """The share of patients the risk factor affects at all (its section's
        ``responder_share``, else 1: everyone)."""
        return float(getattr(self.settings(config), "responder_share", 1.0))

    def draw(self, block: Block) -> dict[str, np.ndarray]:
        lo, hi = block.config.population.susceptibility
        u = block.uniform(self, "susceptibility")
        susceptibility = lo + u * (hi - lo)
        share = self.responder_share(block.config)
        if share < 1:
            responds = block.uniform(self, "responder") < share
            susceptibility = np.where(responds, susceptibility / share, 0.0) if share > 0 \
                else np.zeros_like(susceptibility)
        return {self.susceptibility_column: susceptibility}

    def target_risk_ratio(self, config: Any
                          ) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """A fixed target of the flag's next-day risk ratio beyond the one the configuration
        implies (which validation always checks): ``((low, high), (core_low, core_high))``, the
        ratio within low-high and its 95% interval overlapping the core; ``None``: none."""
        return None

    @property
    def max_lag(self) -> int:
        return max((lag for _, lag in self.inputs), default=0)


class Coupling(Component, ABC):
    """A dependency between modalities: ``target`` gains ``term(v)`` from lagged ``inputs``.

    The target must be an editable column (declared with ``finalize``); the engine adds the term to
    its latent value before rounding, in the draw and again whenever an input is edited.
    """

    kind: ClassVar[str] = "coupling"
    target: ClassVar[str] = ""

    @property
    def targets(self) -> tuple[str, ...]:
        """Every column the coupling adds to (a coupling that overrides :meth:`terms` to add to
        more than ``target`` lists them all)."""
        return (self.target,)

    @abstractmethod
    def term(self, v: Values, config: Any) -> Any:
        """The term added to ``target`` (elementwise)."""

    def terms(self, config: Any) -> tuple[Term, ...]:
        return (Term(self.target, tuple(self.inputs), lambda v: self.term(v, config), self.name),)


class FeedbackRule(Component):
    """A callback on the ``Attack`` event that edits the patient's future.

    Declare what the rule does with :meth:`planned` (edits relative to the onset day); the engine
    then applies them when an attack starts (``patient.edit``) and calibration accounts for them.
    A rule that needs more than planned edits overrides ``__call__`` (SimPy's callback contract:
    the attack event is the one argument) and still declares in :meth:`planned` what calibration
    should assume.
    """

    kind: ClassVar[str] = "feedback"

    def planned(self, block: Block) -> list[PlannedEdit]:
        """The edits an attack starting on each day would make, for a block of patients."""
        return []

    def edits_declared(self, config: Any) -> tuple[tuple[str, int], ...] | None:
        """Which columns the rule edits and how many days after the onset: ``(column,
        offset_days)`` pairs, the same as :meth:`planned`'s but without drawing anything.

        The causal graph reads this (an edge ``migraine_onset -> column`` per pair). A rule
        that does not override it returns ``None``, and the graph falls back to calling
        :meth:`planned` on a block of one patient; a rule whose ``planned`` needs more than such
        a block (or whose ``__call__`` edits columns it does not plan) should declare its edits
        here, or its edges are missing from the graph.
        """
        return None

    def __call__(self, attack: Any) -> None:
        attack.patient.apply_planned(self, attack)
