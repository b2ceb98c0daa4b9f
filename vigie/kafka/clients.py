"""Producer and consumer factories, built from :class:`~vigie.config.Settings`.

librdkafka leaves idempotence off by default, so every producer here sets
``enable.idempotence=True`` and ``acks=all`` explicitly: a retried send is then written once,
in order, per partition. Callers may add settings but not weaken those two.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from confluent_kafka import Consumer, Producer

from vigie.config import Settings
from vigie.errors import VigieError

#: Settings no caller may override: they are what makes producing safe to retry.
PRODUCER_GUARANTEES: dict[str, Any] = {"enable.idempotence": True, "acks": "all"}


class KafkaClientError(VigieError):
    """A client could not be configured as asked."""


def producer_config(
    settings: Settings, client_id: str, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The librdkafka configuration of an idempotent producer."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap_servers,
        "client.id": client_id,
        "linger.ms": 20,
        "compression.type": "lz4",
        "max.in.flight.requests.per.connection": 5,  # the idempotent maximum; keeps order
    }
    for name, value in (extra or {}).items():
        if name in PRODUCER_GUARANTEES and value != PRODUCER_GUARANTEES[name]:
            msg = f"producer {client_id}: {name}={value!r} would make retries duplicate records"
            raise KafkaClientError(msg)
        config[name] = value
    config.update(PRODUCER_GUARANTEES)
    return config


def consumer_config(
    settings: Settings,
    group_id: str,
    client_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The librdkafka configuration of a consumer in ``group_id``.

    Offsets are committed by the caller after it has handled a message (at-least-once), and
    only committed transactional data is read.
    """
    config: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap_servers,
        "group.id": group_id,
        "client.id": client_id or group_id,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
    }
    config.update(extra or {})
    return config


def make_producer(
    settings: Settings, client_id: str, extra: Mapping[str, Any] | None = None
) -> Producer:
    """An idempotent producer (``enable.idempotence`` and ``acks=all`` set explicitly)."""
    return Producer(producer_config(settings, client_id, extra))


def make_consumer(
    settings: Settings,
    group_id: str,
    client_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Consumer:
    """A consumer with manual commits, reading from the earliest offset when new."""
    return Consumer(consumer_config(settings, group_id, client_id, extra))
