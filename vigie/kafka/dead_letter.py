"""Dead-letter topics: every record a connector or job cannot use, kept byte for byte.

The value of a dead letter is the ORIGINAL bytes, exactly as read (a CSV line, a JSON
document, a Kafka message value): nothing is re-encoded, so the record can be inspected and
replayed once the cause is fixed. Everything about the failure travels in headers, named as
Kafka Connect names them with ``errors.deadletterqueue.context.headers.enable=true`` where
Connect has a name (``__connect.errors.topic``, ``.partition``, ``.offset``,
``.connector.name``, ``.exception.class.name``, ``.exception.message``), plus Vigie's own
``__vigie.errors.*`` for what Connect lacks (the machine-readable reason, a source position
that may be a file and line, the time of rejection).

Header values are UTF-8 text. Exception messages are cut to :data:`MAX_MESSAGE_CHARS`; the
callers' details name fields, never personal values.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from vigie.errors import VigieError

H_REASON = "__vigie.errors.reason"
H_DETAIL = "__vigie.errors.detail"
H_SOURCE = "__vigie.errors.source"
H_RECORD_ID = "__vigie.errors.record.id"
H_TIMESTAMP = "__vigie.errors.timestamp"
H_TOPIC = "__connect.errors.topic"
H_PARTITION = "__connect.errors.partition"
H_OFFSET = "__connect.errors.offset"
H_CONNECTOR = "__connect.errors.connector.name"
H_EXCEPTION_CLASS = "__connect.errors.exception.class.name"
H_EXCEPTION_MESSAGE = "__connect.errors.exception.message"

MAX_MESSAGE_CHARS = 500


def dlq_topic(feed_or_job: str) -> str:
    """The dead-letter topic of a feed (``dlq.police``) or a job (``dlq.normalize``)."""
    return f"dlq.{feed_or_job}"


@dataclass(frozen=True, slots=True)
class KafkaPosition:
    """Where a consumed message was: its topic, partition and offset."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}-{self.partition}-{self.offset}"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A dead letter as read back from its topic."""

    original: bytes
    key: bytes | None
    reason: str
    source: str
    job: str
    timestamp_ms: int
    detail: str | None = None
    record_id: str | None = None
    exception_class: str | None = None
    exception_message: str | None = None
    position: KafkaPosition | None = None


def dead_letter_headers(
    *,
    reason: str,
    source: object,
    job: str,
    timestamp_ms: int,
    detail: str | None = None,
    record_id: str | None = None,
    error: BaseException | None = None,
) -> list[tuple[str, bytes]]:
    """The headers of one dead letter (pure: the writer and tests share it)."""
    headers: list[tuple[str, str]] = [
        (H_REASON, reason),
        (H_SOURCE, str(source)),
        (H_CONNECTOR, job),
        (H_TIMESTAMP, str(timestamp_ms)),
    ]
    if isinstance(source, KafkaPosition):
        headers += [
            (H_TOPIC, source.topic),
            (H_PARTITION, str(source.partition)),
            (H_OFFSET, str(source.offset)),
        ]
    if detail:
        headers.append((H_DETAIL, detail))
    if record_id:
        headers.append((H_RECORD_ID, record_id))
    if error is not None:
        cls = type(error)
        headers.append((H_EXCEPTION_CLASS, f"{cls.__module__}.{cls.__qualname__}"))
        headers.append((H_EXCEPTION_MESSAGE, str(error)[:MAX_MESSAGE_CHARS]))
    return [(name, value.encode("utf-8")) for name, value in headers]


def parse_dead_letter(
    value: bytes | None,
    key: bytes | None,
    headers: Sequence[tuple[str, bytes | None]] | None,
) -> DeadLetter:
    """Read a dead letter back from a consumed message's value, key and headers."""
    found: dict[str, str] = {}
    for name, raw in headers or []:
        found[name] = (raw or b"").decode("utf-8", errors="replace")
    position = None
    if H_TOPIC in found and H_PARTITION in found and H_OFFSET in found:
        position = KafkaPosition(found[H_TOPIC], int(found[H_PARTITION]), int(found[H_OFFSET]))
    return DeadLetter(
        original=value or b"",
        key=key,
        reason=found.get(H_REASON, ""),
        source=found.get(H_SOURCE, ""),
        job=found.get(H_CONNECTOR, ""),
        timestamp_ms=int(found.get(H_TIMESTAMP, "0")),
        detail=found.get(H_DETAIL),
        record_id=found.get(H_RECORD_ID),
        exception_class=found.get(H_EXCEPTION_CLASS),
        exception_message=found.get(H_EXCEPTION_MESSAGE),
        position=position,
    )


class _Producer(Protocol):
    def produce(self, topic: str, value: Any = ..., key: Any = ..., **kwargs: Any) -> None: ...

    def poll(self, timeout: float = ...) -> int: ...

    def flush(self, timeout: float = ...) -> int: ...


class DeadLetterError(VigieError):
    """Dead letters could not be delivered: records would be lost, so the run must stop."""


class DeadLetterWriter:
    """Sends rejected records to one dead-letter topic and counts them by reason.

    Share the connector's or job's own idempotent producer (``vigie.kafka.clients``).
    ``flush`` raises if any dead letter failed to reach the broker: a lost dead letter is a
    lost record.
    """

    def __init__(
        self,
        producer: _Producer,
        topic: str,
        job: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.topic = topic
        self.job = job
        self._producer = producer
        self._clock = clock
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self._failures: list[str] = []

    def send(
        self,
        original: bytes,
        reason: str,
        source: object,
        *,
        key: bytes | None = None,
        detail: str | None = None,
        record_id: str | None = None,
        error: BaseException | None = None,
        extra_headers: Mapping[str, bytes] | None = None,
    ) -> None:
        """Queue one dead letter: ``original`` bytes as value, the failure in headers.

        ``source`` says where the record came from: a :class:`KafkaPosition`, or any object
        whose text is a position such as ``path#line``.
        """
        headers = dead_letter_headers(
            reason=reason,
            source=source,
            job=self.job,
            timestamp_ms=int(self._clock() * 1000),
            detail=detail,
            record_id=record_id,
            error=error,
        )
        headers += list((extra_headers or {}).items())
        self._producer.produce(
            self.topic, value=original, key=key, headers=headers, on_delivery=self._delivered
        )
        with self._lock:
            self.counts[reason] += 1
        self._producer.poll(0)

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            with self._lock:
                self._failures.append(str(err))

    def flush(self, timeout: float = 30.0) -> None:
        """Wait for every queued dead letter; raise if any was not written."""
        remaining = self._producer.flush(timeout)
        with self._lock:
            failures = list(self._failures)
        if remaining or failures:
            msg = (
                f"{len(failures)} dead letter(s) to {self.topic} failed "
                f"({'; '.join(sorted(set(failures))[:3]) or 'no error reported'}), "
                f"{remaining} still queued after {timeout:g}s: is Kafka reachable at the "
                "configured bootstrap servers and does the topic exist (vigie topics apply)?"
            )
            raise DeadLetterError(msg)

    @property
    def total(self) -> int:
        """How many dead letters were sent."""
        with self._lock:
            return sum(self.counts.values())
