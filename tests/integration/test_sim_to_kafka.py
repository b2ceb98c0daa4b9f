"""``vigie simulate --to-kafka`` against the real local broker: every accepted record arrives."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from vigie.cli.main import main
from vigie.config import REPO_ROOT, Settings
from vigie.core.serde.catalogue import SchemaCatalogue
from vigie.core.serde.codec import AvroDeserializer
from vigie.kafka.clients import make_consumer
from vigie.sim.city import load_city
from vigie.sim.scenario import ScenarioConfig, generate

pytestmark = pytest.mark.integration

FEEDS = ("police", "fire", "camera", "transport", "weather", "permits")


@pytest.fixture
def prefix(scratch_topics: Callable[[list[str]], list[str]], unique_name: str) -> str:
    pre = f"test.sim.{unique_name}."
    scratch_topics([f"{pre}raw.{f}" for f in FEEDS])
    return pre


def test_to_kafka_delivers_generated_minus_rejected(
    stack: Settings, prefix: str, tmp_path: Path
) -> None:
    args = ["--seed", "21", "--duration", "30m", "--incidents", "20", "--quiet"]
    assert main(["simulate", *args, "--to-kafka", "--topic-prefix", prefix, "--loops", "2"]) == 0

    sc = generate(
        load_city(REPO_ROOT / "cities" / "marseille"),
        ScenarioConfig(seed=21, duration_s=1800, incidents=20),
    )
    expected = Counter(f"{prefix}raw.{r.source.value}" for r in sc.records if r.defect is None)
    expected = Counter({t: 2 * n for t, n in expected.items()})  # two loops

    consumer = make_consumer(stack, f"test-sim-{prefix}")
    consumer.subscribe(list(expected))
    de = AvroDeserializer(SchemaCatalogue.load(REPO_ROOT / "schemas" / "avro"))
    got: Counter[str] = Counter()
    ids: set[tuple[str, str]] = set()
    deadline = time.monotonic() + 60
    try:
        while got != expected and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            topic, value = str(msg.topic()), msg.value()
            assert value is not None
            got[topic] += 1
            ids.add((topic, de.deserialize(value).record["record_id"]))
    finally:
        consumer.close()
    assert got == expected
    # the second loop carries other ids: nothing looks like a duplicate of the first
    per_loop = Counter(i.rsplit("~", 1)[1] for _, i in ids)
    assert set(per_loop) == {"0000", "0001"}
