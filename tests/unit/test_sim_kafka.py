"""The Kafka adapter: connector-made raw records, encoded, replayed with unique ids."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import Any

import pytest

from vigie.config import REPO_ROOT
from vigie.core.serde.catalogue import SchemaCatalogue
from vigie.core.serde.codec import AvroDeserializer, AvroSerializer
from vigie.sim.city import load_city
from vigie.sim.kafka import Prepared, offer, prepare, with_loop
from vigie.sim.scenario import ScenarioConfig, generate

pytestmark = pytest.mark.unit

CITY_DIR = REPO_ROOT / "cities" / "marseille"
KEY = b"test-key-test-key-test-key-12345"


@lru_cache(maxsize=1)
def catalogue() -> SchemaCatalogue:
    return SchemaCatalogue.load(REPO_ROOT / "schemas" / "avro")


@lru_cache(maxsize=2)
def prepared(loop_suffix: bool) -> tuple[Prepared, Any]:
    city = load_city(CITY_DIR)
    sc = generate(city, ScenarioConfig(seed=11, duration_s=1800, incidents=20))
    pool = prepare(
        sc, CITY_DIR, city.timezone, AvroSerializer(catalogue()), KEY, loop_suffix=loop_suffix
    )
    return pool, sc


def test_pool_holds_every_record_the_connectors_accept() -> None:
    pool, sc = prepared(False)
    assert len(pool.records) + pool.rejected == len(sc.records)
    assert pool.rejected == sum(r.defect is not None for r in sc.records) > 0
    topics = Counter(e.topic for e in pool.records)
    assert set(topics) == {
        f"raw.{f}" for f in ("police", "fire", "camera", "transport", "weather", "permits")
    }
    times = [e.publish_time for e in pool.records]
    assert times == sorted(times)


def test_values_decode_to_the_truths_record_ids() -> None:
    pool, sc = prepared(False)
    de = AvroDeserializer(catalogue())
    ids = {(e.topic, de.deserialize(e.value).record["record_id"]) for e in pool.records}
    expected = {(f"raw.{r.source.value}", r.source_ref) for r in sc.records if r.defect is None}
    assert ids == expected


def test_loops_patch_a_unique_suffix_into_the_record_id() -> None:
    pool, _ = prepared(True)
    de = AvroDeserializer(catalogue())
    for e in pool.records[:: max(1, len(pool.records) // 200)]:
        first = de.deserialize(with_loop(e, 0)).record
        later = de.deserialize(with_loop(e, 37)).record
        assert first["record_id"].endswith("~0000")
        assert later["record_id"] == first["record_id"][:-4] + "0037"
        rest_first = {k: v for k, v in first.items() if k != "record_id"}
        rest_later = {k: v for k, v in later.items() if k != "record_id"}
        assert rest_first == rest_later


class FakeProducer:
    """Queues like librdkafka: refuses (BufferError) when full, delivers on poll/flush."""

    def __init__(self, capacity: int = 500) -> None:
        self.capacity = capacity
        self.queue: list[tuple[str, bytes, Any]] = []
        self.sent: list[tuple[str, bytes]] = []
        self.refusals = 0

    def produce(
        self, topic: str, value: bytes, key: bytes, on_delivery: Any, timestamp: int = 0
    ) -> None:
        assert timestamp > 0, "raw records carry their event time as the Kafka timestamp"
        if len(self.queue) >= self.capacity:
            self.refusals += 1
            raise BufferError
        self.queue.append((topic, value, on_delivery))

    def poll(self, _timeout: float = 0) -> int:
        n = len(self.queue)
        for topic, value, cb in self.queue:
            self.sent.append((topic, value))
            cb(None, None)
        self.queue = []
        return n

    def flush(self, _timeout: float = 0) -> int:
        self.poll()
        return 0


def test_offer_sends_every_record_of_every_loop_once() -> None:
    pool, _ = prepared(True)
    producer = FakeProducer()
    stats = offer(producer, pool.records, loops=3)
    assert producer.refusals > 0  # the full-queue path was taken
    assert stats.offered == stats.delivered == 3 * len(pool.records)
    assert stats.failed == 0
    assert len(set(producer.sent)) == 3 * len(pool.records)


def test_topic_prefix_applies_to_every_record() -> None:
    city = load_city(CITY_DIR)
    sc = generate(city, ScenarioConfig(seed=3, duration_s=600, incidents=3))
    pool = prepare(
        sc, CITY_DIR, city.timezone, AvroSerializer(catalogue()), KEY, topic_prefix="bench.x."
    )
    assert pool.records
    assert all(e.topic.startswith("bench.x.raw.") for e in pool.records)
