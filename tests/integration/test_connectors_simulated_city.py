"""The simulated city through the connectors into the real broker, every record accounted for.

``vigie simulate --out`` writes each feed's files and lists the records it made malformed on
purpose (``rejections.jsonl``). Each connector then watches its feed's folder (one scan) and
produces to fresh topics; a separate consumer must find, per feed, exactly the written
records minus the rejected ones on the raw topic, and exactly the expected rejections (same
reason, same file and record index) on the DLQ topic.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from connectors.base import ParseContext, load_city, now_ms
from connectors.feeds import FEEDS, build_parser
from connectors.kafka_sink import KafkaSink
from connectors.runtime import FolderSource, run
from vigie.cli.main import main
from vigie.config import Settings
from vigie.kafka.clients import make_consumer
from vigie.kafka.dead_letter import parse_dead_letter

pytestmark = pytest.mark.integration

CITY = Path(__file__).resolve().parents[2] / "cities" / "marseille"


@pytest.fixture
def topics(
    scratch_topics: Callable[[list[str]], list[str]], unique_name: str
) -> dict[str, tuple[str, str]]:
    names = {
        f: (f"test.e2e.{unique_name}.raw.{f}", f"test.e2e.{unique_name}.dlq.{f}") for f in FEEDS
    }
    scratch_topics([t for pair in names.values() for t in pair])
    return names


def _drain(settings: Settings, topic: str, expected: int) -> list:  # type: ignore[type-arg]
    consumer = make_consumer(settings, f"test-{topic}")
    consumer.subscribe([topic])
    messages, idle = [], 0
    deadline = time.monotonic() + 60
    try:
        while idle < 3:  # stop after 1.5 s without a message once the expected count is reached
            assert time.monotonic() < deadline, (
                f"{topic}: {len(messages)} of {expected} records after 60 s"
            )
            msg = consumer.poll(0.5)
            if msg is None or msg.error() is not None:
                idle += 1 if len(messages) >= expected else 0
                continue
            messages.append(msg)
            if len(messages) > 10 * expected + 100:
                break
    finally:
        consumer.close()
    return messages


def test_simulated_city_generated_minus_rejected_per_topic(stack, topics, tmp_path):
    out = tmp_path / "sim"
    args = ["simulate", "--seed", "7", "--duration", "20m", "--incidents", "12", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    written = Counter()
    for name, count in manifest["files"].items():
        written[name.split("/", 1)[0]] += count
    expected_rejections = [
        json.loads(line) for line in (out / "rejections.jsonl").read_text().splitlines() if line
    ]
    key = stack.pseudonym_key_bytes()
    city = load_city(CITY)

    for feed in FEEDS:
        raw_topic, dlq_topic = topics[feed]
        sink = KafkaSink(stack, feed, topic=raw_topic, dead_letter_topic=dlq_topic)
        source = FolderSource(out / feed, tmp_path / f"state-{feed}.jsonl", once=True)
        stats = run(
            build_parser(feed, CITY), source, sink, lambda: ParseContext(city, key, now_ms())
        )
        expected_dead = [r for r in expected_rejections if r["source"] == feed]
        assert stats.read == written[feed], feed
        assert stats.rejected_total == len(expected_dead), feed

        raw = _drain(stack, raw_topic, written[feed] - len(expected_dead))
        assert len(raw) == written[feed] - len(expected_dead), feed
        dead = [
            parse_dead_letter(m.value(), m.key(), m.headers())
            for m in _drain(stack, dlq_topic, len(expected_dead))
        ]
        found = sorted((d.reason, d.source) for d in dead)
        assert found == sorted(
            (r["reason"], f"{out / r['file']}#{r['record']}") for r in expected_dead
        ), feed
