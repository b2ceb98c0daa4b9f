"""Kafka adapters of the command center: follow topics with reconnects, publish acks.

:class:`Follower` reads topics with ``assign`` (no consumer group, nothing committed): the
incidents and acks topics from the beginning, so the current state of the compacted
topic shows at once; the events topic from a look-back instant. librdkafka reconnects by
itself when a broker restarts; the outer loop here also recreates the consumer when the
topic's metadata cannot be had (broker down at start, topic not created yet), resuming from
the offsets already read. Connection state changes are reported so the terminal and the
page can say "reconnecting".

These are thin on purpose; decoding and state live in the pure modules. Topics are
declared in ``schemas/topics.yaml`` and created by ``vigie topics apply`` (``vigie.kafka``).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException
from confluent_kafka import TopicPartition as KafkaTopicPartition

from vigie.config import Settings
from vigie.core.events import IncidentAck
from vigie.core.serde import INCIDENT_ACK, ack_to_record
from vigie.errors import VigieError
from vigie.kafka.clients import make_producer
from vigie.kafka.serde import serializer

log = logging.getLogger(__name__)

Handler = Callable[[bytes | None, bytes | None], None]


class KafkaUnavailable(VigieError):
    """Kafka could not be reached or refused a write; the message says what to check."""


@dataclass(frozen=True, slots=True)
class Follow:
    """One topic to follow: from the beginning (``since_ms=None``) or from an instant."""

    topic: str
    handle: Handler
    since_ms: int | None = None


@dataclass
class Follower:
    """Follows topics on a background thread until :meth:`stop` is called."""

    settings: Settings
    follows: list[Follow]
    on_state: Callable[[str], None] = lambda state: None
    metadata_timeout_s: float = 5.0
    caught_up: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _positions: dict[tuple[str, int], int] = field(default_factory=dict)
    _thread: threading.Thread | None = None
    _handlers: dict[str, Handler] = field(default_factory=dict)

    def start(self) -> Follower:
        """Run the loop on a daemon thread."""
        self._handlers = {f.topic: f.handle for f in self.follows}
        self._thread = threading.Thread(target=self.run, name="vigie-follower", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the loop to end and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        """Consume until stopped, recreating the consumer when the cluster is unreachable."""
        self._handlers = self._handlers or {f.topic: f.handle for f in self.follows}
        while not self._stop.is_set():
            consumer = Consumer(self._config())
            try:
                self._consume(consumer)
            except KafkaException as exc:
                log.warning("command center consumer error, reconnecting: %s", exc)
                self.on_state("reconnecting")
                self._stop.wait(1.0)
            finally:
                consumer.close()

    def _config(self) -> dict[str, Any]:
        def on_error(err: KafkaError) -> None:
            if err.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT):
                self.on_state("reconnecting")

        return {
            "bootstrap.servers": self.settings.bootstrap_servers,
            "group.id": f"vigie-command-center-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            "reconnect.backoff.ms": 200,
            "reconnect.backoff.max.ms": 2000,
            "topic.metadata.refresh.interval.ms": 10_000,
            "error_cb": on_error,
            "log_level": 3,
        }

    def _assignment(
        self, consumer: Consumer
    ) -> tuple[list[KafkaTopicPartition], dict[tuple[str, int], int]]:
        """Partitions with their start offsets, and the high watermarks to reach."""
        parts: list[KafkaTopicPartition] = []
        highs: dict[tuple[str, int], int] = {}
        for follow in self.follows:
            meta = consumer.list_topics(follow.topic, timeout=self.metadata_timeout_s)
            topic_meta = meta.topics.get(follow.topic)
            if topic_meta is None or topic_meta.error is not None or not topic_meta.partitions:
                msg = f"topic {follow.topic} is not available yet"
                raise KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, msg))
            wanted: list[KafkaTopicPartition] = []
            for p in sorted(topic_meta.partitions):
                key = (follow.topic, p)
                if key in self._positions:
                    wanted.append(KafkaTopicPartition(follow.topic, p, self._positions[key]))
                elif follow.since_ms is not None:
                    wanted.append(KafkaTopicPartition(follow.topic, p, follow.since_ms))
                else:
                    wanted.append(KafkaTopicPartition(follow.topic, p, OFFSET_BEGINNING))
                _low, high = consumer.get_watermark_offsets(
                    KafkaTopicPartition(follow.topic, p), timeout=self.metadata_timeout_s
                )
                highs[key] = high
            by_time = [
                tp
                for tp in wanted
                if (tp.topic, tp.partition) not in self._positions and follow.since_ms is not None
            ]
            if by_time:
                resolved = consumer.offsets_for_times(by_time, timeout=self.metadata_timeout_s)
                found = {(tp.topic, tp.partition): tp.offset for tp in resolved}
                for tp in wanted:
                    if (tp.topic, tp.partition) in found:
                        offset = found[(tp.topic, tp.partition)]
                        # -1: nothing at or after the instant; start at the end.
                        tp.offset = offset if offset >= 0 else highs[(tp.topic, tp.partition)]
            parts.extend(wanted)
        return parts, highs

    def _consume(self, consumer: Consumer) -> None:
        parts, highs = self._assignment(consumer)
        consumer.assign(parts)
        self.on_state("connected")
        pending = {
            key for key, high in highs.items() if high > 0 and self._positions.get(key, 0) < high
        }
        if not pending:
            self.caught_up.set()
        while not self._stop.is_set():
            msg = consumer.poll(0.2)
            if msg is None:
                if pending:
                    # Transaction markers take offsets no message carries: ask the positions.
                    for tp in consumer.position([KafkaTopicPartition(t, p) for t, p in pending]):
                        if tp.offset >= 0 and tp.offset >= highs[(tp.topic, tp.partition)]:
                            pending.discard((tp.topic, tp.partition))
                    if not pending:
                        self.caught_up.set()
                continue
            err = msg.error()
            if err is not None:
                if err.fatal():
                    raise KafkaException(err)
                continue
            topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
            if topic is None or partition is None or offset is None:
                continue
            key = (topic, partition)
            self._positions[key] = offset + 1
            self.on_state("connected")
            handler = self._handlers.get(topic)
            if handler is not None:
                try:
                    handler(msg.key(), msg.value())
                except Exception:  # one bad record must not stop the command center
                    log.exception("cannot handle a record of %s[%d]@%d", topic, partition, offset)
            if key in pending and offset + 1 >= highs[key]:
                pending.discard(key)
                if not pending:
                    self.caught_up.set()


class AckPublisher:
    """Produces acknowledgements to the acks topic, key = incident_id, Avro value."""

    def __init__(self, settings: Settings, topic: str | None = None) -> None:
        self.topic = topic or settings.incident_acks_topic
        self._encoder = serializer(settings)
        self._producer = make_producer(
            settings, "vigie-command-center-acks", {"linger.ms": 0, "log_level": 3}
        )
        self._lock = threading.Lock()

    def publish(self, ack: IncidentAck, timeout_s: float = 10.0) -> None:
        """Send one ack and wait until Kafka has it; :class:`KafkaUnavailable` otherwise."""
        value = self._encoder.serialize(INCIDENT_ACK, ack_to_record(ack), topic=self.topic)
        outcome: list[KafkaError | None] = []
        with self._lock:
            self._producer.produce(
                self.topic,
                key=ack.incident_id.encode(),
                value=value,
                on_delivery=lambda err, _msg: outcome.append(err),
            )
            deadline = time.monotonic() + timeout_s
            while not outcome and time.monotonic() < deadline:
                self._producer.poll(0.1)
        if not outcome:
            msg = f"Kafka did not confirm the acknowledgement within {timeout_s:.0f} s"
            raise KafkaUnavailable(msg)
        if outcome[0] is not None:
            msg = f"Kafka refused the acknowledgement: {outcome[0].str()}"
            raise KafkaUnavailable(msg)

    def close(self) -> None:
        """Flush what is left."""
        self._producer.flush(5)
