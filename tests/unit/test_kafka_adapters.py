"""Topic declarations, dead-letter headers, client configs and the registry client.

These need no broker: the declarations and the plan are pure, the dead-letter headers are
built by a pure function, and the registry client is exercised against a tiny HTTP server
on the loopback address speaking the registry's REST dialect.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from vigie.config import Settings
from vigie.core.serde import AvroDeserializer, AvroSerializer, Framing, SchemaCatalogue
from vigie.kafka.clients import KafkaClientError, consumer_config, producer_config
from vigie.kafka.dead_letter import (
    H_EXCEPTION_CLASS,
    H_REASON,
    DeadLetterError,
    DeadLetterWriter,
    KafkaPosition,
    dead_letter_headers,
    dlq_topic,
    parse_dead_letter,
)
from vigie.kafka.registry import ConfluentRegistryClient, RegistryError
from vigie.kafka.topics import (
    TopicsError,
    TopicState,
    declared_topics,
    parse_topics,
    plan,
    with_prefix,
)

pytestmark = pytest.mark.unit

SETTINGS = Settings()
FEEDS = ["police", "fire", "transport", "weather", "permits", "camera"]


# --- topics -------------------------------------------------------------------------------


def test_every_topic_of_the_platform_is_declared() -> None:
    names = {s.name for s in declared_topics(SETTINGS)}
    expected = {f"raw.{f}" for f in FEEDS} | {dlq_topic(f) for f in [*FEEDS, "normalize"]}
    expected |= {"events.normalized", "incidents", "incident-acks"}
    assert names == expected


def test_retention_follows_the_data_class() -> None:
    specs = {s.name: s for s in declared_topics(SETTINGS)}
    for name in ["raw.camera", "dlq.camera", "events.normalized", "dlq.normalize"]:
        days = specs[name].retention_days
        assert days is not None and days <= 30, name
    assert specs["raw.police"].retention_days == 90
    assert specs["incidents"].config["cleanup.policy"] == "compact"
    assert specs["incidents"].retention_days is None
    assert {s.partitions for s in specs.values()} == {SETTINGS.topic_partitions}


def test_partitions_and_replication_default_from_settings() -> None:
    specs = declared_topics(Settings(topic_partitions=5, topic_replication_factor=3))
    assert {(s.partitions, s.replication_factor) for s in specs} == {(5, 3)}


def _doc(**topic: Any) -> dict[str, Any]:
    return {
        "data_classes": {
            "camera": {"retention_days": 30},
            "long": {"retention_days": 400},
            "kept": {"compacted": True},
        },
        "topics": [topic],
    }


@pytest.mark.parametrize(
    ("topic", "message"),
    [
        ({"name": "raw.camera", "data_class": "long"}, "camera-derived"),
        ({"name": "x", "data_class": "camera", "config": {"retention.ms": "-1"}}, "never"),
        ({"name": "x", "data_class": "nope"}, "data_class"),
        ({"data_class": "long"}, "no name"),
        ({"name": "x", "data_class": "long", "partitions": 0}, "at least one partition"),
    ],
)
def test_bad_declarations_are_refused(topic: dict[str, Any], message: str) -> None:
    with pytest.raises(TopicsError, match=message):
        parse_topics(_doc(**topic), 2)


def test_plan_creates_missing_alters_differing_and_reports_partitions() -> None:
    specs = parse_topics(
        {
            "data_classes": {"a": {"retention_days": 1}, "k": {"compacted": True}},
            "topics": [
                {"name": "new", "data_class": "a"},
                {"name": "same", "data_class": "a"},
                {"name": "drifted", "data_class": "k", "config": {"segment.ms": "1000"}},
                {"name": "wider", "data_class": "a", "partitions": 4},
            ],
        },
        2,
    )
    day = {"cleanup.policy": "delete", "retention.ms": "86400000", "other": "kept"}
    existing = {
        "same": TopicState(2, day),
        "drifted": TopicState(2, {"cleanup.policy": "delete", "segment.ms": "1000"}),
        "wider": TopicState(2, day),
    }
    changes = plan(specs, existing)
    assert [(c.topic, c.kind) for c in changes] == [
        ("new", "create"),
        ("drifted", "alter"),
        ("wider", "partitions-differ"),
    ]
    assert changes[1].config == {"cleanup.policy": "compact"}
    applied = {**existing, "new": TopicState(2, day)}
    applied["drifted"] = TopicState(2, {"cleanup.policy": "compact", "segment.ms": "1000"})
    assert [c.kind for c in plan(specs, applied)] == ["partitions-differ"]


def test_prefix_keeps_everything_but_the_name() -> None:
    specs = declared_topics(SETTINGS)
    prefixed = with_prefix(specs, "t1.")
    assert [p.name for p in prefixed] == ["t1." + s.name for s in specs]
    assert [p.config for p in prefixed] == [s.config for s in specs]


# --- clients ------------------------------------------------------------------------------


def test_producers_are_idempotent_explicitly() -> None:
    config = producer_config(SETTINGS, "c", {"linger.ms": 5})
    assert config["enable.idempotence"] is True
    assert config["acks"] == "all"
    assert config["linger.ms"] == 5
    assert config["bootstrap.servers"] == SETTINGS.bootstrap_servers


@pytest.mark.parametrize("weaker", [{"enable.idempotence": False}, {"acks": "1"}])
def test_producer_guarantees_cannot_be_weakened(weaker: dict[str, Any]) -> None:
    with pytest.raises(KafkaClientError, match="duplicate"):
        producer_config(SETTINGS, "c", weaker)


def test_consumers_commit_manually() -> None:
    config = consumer_config(SETTINGS, "g")
    assert config["enable.auto.commit"] is False
    assert config["group.id"] == "g"


# --- dead letters -------------------------------------------------------------------------


def test_dead_letter_headers_round_trip() -> None:
    error = ValueError("bad latitude field")
    headers = dead_letter_headers(
        reason="invalid_coordinates",
        source=KafkaPosition("raw.police", 1, 42),
        job="normalize",
        timestamp_ms=1_700_000_000_000,
        detail="lat",
        record_id="r-1",
        error=error,
    )
    assert (H_REASON, b"invalid_coordinates") in headers
    assert (H_EXCEPTION_CLASS, b"builtins.ValueError") in headers
    letter = parse_dead_letter(b"\x01raw", b"k", headers)
    assert letter.original == b"\x01raw"
    assert letter.position == KafkaPosition("raw.police", 1, 42)
    assert letter.source == "raw.police-1-42"
    assert (letter.reason, letter.job, letter.detail, letter.record_id) == (
        "invalid_coordinates",
        "normalize",
        "lat",
        "r-1",
    )
    assert letter.timestamp_ms == 1_700_000_000_000
    assert letter.exception_message == "bad latitude field"


class _RecordingProducer:
    """Stands in for the producer only to check what the writer hands to it."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail = fail

    def produce(self, topic: str, value: Any = None, key: Any = None, **kw: Any) -> None:
        self.sent.append({"topic": topic, "value": value, "key": key, **kw})

    def poll(self, timeout: float = 0) -> int:
        return 0

    def flush(self, timeout: float = 0) -> int:
        for msg in self.sent:
            msg["on_delivery"]("broker down" if self.fail else None, None)
        return 0


def test_writer_sends_original_bytes_and_counts_reasons() -> None:
    producer = _RecordingProducer()
    writer = DeadLetterWriter(producer, "dlq.police", "police-connector", clock=lambda: 12.5)
    writer.send(b"a,b,\xff\n", "unparsable", "calls.csv#3")
    writer.send(b"x", "unparsable", "calls.csv#4")
    writer.send(b"y", "out_of_area", "calls.csv#5", key=b"k")
    writer.flush()
    assert [m["value"] for m in producer.sent] == [b"a,b,\xff\n", b"x", b"y"]
    assert writer.counts == {"unparsable": 2, "out_of_area": 1}
    letter = parse_dead_letter(b"", None, producer.sent[0]["headers"])
    assert (letter.source, letter.timestamp_ms) == ("calls.csv#3", 12_500)


def test_writer_flush_raises_when_a_dead_letter_is_lost() -> None:
    writer = DeadLetterWriter(_RecordingProducer(fail=True), "dlq.x", "job")
    writer.send(b"x", "r", "f#1")
    with pytest.raises(DeadLetterError, match="broker down"):
        writer.flush()


# --- registry client ---------------------------------------------------------------------


class _Registry(BaseHTTPRequestHandler):
    schemas: dict[int, str] = {}
    subjects: dict[str, list[int]] = {}

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/schemas/ids/500":
            self._reply(500, {"error_code": 50001, "message": "boom"})
            return
        schema_id = int(self.path.rsplit("/", 1)[-1])
        if schema_id in self.schemas:
            self._reply(200, {"schema": self.schemas[schema_id]})
        else:
            self._reply(404, {"error_code": 40403, "message": "Schema not found"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert body["schemaType"] == "AVRO"
        parts = self.path.strip("/").split("/")
        subject = parts[1]
        ids = [i for i, s in self.schemas.items() if s == body["schema"]]
        if parts[-1] == "versions":
            schema_id = ids[0] if ids else len(self.schemas) + 1
            self.schemas[schema_id] = body["schema"]
            self.subjects.setdefault(subject, []).append(schema_id)
            self._reply(200, {"id": schema_id})
        elif ids and ids[0] in self.subjects.get(subject, []):
            self._reply(200, {"subject": subject, "id": ids[0], "version": 1})
        else:
            self._reply(404, {"error_code": 40403, "message": "Schema not found"})


@pytest.fixture
def registry_url() -> Iterator[str]:
    _Registry.schemas, _Registry.subjects = {}, {}
    server = HTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_registry_client_speaks_the_confluent_rest_api(registry_url: str) -> None:
    from vigie.config import REPO_ROOT

    catalogue = SchemaCatalogue.load(REPO_ROOT / "schemas" / "avro")
    writer_client = ConfluentRegistryClient(registry_url)
    reader_client = ConfluentRegistryClient(registry_url)
    data = AvroSerializer(catalogue, Framing.CONFLUENT, writer_client).serialize(
        "org.vigie.v1.Role", "context", topic="roles"
    )
    assert data == b"\x00\x00\x00\x00\x01\x02"
    assert reader_client.lookup("roles-value", catalogue.get("Role").json) == 1
    assert reader_client.lookup("other-value", catalogue.get("Role").json) is None
    decoded = AvroDeserializer(catalogue, reader_client).deserialize(data, reader="Role")
    assert decoded.record == "context"
    assert reader_client.get_schema(77) is None
    with pytest.raises(RegistryError, match="HTTP 500"):
        reader_client.get_schema(500)


def test_an_unreachable_registry_is_a_registry_error_not_a_bad_record() -> None:
    client = ConfluentRegistryClient("http://127.0.0.1:9", timeout=2)
    with pytest.raises(RegistryError, match="VIGIE_SCHEMA_REGISTRY_URL"):
        client.get_schema(1)
