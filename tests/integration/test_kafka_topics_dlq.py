"""Topics, dead letters and the serde against the real local broker.

Every test works on topics of its own (a fresh prefix), so runs never see each other's data.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from confluent_kafka import Consumer, Message, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
)

from vigie.cli.main import main
from vigie.config import Settings, load_settings
from vigie.core.events import AckAction, IncidentAck
from vigie.core.serde import INCIDENT_ACK, ack_to_record, record_to_ack
from vigie.kafka import serde
from vigie.kafka.clients import make_consumer, make_producer
from vigie.kafka.dead_letter import DeadLetterWriter, KafkaPosition, parse_dead_letter
from vigie.kafka.topics import apply_topics, declared_topics, describe_topics, with_prefix

pytestmark = pytest.mark.integration


@pytest.fixture
def prefix(unique_name: str, stack: Settings) -> Iterator[str]:
    """A topic prefix for one test; its topics are deleted afterwards."""
    value = f"t{unique_name}."
    yield value
    admin = AdminClient({"bootstrap.servers": stack.bootstrap_servers})
    mine = [t for t in admin.list_topics(timeout=10).topics if t.startswith(value)]
    if mine:
        for future in admin.delete_topics(mine, operation_timeout=30).values():
            future.result(30)


def _read_all(consumer: Consumer, topic: str, expected: int, timeout: float = 30) -> list[Message]:
    consumer.assign([TopicPartition(topic, p, 0) for p in range(2)])
    messages: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(messages) < expected and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            messages.append(msg)
    return messages


def test_apply_creates_every_declared_topic_then_changes_nothing(
    stack: Settings, prefix: str
) -> None:
    specs = with_prefix(declared_topics(stack), prefix)
    first = apply_topics(stack, specs)
    assert sorted(c.topic for c in first if c.kind == "create") == sorted(s.name for s in specs)
    assert apply_topics(stack, specs) == []

    admin = AdminClient({"bootstrap.servers": stack.bootstrap_servers})
    states = describe_topics(admin, [s.name for s in specs])
    for spec in specs:
        assert states[spec.name].partitions == spec.partitions
        for key, value in spec.config.items():
            assert states[spec.name].config[key] == value, (spec.name, key)
    assert states[prefix + "incidents"].config["cleanup.policy"] == "compact"
    assert int(states[prefix + "raw.camera"].config["retention.ms"]) <= 30 * 86_400_000


def test_apply_restores_a_config_changed_by_hand(stack: Settings, prefix: str) -> None:
    specs = [s for s in with_prefix(declared_topics(stack), prefix) if s.name.endswith("camera")]
    apply_topics(stack, specs)
    admin = AdminClient({"bootstrap.servers": stack.bootstrap_servers})
    name = prefix + "raw.camera"
    drift = ConfigEntry("retention.ms", "-1", incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=[drift])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(30)
    deadline = time.monotonic() + 30  # brokers apply an alter asynchronously
    while describe_topics(admin, [name])[name].config["retention.ms"] != "-1":
        assert time.monotonic() < deadline, "the drift never became visible"
        time.sleep(0.1)

    changes = apply_topics(stack, specs)
    assert [(c.topic, c.kind) for c in changes] == [(name, "alter")]
    assert describe_topics(admin, [name])[name].config["retention.ms"] == str(30 * 86_400_000)
    assert apply_topics(stack, specs) == []


def test_dead_letters_keep_the_original_bytes_and_the_context(stack: Settings, prefix: str) -> None:
    specs = [s for s in with_prefix(declared_topics(stack), prefix) if s.name.endswith("police")]
    apply_topics(stack, specs)
    topic = prefix + "dlq.police"
    producer = make_producer(stack, "test-dlq")
    writer = DeadLetterWriter(producer, topic, "police-connector")
    originals = [b"2026-05-01,,\xff\xfe,garbage\n", b"", b'{"lat": 91}']
    writer.send(originals[0], "unparsable", "calls.csv#17", key=b"k1")
    writer.send(originals[1], "empty_record", "calls.csv#18")
    writer.send(
        originals[2],
        "invalid_coordinates",
        KafkaPosition("raw.police", 1, 1234),
        error=ValueError("latitude 91 out of range"),
        record_id="CAD-1",
    )
    writer.flush()
    assert writer.counts == {"unparsable": 1, "empty_record": 1, "invalid_coordinates": 1}

    consumer = make_consumer(stack, f"g-{uuid.uuid4().hex}")
    try:
        messages = _read_all(consumer, topic, 3)
    finally:
        consumer.close()
    letters = {
        m.value() or b"": parse_dead_letter(m.value(), m.key(), m.headers()) for m in messages
    }
    assert sorted(letters) == sorted(originals)
    first = letters[originals[0]]
    assert (first.reason, first.source, first.job, first.key) == (
        "unparsable",
        "calls.csv#17",
        "police-connector",
        b"k1",
    )
    third = letters[originals[2]]
    assert third.position == KafkaPosition("raw.police", 1, 1234)
    assert third.exception_class == "builtins.ValueError"
    assert third.record_id == "CAD-1"
    assert abs(third.timestamp_ms - time.time() * 1000) < 120_000


def test_acks_travel_through_the_broker_in_the_configured_framing(
    stack: Settings, prefix: str
) -> None:
    specs = [s for s in with_prefix(declared_topics(stack), prefix) if "acks" in s.name]
    apply_topics(stack, specs)
    topic = prefix + "incident-acks"
    acks = [
        IncidentAck(str(uuid.uuid4()), f"inc-{i}", AckAction.ACK, "op", 1_780_000_000_000 + i)
        for i in range(20)
    ]
    ser, de = serde.serializer(stack), serde.deserializer(stack)
    producer = make_producer(stack, "test-acks")
    for ack in acks:
        value = ser.serialize(INCIDENT_ACK, ack_to_record(ack), topic=topic)
        producer.produce(topic, value=value, key=ack.incident_id.encode())
    assert producer.flush(30) == 0

    consumer = make_consumer(stack, f"g-{uuid.uuid4().hex}")
    try:
        messages = _read_all(consumer, topic, len(acks))
    finally:
        consumer.close()
    got = sorted(
        (
            record_to_ack(de.deserialize(m.value() or b"", reader=INCIDENT_ACK).record)
            for m in messages
        ),
        key=lambda a: a.at,
    )
    assert got == acks


def test_cli_apply_then_list(
    stack: Settings,
    prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``vigie topics apply`` twice (second is a no-op), then ``vigie topics list``."""
    doc = yaml.safe_load((stack.schemas_dir / "topics.yaml").read_text())
    doc["topics"] = [
        {**t, "name": prefix + t["name"]} for t in doc["topics"] if "police" in t["name"]
    ]
    (tmp_path / "topics.yaml").write_text(yaml.safe_dump(doc))
    monkeypatch.setenv("VIGIE_SCHEMAS_DIR", str(tmp_path))
    monkeypatch.setenv("VIGIE_KAFKA_PORT", str(stack.kafka_port))
    load_settings.cache_clear()
    try:
        assert main(["topics", "list"]) == 1  # declared but missing
        assert "missing" in capsys.readouterr().out
        assert main(["topics", "apply"]) == 0
        out = capsys.readouterr().out
        assert f"create            {prefix}raw.police" in out
        assert f"create            {prefix}dlq.police" in out
        assert main(["topics", "apply"]) == 0
        assert "topics up to date" in capsys.readouterr().out
        assert main(["topics", "list", "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert {r["topic"] for r in rows if r["on_broker"]} == {
            prefix + "raw.police",
            prefix + "dlq.police",
        }
    finally:
        load_settings.cache_clear()
