"""Helpers of the command center's integration tests: fresh topics, records on the broker."""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from vigie.config import Settings
from vigie.core.events import (
    Incident,
    IncidentContext,
    LinkEvidence,
    NormalizedEvent,
    Role,
    Source,
    Status,
)
from vigie.core.serde import (
    INCIDENT,
    NORMALIZED_EVENT,
    event_to_record,
    incident_to_record,
)
from vigie.kafka.clients import make_producer
from vigie.kafka.serde import serializer
from vigie.kafka.topics import apply_topics, declared_topics, with_prefix

BASES = ("incidents", "incident-acks", "events.normalized")


def fresh_topics(settings: Settings, unique: str) -> dict[str, str]:
    """The command center's three topics under a fresh prefix, created as declared."""
    prefix = f"cc-{unique}."
    specs = [s for s in declared_topics(settings) if s.name in BASES]
    apply_topics(settings, with_prefix(specs, prefix))
    return {base: prefix + base for base in BASES}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def sample_incident(**changes: Any) -> Incident:
    t = now_ms() - 90_000
    base = Incident(
        incident_id=f"inc-{uuid.uuid4().hex[:12]}",
        version=1,
        status=Status.OPEN,
        category="shooting",
        severity=4,
        confidence=0.85,
        first_event_time=t,
        last_event_time=t + 40_000,
        created_at=t + 41_000,
        updated_at=t + 41_000,
        lon=5.3750,
        lat=43.2950,
        sector="13201",
        sources=(Source.CAMERA, Source.POLICE),
        kinds=("gunshot", "call_shots"),
        event_ids=(),
        links=(),
        context=IncidentContext(affected_lines=("M1", "T2"), weather_observation=None),
        explanation="camera gunshot confirmed by a police call",
    )
    return dataclasses.replace(base, **changes)


def evidence_pair(incident: Incident) -> tuple[Incident, list[NormalizedEvent]]:
    """The incident with two linked events (camera then police), and those events."""
    t = incident.first_event_time
    cam = NormalizedEvent(
        f"ev-{uuid.uuid4().hex[:10]}",
        Source.CAMERA,
        "gunshot",
        Role.EVIDENCE,
        t,
        t + 500,
        incident.lon,
        incident.lat,
        0.0,
        0.0,
        15.0,
        incident.sector,
        "cam-17",
    )
    call = dataclasses.replace(
        cam,
        event_id=f"ev-{uuid.uuid4().hex[:10]}",
        source=Source.POLICE,
        kind="call_shots",
        event_time=t + 40_000,
        ingest_time=t + 41_000,
        source_ref="call-881",
    )
    link = LinkEvidence(cam.event_id, call.event_id, "gunshot_with_call", 85.0, 40_000)
    linked = dataclasses.replace(incident, event_ids=(cam.event_id, call.event_id), links=(link,))
    return linked, [cam, call]


def produce(settings: Settings, topic: str, records: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Produce ``(key, schema, record)`` triples and wait until Kafka has them all."""
    ser = serializer(settings)
    producer = make_producer(settings, "cc-test")
    for key, schema, record in records:
        producer.produce(topic, key=key.encode(), value=ser.serialize(schema, record, topic=topic))
    assert producer.flush(15) == 0


def produce_incidents(settings: Settings, topic: str, incidents: list[Incident]) -> None:
    produce(settings, topic, [(i.incident_id, INCIDENT, incident_to_record(i)) for i in incidents])


def produce_events(settings: Settings, topic: str, events: list[NormalizedEvent]) -> None:
    produce(settings, topic, [(e.event_id, NORMALIZED_EVENT, event_to_record(e)) for e in events])


def read_all(settings: Settings, topic: str, want: int, timeout_s: float = 15.0) -> list[bytes]:
    """Every value on ``topic`` from the beginning, until ``want`` are read or time is up."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": f"cc-test-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    try:
        meta = consumer.list_topics(topic, timeout=10)
        parts = [TopicPartition(topic, p, 0) for p in meta.topics[topic].partitions]
        consumer.assign(parts)
        values: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        while len(values) < want and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and msg.error() is None and msg.value() is not None:
                values.append(msg.value())
        return values
    finally:
        consumer.close()
