"""The event log of an ``abm run`` folder as XES, OCEL 2.0 JSON, Parquet or CSV.

Process-mining tools read event logs in two standard forms:

- **XES**, IEEE Std 1849-2016 ("IEEE Standard for eXtensible Event Stream (XES) for Achieving
  Interoperability in Event Logs and Event Streams", doi 10.1109/IEEESTD.2016.7740858): one
  *trace* per case with its *events*, typed attributes (``string``, ``date``, ``int``,
  ``float``, ``boolean``), and the standard extensions that give keys their meaning. Here a case
  is a patient: ``concept:name`` of a trace is the patient id, of an event the event kind
  (``sleep``, ``migraine_onset``, …); ``time:timestamp`` is ISO 8601 with a UTC offset, and
  every event is a ``lifecycle:transition`` ``complete``. The trace holds every event of the
  ``events`` frame that belongs to the patient, in time order. ``weather`` events belong to a
  location, not to a patient, and are left out (the patient's own ``trigger`` events named
  ``weather`` stay; the OCEL export keeps the weather events).
- **OCEL 2.0** (Berti, Koren, Adams et al., "OCEL (Object-Centric Event Log) 2.0
  Specification", version 2.0 of 16 October 2023, ocel-standard.org, arXiv:2403.01975), in its
  JSON exchange format, as ``pm4py.read_ocel2_json`` reads it: ``objectTypes``,
  ``eventTypes``, ``objects`` and ``events``, with qualified event-to-object and
  object-to-object ``relationships``. Objects here: each ``patient``; each ``location``; each
  ``attack``; and one ``trigger`` object per patient and trigger type (id ``P0000:sleep``),
  whose life is the days that trigger was active for that patient. Every event is kept and
  linked to the objects it involves: a log event (stress, diet, sleep) to its patient; a
  ``trigger`` event to its patient and trigger object; an onset to its patient, its attack and
  the trigger objects active the day before; an end to its patient and attack; a ``feedback``
  event to the attack that caused it and to its patient; ``weather`` to its location. Patients
  are linked to their location and attacks and triggers to their patient (O2O).
- **Parquet / CSV**: the ``events`` frame as one file.

Attributes come from the ``events`` frame joined with ``daily`` (the patient-day's logged
values), ``weather`` (the location-day) and ``attacks`` (the attack's ground truth); which
columns each kind carries follows from the components' declarations (:func:`layout`): a log
event carries every column of the component that logs it. Event times
are naive in the frames and written as UTC (``+00:00``).

Both text formats are written streaming: the XML or JSON text of a chunk of events (for XES,
events grouped by patient, with each trace's opening and closing around its first and last
event) is built column-wise by Polars string expressions and written to the file handle before
the next chunk, so the whole document is never in memory. Identifiers and names are escaped for
XML or JSON once per distinct value; the text is UTF-8.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import polars as pl

from abm import wording
from abm.errors import ConfigError
from abm.exports import atomic
from abm.model.component import RiskFactor
from abm.output import files, schemas

FORMATS = ("xes", "ocel", "parquet", "csv")
SUFFIX_FORMAT = {".xes": "xes", ".jsonocel": "ocel", ".json": "ocel", ".parquet": "parquet",
                 ".csv": "csv"}
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.3f+00:00"
#: the value time of static object attributes (OCEL 2.0: "initial value")
INITIAL_TIME = "1970-01-01T00:00:00.000+00:00"
#: events rendered and written at a time
EVENTS_PER_CHUNK = 100_000
XES_NAMESPACE = "http://www.xes-standard.org/"
XES_EXTENSIONS = (("Concept", "concept"), ("Time", "time"), ("Lifecycle", "lifecycle"))


@dataclass(frozen=True)
class Attribute:
    """One typed attribute of an exported event or object."""

    name: str
    kind: str  # float, int, boolean, string or date
    column: str  # column of the joined frame it is read from


def _a(name: str, kind: str, column: str | None = None) -> Attribute:
    return Attribute(name, kind, column or name)


def kind_of(dtype: pl.DataType) -> str:
    """The exported type of a column of ``dtype``."""
    if dtype == pl.Boolean:
        return "boolean"
    if dtype.is_integer():
        return "int"
    if dtype.is_float():
        return "float"
    if dtype.is_temporal():
        return "date"
    return "string"


#: attributes of the event kinds the engine makes (the kind itself is ``concept:name`` / the
#: OCEL event type); the kinds a component logs get theirs from :func:`layout`
ENGINE_EVENTS: dict[str, tuple[Attribute, ...]] = {
    "migraine_onset": (_a("attack_id", "string"), _a("severity", "int", "a_severity"),
                       _a("with_aura", "boolean", "a_with_aura"),
                       _a("duration_hours", "float", "a_duration_hours"),
                       _a("caused_by_feedback", "boolean", "a_caused_by_feedback"),
                       _a("p_onset", "float", "a_p_onset")),
    "feedback": (_a("attack_id", "string"), _a("rule", "string"),
                 _a("column", "string"), _a("change", "float", "value"),
                 _a("target_date", "date")),
    "trigger": (_a("trigger", "string", "name"),),
    "migraine_end": (_a("attack_id", "string"), _a("duration_hours", "float", "a_duration_hours")),
}
ATTACK_OBJECT = (_a("onset", "date"), _a("end", "date"), _a("severity", "int"),
                 _a("with_aura", "boolean"), _a("duration_hours", "float"),
                 _a("caused_by_feedback", "boolean"), _a("p_onset", "float"),
                 _a("p_baseline", "float"))


@dataclass(frozen=True)
class Layout:
    """What the exports carry, derived from the model that made the frames.

    A kind the components log carries the component's columns: a patient's log event the
    patient-day's values of the component's daily columns (and the event's own value first when
    it is not one of them, such as the number of diet items); a location's event the
    location-day's values. Patients carry the patient columns of every component that is not a
    risk factor (XES traces); OCEL's patient objects add each risk factor's susceptibility and the
    calibrated baseline. ``triggers`` are the risk factors' names, whose flags on the day before
    an onset link the onset to its trigger objects.
    """

    events: dict[str, tuple[Attribute, ...]]
    patient: tuple[Attribute, ...]
    objects: dict[str, tuple[Attribute, ...]]
    triggers: tuple[str, ...]
    #: the kinds logged per location (weather), linked to their location object
    location_kinds: frozenset[str]

    def joined(self, prefix: str) -> tuple[str, ...]:
        """The columns the events are joined with from one frame (``d_`` daily, ``w_``
        weather), each once, in the order the attributes name them."""
        columns = (a.column[len(prefix):] for attrs in self.events.values() for a in attrs
                   if a.column.startswith(prefix))
        return tuple(dict.fromkeys(columns))


def layout(model: Any) -> Layout:
    """The :class:`Layout` of ``model``'s frames."""
    events: dict[str, tuple[Attribute, ...]] = {}
    logged = {e.kind: (c, e) for c in model.components for e in c.logs}
    for kind in schemas.event_kinds(model):
        if kind not in logged:
            events[kind] = ENGINE_EVENTS[kind]
            continue
        component, entry = logged[kind]
        if entry.per_location:
            columns = {c.name: c for c in component.location_columns}
            own = columns[entry.column].dtype if entry.column in columns else entry.dtype
            events[kind] = (_a(entry.name, kind_of(own), "value"),
                            *(_a(c.name, kind_of(c.dtype), f"w_{c.name}")
                              for c in columns.values() if c.name != entry.column))
            continue
        daily = [c for c in component.outputs() if c.frame == "daily"]
        daily.sort(key=lambda c: c.name != entry.column)  # the entry's own column first
        head = () if entry.column is not None else (_a(entry.name, kind_of(entry.dtype),
                                                       "value"),)
        events[kind] = (*head, *(_a(c.name, kind_of(c.dtype), f"d_{c.name}") for c in daily))
    modal = [c for comp in model.components if not isinstance(comp, RiskFactor)
             for c in comp.outputs() if c.frame == "patients"]
    patient = (_a("location_id", "string"), *(_a(c.name, kind_of(c.dtype)) for c in modal))
    susceptibility = [_a(rf.susceptibility_column, "float") for rf in model.risk_factors]
    engine = [_a(name, kind_of(spec[0])) for name, spec in schemas.PATIENT_ENGINE.items()]
    objects = {"patient": (*patient[1:], *susceptibility, *engine), "location": (),
               "attack": ATTACK_OBJECT, "trigger": (_a("trigger", "string"),)}
    location_kinds = frozenset(e.kind for c in model.components for e in c.logs
                               if e.per_location)
    return Layout(events, patient, objects, tuple(model.triggers), location_kinds)


XES_TYPE = {"float": "float", "int": "int", "boolean": "boolean", "string": "string",
            "date": "date"}
OCEL_TYPE = {"float": "float", "int": "integer", "boolean": "boolean", "string": "string",
             "date": "time"}


@dataclass(frozen=True)
class Summary:
    """What an export wrote."""

    path: Path
    fmt: str
    events: int
    bytes: int


def markdown_table(model: Any = None) -> str:
    """The README's table of what the event logs carry (default: the built-in model)."""
    lay = layout(model if model is not None else schemas.default_model())

    def names(attributes: tuple[Attribute, ...]) -> str:
        return ", ".join(f"`{a.name}`" for a in attributes)

    lines = ["| event or trace | attributes |", "|---|---|",
             f"| trace (a patient; XES) | {names(lay.patient)} |"]
    for kind, attributes in lay.events.items():
        text = names(attributes)
        if kind == "trigger":
            text += f" ({', '.join(lay.triggers)})"
        if kind in lay.location_kinds:
            text += " (a location's: OCEL only)"
        lines.append(f"| `{kind}` | {text} |")
    return "\n".join(lines) + "\n"


def resolve_format(fmt: str | None, to: Path) -> str:
    """The format asked for, or the one ``--to``'s suffix names."""
    if fmt is None:
        fmt = SUFFIX_FORMAT.get(to.suffix.lower())
        if fmt is None:
            raise ConfigError(f"{wording.option('--format', 'fmt')} is needed: {to.name!r} has no "
                              f"suffix of {', '.join(SUFFIX_FORMAT)}; use one of "
                              f"{', '.join(FORMATS)}")
    if fmt not in FORMATS:
        raise ConfigError(f"{wording.option('--format', 'fmt')} must be one of "
                          f"{', '.join(FORMATS)}, got {fmt!r}")
    return fmt


def export_eventlog(source: Path, to: Path, fmt: str | None = None,
                    overwrite: bool = False, truth: bool = False) -> Summary:
    """Write the event log of the ``abm run`` folder ``source`` to the file ``to``.

    The patients' log events (stress, diet, sleep) and their attributes are what the observation
    layer recorded (``abm.exports.source.observed_events``: a day a source recorded nothing has no
    event); with ``truth``, the ``events`` and ``daily`` frames as they are."""
    source, to = Path(source), Path(to)
    atomic.check_file_target(to, overwrite)
    fmt = resolve_format(fmt, to)
    atomic.check_outside(to, source, "--to")
    frames, _config, model = atomic.load_run(source)
    if not truth:
        from abm.exports.source import observed_events

        frames = observed_events(frames, model)
    counted: list[int] = []
    files.write_file(to, lambda path: counted.append(write_eventlog(frames, fmt, path, model)))
    return Summary(to, fmt, counted[0], to.stat().st_size)


def write_eventlog(frames: dict[str, pl.DataFrame], fmt: str, path: Path,
                   model: Any = None) -> int:
    """Write the event log in ``fmt`` to ``path``; return the number of events written.

    ``model`` made the frames (``Result.model``, or ``abm.output.write.read_run``'s); default:
    the built-in model."""
    if fmt in ("parquet", "csv"):
        events = frames["events"]
        if fmt == "parquet":
            events.write_parquet(path, compression="zstd", compression_level=1)
        else:
            events.with_columns(pl.col("event").cast(pl.String)).write_csv(path)
        return events.height
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        return (write_xes(frames, handle, model) if fmt == "xes"
                else write_ocel(frames, handle, model))


# --- text of values --------------------------------------------------------------------------

_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XML_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("\t", "&#9;"),
                ("\n", "&#10;"), ("\r", "&#13;"))


def xml_escape(text: str) -> str:
    """``text`` for a double-quoted XML attribute value; characters XML 1.0 forbids become
    U+FFFD."""
    text = _XML_FORBIDDEN.sub("\ufffd", text)
    for raw, escaped in _XML_ESCAPES:
        text = text.replace(raw, escaped)
    return text


def json_escape(text: str) -> str:
    """``text`` for the inside of a JSON string."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def with_escaped(frame: pl.DataFrame, columns: tuple[str, ...],
                 escape: Callable[[str], str]) -> pl.DataFrame:
    """``frame`` with ``e_<column>``: the column as text escaped by ``escape``. Identifiers and
    names take few distinct values, so each is escaped once in Python and mapped."""
    added = []
    for column in columns:
        text = pl.col(column).cast(pl.String)
        values = frame.select(text.unique().drop_nulls()).to_series().to_list()
        mapping = {v: escape(v) for v in values if escape(v) != v}
        added.append((text.replace(mapping) if mapping else text).alias(f"e_{column}"))
    return frame.with_columns(added)


def _plain(attr: Attribute) -> pl.Expr:
    """The value as unquoted text (strings: escaped); null when missing or not finite."""
    col = pl.col(attr.column)
    if attr.kind == "float":
        return pl.when(col.is_finite()).then(col).cast(pl.String)
    if attr.kind == "int":
        return col.cast(pl.Int64).cast(pl.String)
    if attr.kind == "boolean":
        return col.cast(pl.String)
    if attr.kind == "date":
        return col.cast(pl.Datetime("ms")).dt.strftime(TIME_FORMAT)
    return pl.col(f"e_{attr.column}")


def xes_attribute(attr: Attribute) -> pl.Expr:
    """``<type key="name" value="…"/>``, or null when the value is missing."""
    return pl.concat_str([pl.lit(f'<{XES_TYPE[attr.kind]} key="{attr.name}" value="'),
                          _plain(attr), pl.lit('"/>')])


def _quoted(text: pl.Expr) -> pl.Expr:
    return pl.concat_str([pl.lit('"'), text, pl.lit('"')])


def ocel_attribute(attr: Attribute, with_time: bool = False) -> pl.Expr:
    """``{"name": …, "value": …}`` (objects: with the initial-value ``time``), or null."""
    head = f'{{"name":{json.dumps(attr.name)},'
    if with_time:
        head += f'"time":"{INITIAL_TIME}",'
    value = _plain(attr)
    if attr.kind in ("string", "date"):
        value = _quoted(value)
    return pl.concat_str([pl.lit(head + '"value":'), value, pl.lit("}")])


def _joined(pieces: list[pl.Expr], separator: str = "") -> pl.Expr:
    if not pieces:
        return pl.lit("")
    return pl.concat_str(pieces, separator=separator, ignore_nulls=True)


def _write_lines(handle: TextIO, text: pl.Series) -> None:
    """Write each value of ``text`` followed by a newline, as is (no quoting)."""
    if text.len():
        pl.DataFrame({"text": text}).write_csv(handle, include_header=False,
                                               quote_style="never")


# --- the joined event frame ---------------------------------------------------------------

EVENT_STRINGS = ("patient_id", "location_id", "attack_id", "name", "rule", "column")


def _feedback_parts(events: pl.DataFrame) -> list[pl.Expr]:
    """``rule`` and ``column`` of feedback names (``rule:column``), split once per name."""
    names = events.select(pl.col("name").cast(pl.String).unique().drop_nulls()).to_series()
    split = {n: n.rpartition(":") for n in names.to_list() if ":" in n}
    name = pl.col("name").cast(pl.String)
    return [name.replace_strict({n: p[0] for n, p in split.items()}, default=None,
                                return_dtype=pl.String).alias("rule"),
            name.replace_strict({n: p[2] for n, p in split.items()}, default=None,
                                return_dtype=pl.String).alias("column")]


def joined_events(frames: dict[str, pl.DataFrame], escape: Callable[[str], str],
                  lay: Layout) -> pl.DataFrame:
    """``events`` in time order (``row`` = position) with the attributes of its patient-day,
    location-day and attack, and its text columns escaped by ``escape`` (``e_<column>``)."""
    events = frames["events"]
    if not events["time"].is_sorted():  # a sharded run's parts, one after the other
        events = events.sort("time", maintain_order=True)
    attack_columns = (*(a.column.removeprefix("a_") for a in ENGINE_EVENTS["migraine_onset"]
                        if a.column.startswith("a_")), *(f"{t}_trigger" for t in lay.triggers))
    events = events.with_row_index("row").with_columns(*_feedback_parts(events),
                                                       date=pl.col("time").dt.date())
    daily = frames["daily"].select("patient_id", "date",
                                   *(pl.col(c).alias(f"d_{c}") for c in lay.joined("d_")))
    weather = frames["weather"].select("location_id", "date",
                                       *(pl.col(c).alias(f"w_{c}") for c in lay.joined("w_")))
    attacks = frames["attacks"].select("attack_id",
                                       *(pl.col(c).alias(f"a_{c}") for c in attack_columns))
    joined = (events
              .join(daily, on=["patient_id", "date"], how="left", maintain_order="left")
              .join(weather, on=["location_id", "date"], how="left", maintain_order="left")
              .join(attacks, on="attack_id", how="left", maintain_order="left"))
    return with_escaped(joined, EVENT_STRINGS, escape)


def _render(frame: pl.DataFrame, render_kind: Callable[[str], pl.Expr]) -> pl.Series:
    """Per row, the text ``render_kind(kind)`` gives for the row's event kind."""
    if frame.height == 0:
        return pl.Series("text", [], dtype=pl.String)
    parts = [part.select("_order", text=render_kind(str(kind[0])))
             for kind, part in frame.with_row_index("_order")
             .partition_by("event", as_dict=True).items()]
    return pl.concat(parts).sort("_order")["text"]


# --- XES ----------------------------------------------------------------------------------

def _xes_header(frames: dict[str, pl.DataFrame]) -> str:
    n = frames["patients"].height
    days = frames["daily"]["day"].max()
    days = 0 if days is None else int(days) + 1  # type: ignore[arg-type]
    extensions = "".join(
        f'\t<extension name="{label}" prefix="{prefix}" '
        f'uri="http://www.xes-standard.org/{prefix}.xesext"/>\n'
        for label, prefix in XES_EXTENSIONS)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<log xes.version="1849-2016" xmlns="{XES_NAMESPACE}">\n'
        f"{extensions}"
        '\t<global scope="trace">\n'
        '\t\t<string key="concept:name" value="__INVALID__"/>\n'
        "\t</global>\n"
        '\t<global scope="event">\n'
        '\t\t<string key="concept:name" value="__INVALID__"/>\n'
        f'\t\t<date key="time:timestamp" value="{INITIAL_TIME}"/>\n'
        '\t\t<string key="lifecycle:transition" value="complete"/>\n'
        "\t</global>\n"
        '\t<classifier name="Activity" keys="concept:name"/>\n'
        f'\t<string key="concept:name" value="abm migraine cohort: '
        f'{wording.plural(n, "patient")} x {wording.plural(days, "day")}"/>'
        "\n")


def _xes_event(kind: str, lay: Layout) -> pl.Expr:
    head = (f'\t\t<event><string key="concept:name" value="{kind}"/>'
            '<date key="time:timestamp" value="')
    return pl.concat_str([
        pl.lit(head), pl.col("time").dt.strftime(TIME_FORMAT),
        pl.lit('"/><string key="lifecycle:transition" value="complete"/>'),
        _joined([xes_attribute(a) for a in lay.events[kind]]), pl.lit("</event>")])


def _text_attributes(lay: Layout) -> tuple[str, ...]:
    """The patients' attributes exported as text (escaped before they are written)."""
    return tuple(a.column for a in lay.objects["patient"] if a.kind == "string")


def trace_heads(patients: pl.DataFrame, lay: Layout) -> pl.Series:
    """The opening of each patient's trace, with the patient's attributes."""
    patients = with_escaped(patients, ("patient_id", "location_id", *_text_attributes(lay)),
                            xml_escape)
    return patients.select(pl.concat_str([
        pl.lit('\t<trace><string key="concept:name" value="'), pl.col("e_patient_id"),
        pl.lit('"/>'), _joined([xes_attribute(a) for a in lay.patient]), pl.lit("\n")]))\
        .to_series()


def patient_events(frames: dict[str, pl.DataFrame], lay: Layout,
                   escape: Callable[[str], str] = xml_escape) -> pl.DataFrame:
    """The joined events of patients, grouped by patient in ``patients`` order (``pidx``: the
    patient's row there) and in time order within a patient."""
    index = frames["patients"].select("patient_id").with_row_index("pidx")
    return (joined_events(frames, escape, lay).filter(pl.col("patient_id").is_not_null())
            .join(index, on="patient_id", how="inner")
            .sort(["pidx", "row"]))


def write_xes(frames: dict[str, pl.DataFrame], handle: TextIO, model: Any = None) -> int:
    """Write the XES log of ``model``'s frames to ``handle`` a chunk of events at a time; return
    the events."""
    lay = layout(model if model is not None else schemas.default_model())
    handle.write(_xes_header(frames))
    heads = trace_heads(frames["patients"], lay)
    events = patient_events(frames, lay).with_columns(
        first=pl.col("pidx") != pl.col("pidx").shift(1, fill_value=-1),
        last=pl.col("pidx") != pl.col("pidx").shift(-1, fill_value=-1))
    for lo in range(0, events.height, EVENTS_PER_CHUNK):
        chunk = events.slice(lo, EVENTS_PER_CHUNK)
        head = heads.gather(chunk.select(pl.when("first").then("pidx")).to_series())
        body = _render(chunk, lambda kind: _xes_event(kind, lay))
        text = chunk.with_columns(head=head, body=body).select(
            pl.concat_str([pl.col("head"), pl.col("body"),
                           pl.when("last").then(pl.lit("\n\t</trace>"))], ignore_nulls=True))
        _write_lines(handle, text.to_series())
    silent = np.setdiff1d(np.arange(heads.len()), events["pidx"].unique().to_numpy())
    for i in silent.tolist():  # patients with no event still get their (empty) trace
        handle.write(heads[i] + "\t</trace>\n")
    handle.write("</log>\n")
    return events.height


# --- OCEL 2.0 JSON ------------------------------------------------------------------------

def _relation(object_id: pl.Expr, qualifier: str) -> pl.Expr:
    return pl.concat_str([pl.lit('{"objectId":"'), object_id,
                          pl.lit(f'","qualifier":{json.dumps(qualifier)}}}')])


def _trigger_id(name: pl.Expr) -> pl.Expr:
    return pl.concat_str([pl.col("e_patient_id"), pl.lit(":"), name])


def _event_relations(kind: str, lay: Layout) -> list[pl.Expr]:
    if kind in lay.location_kinds:
        return [_relation(pl.col("e_location_id"), "location")]
    relations = [_relation(pl.col("e_patient_id"), "patient")]
    if kind == "trigger":
        relations.append(_relation(_trigger_id(pl.col("e_name")), "trigger"))
    if kind in ("migraine_onset", "migraine_end"):
        relations.append(_relation(pl.col("e_attack_id"), "attack"))
    if kind == "migraine_onset":
        relations += [pl.when(pl.col(f"a_{t}_trigger"))
                      .then(_relation(_trigger_id(pl.lit(json_escape(t))),
                                      "active the day before"))
                      for t in lay.triggers]
    if kind == "feedback":
        relations.insert(0, _relation(pl.col("e_attack_id"), "caused by"))
    return relations


def _ocel_event(kind: str, lay: Layout) -> pl.Expr:
    return pl.concat_str([
        pl.lit('{"id":"e'), pl.col("row").cast(pl.String),
        pl.lit(f'","type":{json.dumps(kind)},"time":"'), pl.col("time").dt.strftime(TIME_FORMAT),
        pl.lit('","attributes":['),
        _joined([ocel_attribute(a) for a in lay.events[kind]], ","),
        pl.lit('],"relationships":['), _joined(_event_relations(kind, lay), ","), pl.lit("]}")])


def _ocel_object(kind: str, relations: list[pl.Expr], lay: Layout) -> pl.Expr:
    return pl.concat_str([
        pl.lit('{"id":"'), pl.col("e_id"), pl.lit(f'","type":{json.dumps(kind)},"attributes":['),
        _joined([ocel_attribute(a, with_time=True) for a in lay.objects[kind]], ","),
        pl.lit('],"relationships":['), _joined(relations, ","), pl.lit("]}")])


def trigger_objects(frames: dict[str, pl.DataFrame],
                    triggers: tuple[str, ...] | None = None) -> pl.DataFrame:
    """One row per (patient, trigger type) active at least once, from the ``trigger`` events
    and the attacks' triggers of the day before onset; ``id`` is ``<patient_id>:<trigger>``.
    ``triggers`` orders them (default: the attacks frame's ``<trigger>_trigger`` columns)."""
    if triggers is None:
        triggers = tuple(c.removesuffix("_trigger") for c in frames["attacks"].columns
                         if c.endswith("_trigger"))
    fired = frames["events"].filter(pl.col("event") == "trigger").select(
        pl.col("patient_id").cast(pl.String), trigger=pl.col("name").cast(pl.String))
    before = [frames["attacks"].filter(pl.col(f"{t}_trigger")).select(
        pl.col("patient_id").cast(pl.String), trigger=pl.lit(t)) for t in triggers]
    rank = {t: i for i, t in enumerate(triggers)}
    return (pl.concat([fired, *before]).unique()
            .with_columns(rank=pl.col("trigger").replace_strict(rank, default=len(rank)))
            .sort(["patient_id", "rank", "trigger"])
            .select(pl.concat_str([pl.col("patient_id"), pl.lit(":"), pl.col("trigger")])
                    .alias("id"), "patient_id", "trigger"))


def _object_texts(frames: dict[str, pl.DataFrame], lay: Layout) -> Iterator[pl.Series]:
    """The JSON text of every object: patients, locations, attacks, triggers."""
    def escaped(frame: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
        return with_escaped(frame, columns, json_escape)

    patients = escaped(frames["patients"].with_columns(id=pl.col("patient_id")),
                       ("id", "location_id", *_text_attributes(lay)))
    yield patients.select(_ocel_object("patient", [_relation(pl.col("e_location_id"),
                                                             "lives at")], lay)).to_series()
    locations = pl.concat([frames[f].select(pl.col("location_id").cast(pl.String))
                           for f in ("patients", "weather")]).unique().sort("location_id")
    yield escaped(locations.rename({"location_id": "id"}), ("id",)).select(
        _ocel_object("location", [], lay)).to_series()
    attacks = escaped(frames["attacks"].with_columns(id=pl.col("attack_id")),
                      ("id", "patient_id"))
    yield attacks.select(_ocel_object("attack", [_relation(pl.col("e_patient_id"),
                                                           "patient")], lay)).to_series()
    triggers = escaped(trigger_objects(frames, lay.triggers), ("id", "patient_id", "trigger"))
    yield triggers.select(_ocel_object("trigger", [_relation(pl.col("e_patient_id"),
                                                             "patient")], lay)).to_series()


def _event_texts(frames: dict[str, pl.DataFrame], lay: Layout) -> Iterator[pl.Series]:
    events = joined_events(frames, json_escape, lay)
    for lo in range(0, events.height, EVENTS_PER_CHUNK):
        yield _render(events.slice(lo, EVENTS_PER_CHUNK), lambda kind: _ocel_event(kind, lay))


def ocel_types(lay: Layout) -> tuple[list[dict], list[dict]]:
    """The ``objectTypes`` and ``eventTypes`` declarations."""
    def declared(attributes: tuple[Attribute, ...]) -> list[dict]:
        return [{"name": a.name, "type": OCEL_TYPE[a.kind]} for a in attributes]
    objects = [{"name": k, "attributes": declared(v)} for k, v in lay.objects.items()]
    events = [{"name": k, "attributes": declared(v)} for k, v in lay.events.items()]
    return objects, events


def _write_array(handle: TextIO, chunks: Iterator[pl.Series]) -> None:
    """The items of a JSON array, one a line, comma-separated across chunks."""
    first = True
    for chunk in chunks:
        if chunk.len() == 0:
            continue
        frame = pl.DataFrame({"item": chunk})
        separator = pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("" if first else ","))
        _write_lines(handle, frame.select(pl.concat_str([separator.otherwise(pl.lit(",")),
                                                         pl.col("item")])).to_series())
        first = False


def write_ocel(frames: dict[str, pl.DataFrame], handle: TextIO, model: Any = None) -> int:
    """Write the OCEL 2.0 JSON log of ``model``'s frames to ``handle``, objects then events, a
    chunk at a time; return the number of events."""
    lay = layout(model if model is not None else schemas.default_model())
    object_types, event_types = ocel_types(lay)
    handle.write('{"objectTypes":' + json.dumps(object_types) + ',\n"eventTypes":'
                 + json.dumps(event_types) + ',\n"objects":[\n')
    _write_array(handle, _object_texts(frames, lay))
    handle.write('],\n"events":[\n')
    _write_array(handle, _event_texts(frames, lay))
    handle.write("]}\n")
    return frames["events"].height
