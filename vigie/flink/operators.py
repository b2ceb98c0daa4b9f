"""PyFlink operators: thin wrappers that call the pure core once per record.

Heavy objects (schema catalogue, city geometry, rules) are built in ``open()``, once per
parallel instance, never per record. Anything a record cannot become goes to the ``DLQ``
side output with its original bytes and a reason: a job never fails on bad input.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from typing import Any

from pyflink.common import Row, Types
from pyflink.datastream import (
    KeyedProcessFunction,
    OutputTag,
    ProcessFunction,
    RuntimeContext,
)
from pyflink.datastream.state import MapStateDescriptor, ValueStateDescriptor

from vigie.config import Settings
from vigie.core.events import Incident, NormalizedEvent
from vigie.core.fusion.engine import FusionEngine
from vigie.core.fusion.keying import CellGrid
from vigie.core.geo import CityGeometry
from vigie.core.normalize import Normalizer, Rejection
from vigie.core.rules import Rules, rules_for_city
from vigie.core.serde import (
    INCIDENT,
    NORMALIZED_EVENT,
    AvroDeserializer,
    AvroSerializer,
    SchemaCatalogue,
    SerdeError,
    event_to_record,
    incident_to_record,
    record_to_event,
)
from vigie.flink.kafka_io import KEYED_RECORD, STAMPED_RECORD
from vigie.kafka.dead_letter import dead_letter_headers

#: Side output of records that could not be processed: original bytes + reason headers.
DLQ = OutputTag("dlq", KEYED_RECORD)


def dlq_of(topic: str) -> OutputTag:
    """The dead-letter side output of one input topic (one Kafka sink per DLQ topic)."""
    return OutputTag(f"dlq-{topic}", KEYED_RECORD)


#: Side output of the deduplicated events, Avro-encoded for ``events.normalized``, stamped
#: with their event time (the fuse job's watermarks come from it).
EVENTS_OUT = OutputTag("events", STAMPED_RECORD)


def dlq_row(original: bytes, reason: str, detail: str, topic: str, job: str) -> Row:
    """A dead-letter record: the original bytes, keyless, with the reason in headers."""
    headers = dead_letter_headers(
        reason=reason, detail=detail, source=topic, job=job, timestamp_ms=int(time.time() * 1000)
    )
    return Row(None, original, dict(headers))


class NormalizeRecords(ProcessFunction):
    """Raw records, as (value bytes, topic) rows → :class:`NormalizedEvent` or a DLQ record.

    A record that cannot be read goes to the dead-letter output of its own topic
    (:func:`dlq_of`) with the reason.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def open(self, runtime_context: RuntimeContext) -> None:
        """Load schemas, city geometry and rules once."""
        catalogue = SchemaCatalogue.load(self.settings.schemas_dir / "avro")
        self.deserializer = AvroDeserializer(catalogue)
        city = self.settings.city_dir
        self.normalizer = Normalizer(CityGeometry.load(city), rules_for_city(city))
        self.dlq: dict[str, OutputTag] = {}

    def _dead(self, value: bytes, topic: str, reason: str, detail: str) -> tuple[OutputTag, Row]:
        tag = self.dlq.get(topic)
        if tag is None:
            tag = self.dlq[topic] = dlq_of(topic)
        return tag, dlq_row(value, reason, detail, topic, "normalize")

    def process_element(self, value: Row, ctx: ProcessFunction.Context) -> Iterator[Any]:
        """Decode, normalise, or reject with the reason."""
        raw, topic = value[0], value[1]
        try:
            decoded = self.deserializer.deserialize(raw)
        except SerdeError as exc:
            yield self._dead(raw, topic, exc.reason, exc.detail)
            return
        result = self.normalizer.normalize(decoded.schema_name, decoded.record)
        if isinstance(result, Rejection):
            yield self._dead(raw, topic, result.reason, result.detail)
            return
        yield result


class DecodeEvents(ProcessFunction):
    """``events.normalized`` records, as (value bytes, topic) rows → :class:`NormalizedEvent`,
    or a DLQ record."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.settings = settings
        self.topic = topic

    def open(self, runtime_context: RuntimeContext) -> None:
        """Load the schema catalogue once."""
        catalogue = SchemaCatalogue.load(self.settings.schemas_dir / "avro")
        self.deserializer = AvroDeserializer(catalogue)

    def process_element(self, value: Row, ctx: ProcessFunction.Context) -> Iterator[Any]:
        """Decode into the current event schema; anything else is a dead letter."""
        raw = value[0]
        try:
            record = self.deserializer.deserialize(raw, reader=NORMALIZED_EVENT).record
            yield record_to_event(record)
        except SerdeError as exc:
            yield DLQ, dlq_row(raw, exc.reason, exc.detail, self.topic, "fuse")


class DropDuplicates(KeyedProcessFunction):
    """Keyed by event id: pass the first delivery of each source record, drop repeats.

    The memory of an id is cleared by an event-time timer once the record is older than
    the dedupe window, so state holds the recent ids, not every id ever seen.
    """

    def __init__(self, settings: Settings, window_ms: int) -> None:
        self.window_ms = window_ms
        self.avro = AvroRows(settings)

    def open(self, runtime_context: RuntimeContext) -> None:
        """Declare the seen-flag state."""
        self.seen = runtime_context.get_state(ValueStateDescriptor("seen", Types.BOOLEAN()))

    def process_element(self, value: NormalizedEvent, ctx: KeyedProcessFunction.Context) -> Any:
        """Emit the event (and its Avro row, to :data:`EVENTS_OUT`) unless already seen."""
        if self.seen.value():
            return
        self.seen.update(True)
        ctx.timer_service().register_event_time_timer(value.event_time + self.window_ms)
        yield EVENTS_OUT, self.avro.stamped(value)
        yield value

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterator[Any]:
        """Forget the id once it is out of the window."""
        self.seen.clear()
        return iter(())


def city_grid(settings: Settings, rules: Rules) -> CellGrid:
    """The spatial cells the fuse operator is keyed by, covering the city's bounding box."""
    geometry = CityGeometry.load(settings.city_dir)
    min_lon, min_lat, max_lon, max_lat = geometry.bbox
    x0, y0 = geometry.project(min_lon, min_lat)
    x1, y1 = geometry.project(max_lon, max_lat)
    return CellGrid.for_rules(
        rules, (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), settings.fusion_cell_m
    )


class CellKeys:
    """Flat-map: an event → (cell, event) for every cell that must see it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._grid: CellGrid | None = None
        self._rules: Rules | None = None

    def __call__(self, event: NormalizedEvent) -> Iterator[tuple[str, NormalizedEvent]]:
        """Yield the event once per cell it must reach, its home cell first."""
        if self._grid is None:
            self._rules = rules_for_city(self.settings.city_dir)
            self._grid = city_grid(self.settings, self._rules)
        for cell in self._grid.cell_keys(event, self._rules):
            yield cell, event


class FuseCell(KeyedProcessFunction):
    """Keyed by spatial cell: one :class:`FusionEngine` per cell, checkpointed by Flink.

    The engine is a function of the events it holds, so keyed state keeps just those events
    (a MapState, one entry written per event), the incident versions last published, and
    the clock. A restart from a checkpoint rebuilds the engine from them
    (:meth:`FusionEngine.restore`). While running, the live engine stays in a Python dict,
    so no record pays for unpickling the cell's whole state.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.avro = AvroRows(settings)

    def open(self, runtime_context: RuntimeContext) -> None:
        """Load the rules and grid; declare the state."""
        self.rules = rules_for_city(self.settings.city_dir)
        self.grid = city_grid(self.settings, self.rules)
        pickled = Types.PICKLED_BYTE_ARRAY()
        self.events = runtime_context.get_map_state(
            MapStateDescriptor("events", Types.STRING(), pickled)
        )
        self.published = runtime_context.get_map_state(
            MapStateDescriptor("published", Types.STRING(), pickled)
        )
        self.clock = runtime_context.get_state(ValueStateDescriptor("clock", pickled))
        self.timer_step = 300_000
        self.ahead_ms = self.settings.fusion_ahead_s * 1000 or None  # 0: events never wait
        #: Each cell's pending timer (event time); after a restore, the first event of a
        #: cell registers one again (Flink drops a timer registered twice for one time).
        self.pending: dict[str, int] = {}
        self.engines: dict[str, FusionEngine] = {}
        # What this cell's MapStates hold, mirrored here, so a record or a sweep never reads
        # the state backend to learn whether an entry exists.
        self.stored: dict[str, set[str]] = {}
        self.stored_published: dict[str, set[str]] = {}

    def _engine(self, cell: str) -> FusionEngine:
        engine = self.engines.get(cell)
        if engine is None:
            owns = functools.partial(self.grid.owns, cell)
            ahead = self.ahead_ms
            clock = self.clock.value()
            if clock is None:
                engine = FusionEngine(self.rules, owns=owns, ahead_ms=ahead)
                self.stored[cell], self.stored_published[cell] = set(), set()
            else:  # restored from a checkpoint
                events = list(self.events.values())
                published = dict(self.published.items())
                engine = FusionEngine.restore(
                    self.rules, events, published, clock, owns=owns, ahead_ms=ahead
                )
                self.stored[cell] = {e.event_id for e in events}
                self.stored_published[cell] = set(published)
            self.engines[cell] = engine
        return engine

    def _record(self, cell: str, engine: FusionEngine, out: list[Incident]) -> None:
        for incident in out:
            self.published.put(incident.incident_id, incident)
            self.stored_published[cell].add(incident.incident_id)
        self.clock.update(engine.clock)

    def _schedule(self, ctx: Any, cell: str, after: int) -> None:
        """The cell's one pending timer: the next step of event time past ``after``.

        One timer per cell, each firing scheduling the next: a timer per event (or a new
        chain per firing) made the timers outnumber the events once event time ran fast.
        """
        due = after + self.timer_step - after % self.timer_step
        ctx.timer_service().register_event_time_timer(due)
        self.pending[cell] = due

    def process_element(self, value: tuple[str, NormalizedEvent], ctx: Any) -> Iterator[Row]:
        """Feed one event to its cell's engine; emit the incident versions it causes (Avro)."""
        cell, event = value
        engine = self._engine(cell)
        watermark = ctx.timer_service().current_watermark()
        out = engine.on_event(event, watermark)
        if event.event_id not in self.stored[cell]:
            self.events.put(event.event_id, event)
            self.stored[cell].add(event.event_id)
        self._record(cell, engine, out)
        if cell not in self.pending:  # from the watermark: a waiting event is due before
            known = watermark > -(2**62)  # its own time comes (FusionEngine, ahead_ms)
            self._schedule(ctx, cell, watermark if known else event.event_time)
        for incident in out:
            yield self.avro.row(incident)

    def on_timer(self, timestamp: int, ctx: Any) -> Iterator[Row]:
        """Event time moved on: close idle incidents, forget what nothing can reach."""
        cell = ctx.get_current_key()
        engine = self._engine(cell)
        watermark = ctx.timer_service().current_watermark()
        out = engine.on_watermark(watermark)
        self._record(cell, engine, out)
        events_gone, incidents_gone = engine.take_forgotten()
        for ids, stored, state in (
            (events_gone, self.stored[cell], self.events),
            (incidents_gone, self.stored_published[cell], self.published),
        ):
            for gone in ids:
                if gone in stored:
                    state.remove(gone)
                    stored.discard(gone)
        if self.pending.get(cell, timestamp) <= timestamp:  # else: a timer from before a
            self._next_step(ctx, cell, engine, max(timestamp, watermark))  # restore fired
        for incident in out:
            yield self.avro.row(incident)

    def _next_step(self, ctx: Any, cell: str, engine: FusionEngine, now: int) -> None:
        """Keep the cell's timer going while it holds events; drop its state once empty."""
        if not engine.holds_nothing():
            self._schedule(ctx, cell, now)
            return
        self.pending.pop(cell, None)
        self.events.clear()
        self.published.clear()
        self.clock.clear()
        for known in (self.engines, self.stored, self.stored_published):
            known.pop(cell, None)


class AvroRows:
    """Events and incidents as keyed Avro rows for their topics (serializer made on first use).

    Operators encode their own output with it, so a record leaves Python once, as the bytes
    Kafka gets, instead of being pickled to a separate encoding step.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._serializer: AvroSerializer | None = None

    def row(self, value: NormalizedEvent | Incident) -> Row:
        """Key by id, value = single-object Avro of the current schema."""
        if self._serializer is None:
            catalogue = SchemaCatalogue.load(self.settings.schemas_dir / "avro")
            self._serializer = AvroSerializer(catalogue)
        if isinstance(value, Incident):
            body = self._serializer.serialize(INCIDENT, incident_to_record(value))
            return Row(value.incident_id, body, {})
        body = self._serializer.serialize(NORMALIZED_EVENT, event_to_record(value))
        return Row(value.event_id, body, {})

    __call__ = row  # also a map function: the passthrough's identity output

    def stamped(self, event: NormalizedEvent) -> Row:
        """:meth:`row` plus the event time, for a sink that stamps it on the Kafka record."""
        return Row(*self.row(event), event.event_time)
