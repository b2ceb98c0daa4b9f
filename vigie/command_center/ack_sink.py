"""Operators' acknowledgements from the acks topic into ClickHouse.

The command center only produces acks to Kafka (the page and ``vigie ack`` never write to
ClickHouse themselves): the topic is the single record of who did what, and this sink
copies it into the store with :meth:`IncidentStore.insert_acks` (the action into
``incident_acks``, the people into the private database), so ``incident_status`` shows who
acknowledged, when and what. Offsets are committed after the insert (at least once); the
store is idempotent on ``ack_id``, so a replay never doubles a row.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from confluent_kafka import KafkaException

from vigie.config import Settings
from vigie.core.events import IncidentAck
from vigie.core.serde import INCIDENT_ACK, AvroDeserializer, SerdeError, record_to_ack
from vigie.kafka.clients import make_consumer
from vigie.kafka.serde import deserializer
from vigie.store.engine import connect
from vigie.store.incident_store import IncidentStore
from vigie.store.schema import Databases

log = logging.getLogger(__name__)


def writer_store(settings: Settings) -> IncidentStore:
    """The store as the writer user, connected to Vigie's database (not ``default``)."""
    executor = connect(settings, "writer", database=settings.clickhouse_database)
    return IncidentStore(
        executor, Databases.from_settings(settings), settings.personal_attribute_keys
    )


@dataclass
class AckSinkStats:
    """What the sink did so far."""

    written: int = 0
    rejected: int = 0
    batches: int = 0


@dataclass
class AckSink:
    """Consumes ``topic`` in a consumer group and writes each batch to the store."""

    settings: Settings
    topic: str
    group_id: str = "vigie-ack-sink"
    stats: AckSinkStats = field(default_factory=AckSinkStats)

    def decode(self, decoder: AvroDeserializer, value: bytes | None) -> IncidentAck | None:
        """The ack a record holds, or None (counted) when it cannot be decoded."""
        if value is None:
            return None
        try:
            return record_to_ack(decoder.deserialize(value, reader=INCIDENT_ACK).record)
        except SerdeError as exc:
            self.stats.rejected += 1
            log.warning("skipped an undecodable ack record: %s", exc.reason)
            return None

    def run(self, stop: threading.Event, store: IncidentStore | None = None) -> AckSinkStats:
        """Copy acks until ``stop`` is set; store errors are retried without committing."""
        decoder = deserializer(self.settings)
        own_store = store is None
        target = store or writer_store(self.settings)
        consumer = make_consumer(self.settings, self.group_id, extra={"log_level": 3})
        try:
            consumer.subscribe([self.topic])
            while not stop.is_set():
                messages = consumer.consume(num_messages=500, timeout=0.5)
                if not messages:
                    continue
                acks = []
                for msg in messages:
                    if msg.error() is not None:
                        continue
                    ack = self.decode(decoder, msg.value())
                    if ack is not None:
                        acks.append(ack)
                while acks and not stop.is_set():
                    try:
                        target.insert_acks(acks)
                        break
                    except Exception as exc:  # the store retries connections itself
                        log.warning("cannot write %d acks yet, retrying: %s", len(acks), exc)
                        stop.wait(2.0)
                else:
                    if acks:  # stopped before the batch was written: do not commit it
                        break
                try:
                    consumer.commit(asynchronous=False)
                except KafkaException as exc:
                    log.warning("offset commit failed (the batch will be replayed): %s", exc)
                self.stats.written += len(acks)
                self.stats.batches += 1
        finally:
            consumer.close()
            if own_store:
                target.close()
        return self.stats
