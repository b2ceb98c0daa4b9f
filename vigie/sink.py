"""The ClickHouse sink: events, incident versions and acknowledgements, from Kafka.

It runs as its own process (``vigie sink``; a Deployment in Kubernetes) rather than inside
the Flink jobs, so ClickHouse being down never stalls fusion: the sink stops fetching,
retries with backoff, and resumes where its committed offsets say. Offsets are committed
only after a batch is in ClickHouse (at-least-once), and the store's writes are idempotent,
so a replay never double-counts.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vigie.config import Settings
from vigie.core.events import Incident, IncidentAck, NormalizedEvent
from vigie.core.serde import (
    INCIDENT,
    INCIDENT_ACK,
    NORMALIZED_EVENT,
    AvroDeserializer,
    SchemaCatalogue,
    SerdeError,
    record_to_ack,
    record_to_event,
    record_to_incident,
)
from vigie.kafka.clients import make_consumer, make_producer
from vigie.kafka.dead_letter import DeadLetterWriter, KafkaPosition, dlq_topic
from vigie.store.engine import ServerUnreachable
from vigie.store.incident_store import IncidentStore

EVENTS = "events.normalized"
INCIDENTS = "incidents"
ACKS = "incident-acks"


def _coordinator_codes() -> frozenset[int]:
    from confluent_kafka import KafkaError

    return frozenset(
        {
            KafkaError.NOT_COORDINATOR,
            KafkaError.COORDINATOR_NOT_AVAILABLE,
            KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
            KafkaError._WAIT_COORD,
            KafkaError._TRANSPORT,
            KafkaError._TIMED_OUT,
            KafkaError.REQUEST_TIMED_OUT,
        }
    )


#: Commit errors that mean "the group coordinator is moving or away", not a broken sink.
_COORDINATOR_MOVING = _coordinator_codes()

READERS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    EVENTS: (NORMALIZED_EVENT, record_to_event),
    INCIDENTS: (INCIDENT, record_to_incident),
    ACKS: (INCIDENT_ACK, record_to_ack),
}


@dataclass
class SinkStats:
    """What the sink has done since it started (also exported as metrics)."""

    consumed: Counter[str] = field(default_factory=Counter)
    written: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    batches: int = 0
    skipped_commits: int = 0  # retriable commit failures (coordinator moving)


@dataclass
class _Batch:
    events: list[NormalizedEvent] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    acks: list[IncidentAck] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.events) + len(self.incidents) + len(self.acks)


class ClickHouseSink:
    """Consume the three topics, write batches to ClickHouse, then commit offsets."""

    def __init__(
        self,
        settings: Settings,
        *,
        batch_size: int = 5000,
        batch_wait_s: float = 1.0,
        group_id: str = "vigie-sink",
        topics: tuple[str, ...] = (EVENTS, INCIDENTS, ACKS),
    ) -> None:
        self.settings = settings
        self.batch_size = batch_size
        self.batch_wait_s = batch_wait_s
        self.topics = topics
        self.stats = SinkStats()
        self.deserializer = AvroDeserializer(SchemaCatalogue.load(settings.schemas_dir / "avro"))
        self.consumer = make_consumer(settings, group_id)
        self.producer = make_producer(settings, f"{group_id}-dlq")
        self.dead_letters = DeadLetterWriter(
            self.producer,  # type: ignore[arg-type]  # confluent's stubs vs the protocol
            dlq_topic("sink"),
            "sink",
        )
        self.store: IncidentStore | None = None

    def _decode(self, message: Any, batch: _Batch) -> None:
        topic = message.topic()
        schema, convert = READERS[topic]
        try:
            value = convert(self.deserializer.deserialize(message.value(), reader=schema).record)
        except SerdeError as exc:
            position = KafkaPosition(topic, message.partition(), message.offset())
            self.dead_letters.send(
                message.value() or b"", exc.reason, position, key=message.key(), detail=exc.detail
            )
            self.stats.dead_letters[exc.reason] += 1
            return
        self.stats.consumed[topic] += 1
        if isinstance(value, NormalizedEvent):
            batch.events.append(value)
        elif isinstance(value, Incident):
            batch.incidents.append(value)
        else:
            batch.acks.append(value)

    def _write(self, batch: _Batch) -> None:
        """Write one batch, retrying with backoff while ClickHouse is away."""
        delay = 0.5
        paused = False
        while True:
            try:
                self._insert(batch)
                break
            except ServerUnreachable:
                self.stats.retries += 1
                if self.store is not None:
                    self.store.close()
                    self.store = None
                if not paused:
                    # Backpressure: fetch nothing more while ClickHouse is away, but keep
                    # the consumer alive in its group.
                    self.consumer.pause(self.consumer.assignment())
                    paused = True
                self.consumer.poll(0)
                time.sleep(delay)
                delay = min(delay * 2, 15.0)
        if paused:
            self.consumer.resume(self.consumer.assignment())

    def _insert(self, batch: _Batch) -> None:
        if self.store is None:
            self.store = IncidentStore.from_settings(self.settings, "writer")
        if batch.events:
            self.stats.written["events"] += self.store.insert_events(batch.events).total
        if batch.incidents:
            self.stats.written["incidents"] += self.store.insert_incidents(batch.incidents).total
        if batch.acks:
            self.stats.written["acks"] += self.store.insert_acks(batch.acks).total

    def run(
        self,
        *,
        until_idle_s: float | None = None,
        max_seconds: float | None = None,
        on_batch: Callable[[SinkStats], None] | None = None,
    ) -> SinkStats:
        """Sink until stopped; ``until_idle_s`` ends after that long without messages."""
        self.consumer.subscribe(list(self.topics))
        started = last_message = time.monotonic()
        try:
            while True:
                now = time.monotonic()
                if max_seconds is not None and now - started > max_seconds:
                    break
                if until_idle_s is not None and now - last_message > until_idle_s:
                    break
                messages = self.consumer.consume(self.batch_size, self.batch_wait_s)
                batch = _Batch()
                for message in messages:
                    if message.error():
                        continue
                    self._decode(message, batch)
                if not messages:
                    continue
                last_message = time.monotonic()
                if batch:
                    self._write(batch)
                self.dead_letters.flush()
                self._commit()
                self.stats.batches += 1
                if on_batch is not None:
                    on_batch(self.stats)
        finally:
            self.close()
        return self.stats

    def _commit(self) -> None:
        """Commit what is in ClickHouse; a broker restart is not a reason to die.

        While the group coordinator moves (broker restart, leader election) a commit fails
        with a retriable error. The batch is already written, and the next commit covers
        its offsets (commits are cumulative); were the sink to stop first, the replay is
        idempotent. So a retriable failure is counted and skipped (found by the broker
        restart fault test, tests/fault/test_pipeline_faults.py).
        """
        from confluent_kafka import KafkaException

        try:
            self.consumer.commit(asynchronous=False)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if error is None or not (error.retriable() or error.code() in _COORDINATOR_MOVING):
                raise
            self.stats.skipped_commits += 1

    def close(self) -> None:
        """Leave the group and close the connection."""
        self.consumer.close()
        if self.store is not None:
            self.store.close()
