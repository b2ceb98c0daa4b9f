"""The Kafka sink of the connectors: raw records Avro-encoded to ``raw.<feed>``, rejections
to ``dlq.<feed>`` through the shared :class:`~vigie.kafka.dead_letter.DeadLetterWriter`.

Both go through one idempotent producer (``vigie.kafka.clients``), so a retried send is
written once. Records are framed with Avro single-object encoding resolved against
``schemas/`` (readers detect the framing). ``flush`` raises if anything failed to reach the
broker: the runtime then stops before remembering the payload as done, so it is read again
on the next run instead of being lost.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Any, cast

from confluent_kafka import Producer

from connectors.base import RawRecord, Rejection, to_avro
from connectors.feeds import RAW_SCHEMAS, dlq_topic, raw_topic
from vigie.config import Settings
from vigie.core.normalize import event_time_of
from vigie.core.serde import AvroSerializer, SchemaCatalogue
from vigie.errors import VigieError
from vigie.kafka.clients import make_producer
from vigie.kafka.dead_letter import DeadLetterWriter

log = logging.getLogger(__name__)

#: Extra DLQ headers: the feed, and the source position split into machine-readable parts.
H_FEED = "__vigie.errors.feed"
H_SOURCE_URI = "__vigie.errors.source.uri"
H_SOURCE_INDEX = "__vigie.errors.source.index"
H_ORIGINAL_SIZE = "__vigie.errors.original.size"
H_ORIGINAL_SHA256 = "__vigie.errors.original.sha256"

#: Largest dead-letter value sent whole; the broker's default message limit is about 1 MB.
#: A bigger payload rejected as a whole (a garbage 5 MB file) is cut to this size, with its
#: full size and SHA-256 in headers, rather than blocking the connector on a send that can
#: never succeed.
MAX_DEAD_LETTER_BYTES = 900_000


class DeliveryError(VigieError):
    """Raw records could not be delivered to Kafka."""


class KafkaSink:
    """Produces one feed's records and rejections; one instance per connector run."""

    def __init__(
        self,
        settings: Settings,
        feed: str,
        producer: Producer | None = None,
        catalogue: SchemaCatalogue | None = None,
        flush_timeout_s: float = 30.0,
        topic: str | None = None,
        dead_letter_topic: str | None = None,
    ) -> None:
        """``topic``/``dead_letter_topic`` override ``raw.<feed>``/``dlq.<feed>`` (tests)."""
        if settings.schema_registry_url:
            log.warning(
                "connectors write Avro single-object encoding; the schema registry at "
                "VIGIE_SCHEMA_REGISTRY_URL is not used by them yet (readers accept both)"
            )
        self.feed = feed
        self.topic = topic or raw_topic(feed)
        self.schema = RAW_SCHEMAS[feed]
        self.flush_timeout_s = flush_timeout_s
        self._producer = producer or make_producer(settings, f"vigie-connector-{feed}")
        self._serializer = AvroSerializer(
            catalogue or SchemaCatalogue.load(settings.schemas_dir / "avro")
        )
        # cast: DeadLetterWriter's producer protocol is looser than confluent-kafka's stubs.
        self.dead_letters = DeadLetterWriter(
            cast(Any, self._producer), dead_letter_topic or dlq_topic(feed), f"connector-{feed}"
        )
        self._lock = threading.Lock()
        self._failures: list[str] = []
        self.delivered = 0

    def record(self, feed: str, record: RawRecord) -> None:
        """Encode and queue one raw record, keyed as the record says."""
        fields = to_avro(record)
        value = self._serializer.serialize(self.schema, fields, topic=self.topic)
        # The Kafka timestamp is the event time: Flink tracks event time per partition.
        stamp = event_time_of(self.schema, fields)
        self._produce(self.topic, value, record.kafka_key().encode(), stamp)

    def reject(self, feed: str, rejection: Rejection) -> None:
        """Queue one dead letter: original bytes as value, reason and position in headers."""
        extra = {
            H_FEED: feed.encode(),
            H_SOURCE_URI: rejection.position.uri.encode(),
            H_SOURCE_INDEX: str(rejection.position.index).encode(),
        }
        value = rejection.original
        if len(value) > MAX_DEAD_LETTER_BYTES:
            extra[H_ORIGINAL_SIZE] = str(len(value)).encode()
            extra[H_ORIGINAL_SHA256] = hashlib.sha256(value).hexdigest().encode()
            value = value[:MAX_DEAD_LETTER_BYTES]
        self.dead_letters.send(
            value,
            rejection.reason.value,
            rejection.position,
            key=rejection.record_id.encode() if rejection.record_id else None,
            detail=rejection.detail,
            record_id=rejection.record_id,
            extra_headers=extra,
        )

    def _produce(self, topic: str, value: bytes, key: bytes, timestamp: int | None) -> None:
        while True:
            try:
                self._producer.produce(
                    topic,
                    value=value,
                    key=key,
                    on_delivery=self._delivered,
                    timestamp=timestamp or 0,  # 0: librdkafka stamps the current time
                )
                break
            except BufferError:  # local queue full: let deliveries drain, then retry
                self._producer.poll(0.5)
        self._producer.poll(0)

    def _delivered(self, err: Any, msg: Any) -> None:
        with self._lock:
            if err is None:
                if msg.topic() == self.topic:
                    self.delivered += 1
            else:
                self._failures.append(str(err))

    def flush(self) -> None:
        """Wait for every queued record and dead letter; raise if any was not written."""
        remaining = self._producer.flush(self.flush_timeout_s)
        with self._lock:
            failures, self._failures = self._failures, []
        if remaining or failures:
            msg = (
                f"{len(failures)} record(s) to {self.topic} failed "
                f"({'; '.join(sorted(set(failures))[:3]) or 'no error reported'}), "
                f"{remaining} still queued after {self.flush_timeout_s:g}s: is Kafka "
                "reachable and does the topic exist (vigie topics apply)?"
            )
            raise DeliveryError(msg)
        self.dead_letters.flush(self.flush_timeout_s)
