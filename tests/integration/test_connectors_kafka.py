"""Connectors into the real local broker: each runtime path, raw records and dead letters.

Every test gets its own raw and DLQ topics (created here), so parallel runs and other
engineers' traffic on ``raw.<feed>`` cannot disturb the counts. A separate consumer reads
back exactly what the connector says it produced and rejected.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from connectors.base import ParseContext, load_city, now_ms
from connectors.feeds import build_parser
from connectors.kafka_sink import H_FEED, H_SOURCE_INDEX, H_SOURCE_URI, KafkaSink
from connectors.runtime import FileSource, FolderSource, HttpSource, run
from vigie.config import Settings
from vigie.core.serde import AvroDeserializer, SchemaCatalogue
from vigie.kafka.clients import make_consumer
from vigie.kafka.dead_letter import parse_dead_letter

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "connectors" / "samples"


@pytest.fixture
def topics(scratch_topics: Callable[[list[str]], list[str]], unique_name: str) -> tuple[str, str]:
    raw, dlq = scratch_topics([f"test.raw.{unique_name}", f"test.dlq.{unique_name}"])
    return raw, dlq


def _consume(settings: Settings, topic: str, expected: int) -> list:  # type: ignore[type-arg]
    consumer = make_consumer(settings, f"test-{topic}")
    consumer.subscribe([topic])
    messages = []
    try:
        for _ in range(60):
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                messages.append(msg)
            if len(messages) >= expected:
                # keep polling briefly: more than expected would be a duplicate
                extra = consumer.poll(1.0)
                if extra is not None and extra.error() is None:
                    messages.append(extra)
                break
    finally:
        consumer.close()
    return messages


def _connector(settings: Settings, feed: str, topics: tuple[str, str], **reference: Path):  # type: ignore[no-untyped-def]
    parser = build_parser(feed, REPO / "cities" / "marseille", **reference)
    sink = KafkaSink(settings, feed, topic=topics[0], dead_letter_topic=topics[1])
    city = load_city(REPO / "cities" / "marseille")
    return parser, sink, lambda: ParseContext(city, settings.pseudonym_key_bytes(), now_ms())


def test_file_to_raw_and_dlq(stack, topics, tmp_path):
    bad = [
        b"P-BAD-1,UFO,Saucer,1,2026-11-27 22:00:00,,5.37,43.29,,Jean Dupont,0612345678,",
        b"P-BAD-2,SHOTS,Shots,1,2026-11-27 22:00:00,,2.35,48.85,Paris,,,",
    ]
    path = tmp_path / "calls.csv"
    path.write_bytes((SAMPLES / "police_calls.csv").read_bytes() + b"\n".join(bad) + b"\n")
    parser, sink, context = _connector(stack, "police", topics)
    stats = run(parser, FileSource(path), sink, context)
    assert (stats.read, stats.produced, stats.rejected_total) == (6, 4, 2)

    raw = _consume(stack, topics[0], 4)
    catalogue = SchemaCatalogue.load(stack.schemas_dir / "avro")
    decoded = [AvroDeserializer(catalogue).deserialize(m.value()).record for m in raw]
    assert sorted(r["record_id"] for r in decoded) == [
        "P2026-0112345",
        "P2026-0112346",
        "P2026-0112347",
        "P2026-0112348",
    ]
    assert sorted(m.key() for m in raw) == sorted(r["record_id"].encode() for r in decoded)
    assert all("Dupont" not in json.dumps(r, default=str) for r in decoded)

    dead = _consume(stack, topics[1], 2)
    letters = sorted(
        ((parse_dead_letter(m.value(), m.key(), m.headers()), dict(m.headers())) for m in dead),
        key=lambda pair: pair[0].original,
    )
    assert [(d.original, d.reason, d.record_id, d.key) for d, _ in letters] == [
        (bad[0], "unknown_code", "P-BAD-1", b"P-BAD-1"),
        (bad[1], "outside_city", "P-BAD-2", b"P-BAD-2"),
    ]
    for (letter, headers), index in zip(letters, (5, 6), strict=True):
        assert letter.source == f"{path}#{index}"
        assert headers[H_SOURCE_URI] == str(path).encode()
        assert headers[H_SOURCE_INDEX] == str(index).encode()
        assert headers[H_FEED] == b"police"
        assert letter.job == "connector-police"
        assert "Dupont" not in (letter.detail or "") and "0612" not in (letter.detail or "")


def test_watched_folder_reads_each_file_once(stack, topics, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    lines = (SAMPLES / "camera_events.jsonl").read_bytes().splitlines()
    unknown = (
        b'{"event_id": "e-x", "camera_id": "CAM-NOPE", "type": "gunshot", '
        b'"confidence": 0.9, "detected_at": "2026-11-27T22:00:00Z"}'
    )
    (inbox / "001.jsonl").write_bytes(b"\n".join([*lines[:2], unknown]))
    (inbox / "002.jsonl").write_bytes(b"\n".join(lines[2:]))
    state = tmp_path / "state.jsonl"
    parser, sink, context = _connector(stack, "camera", topics, cameras=SAMPLES / "cameras.csv")
    first = run(parser, FolderSource(inbox, state, once=True), sink, context)
    again = run(parser, FolderSource(inbox, state, once=True), sink, context)
    assert (first.payloads, first.produced, first.rejected_total) == (2, 4, 1)
    assert (again.payloads, again.read) == (0, 0)

    raw = _consume(stack, topics[0], 4)
    assert len(raw) == 4
    assert sorted(m.key() for m in raw) == [b"CAM-0001", b"CAM-0001", b"CAM-0002", b"CAM-0003"]
    (dead,) = _consume(stack, topics[1], 1)
    letter = parse_dead_letter(dead.value(), dead.key(), dead.headers())
    assert (letter.original, letter.reason, letter.source) == (
        unknown,
        "unknown_camera",
        f"{inbox / '001.jsonl'}#3",
    )


class _Permits(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/geo+json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


def test_http_endpoint_polled(stack, topics):
    doc = json.loads((SAMPLES / "permits.geojson").read_bytes())
    broken = {"type": "Feature", "properties": {"permit_id": "X-1", "kind": "roadworks"}}
    doc["features"].append(broken)
    _Permits.body = json.dumps(doc).encode()
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Permits)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/permits.geojson"
        parser, sink, context = _connector(stack, "permits", topics)
        stats = run(parser, HttpSource(url, once=True), sink, context)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert (stats.produced, stats.rejected_total, stats.source_errors) == (3, 1, 0)
    assert len(_consume(stack, topics[0], 3)) == 3
    (dead,) = _consume(stack, topics[1], 1)
    letter = parse_dead_letter(dead.value(), dead.key(), dead.headers())
    assert json.loads(letter.original) == broken
    assert (letter.reason, letter.source, letter.record_id) == (
        "missing_field",
        f"{url}#4",
        "X-1",
    )


def test_protobuf_entity_bytes_in_dlq(stack, topics, tmp_path):
    from google.transit import gtfs_realtime_pb2 as rt

    feed = rt.FeedMessage()
    feed.ParseFromString((SAMPLES / "transport_feed.pb").read_bytes())
    ghost = feed.entity.add()
    ghost.id = "veh-ghost"
    ghost.vehicle.vehicle.id = "ghost"
    ghost.vehicle.trip.route_id = "NOPE"
    ghost.vehicle.position.latitude = 43.3
    ghost.vehicle.position.longitude = 5.38
    path = tmp_path / "vp.pb"
    path.write_bytes(feed.SerializeToString())
    parser, sink, context = _connector(stack, "transport", topics, gtfs=SAMPLES / "gtfs")
    stats = run(parser, FileSource(path), sink, context)
    assert (stats.produced, stats.rejected_total) == (3, 1)
    assert len(_consume(stack, topics[0], 3)) == 3
    (dead,) = _consume(stack, topics[1], 1)
    letter = parse_dead_letter(dead.value(), dead.key(), dead.headers())
    assert letter.original == ghost.SerializeToString()
    assert (letter.reason, letter.source) == ("unknown_code", f"{path}#4")


def test_huge_unparsable_payload_is_cut_not_blocking(stack, topics, tmp_path):
    import hashlib

    from connectors.kafka_sink import H_ORIGINAL_SHA256, H_ORIGINAL_SIZE, MAX_DEAD_LETTER_BYTES

    garbage = b"{" * 3_000_000  # not JSON, 3 MB: over the broker's message limit
    path = tmp_path / "huge.geojson"
    path.write_bytes(garbage)
    parser, sink, context = _connector(stack, "permits", topics)
    stats = run(parser, FileSource(path), sink, context)
    assert stats.rejected == {"unparsable": 1}
    (dead,) = _consume(stack, topics[1], 1)
    headers = dict(dead.headers())
    assert dead.value() == garbage[:MAX_DEAD_LETTER_BYTES]
    assert headers[H_ORIGINAL_SIZE] == b"3000000"
    assert headers[H_ORIGINAL_SHA256] == hashlib.sha256(garbage).hexdigest().encode()
