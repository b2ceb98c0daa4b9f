"""Topic end offsets: every partition of existing topics, leader elections waited out."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaException, TopicPartition

from vigie.kafka import offsets

pytestmark = pytest.mark.unit


class FakeConsumer:
    def __init__(self, ends: dict[tuple[str, int], int], failures: int = 0) -> None:
        self.ends = ends
        self.failures = failures

    def list_topics(self, timeout: float) -> Any:
        topics: dict[str, Any] = {}
        for topic, p in self.ends:
            topics.setdefault(topic, SimpleNamespace(partitions={}))
            topics[topic].partitions[p] = None
        return SimpleNamespace(topics=topics)

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float) -> tuple[int, int]:
        if self.failures:
            self.failures -= 1
            raise KafkaException("leader not available")
        return 0, self.ends[(tp.topic, tp.partition)]


def test_every_partition_of_existing_topics_at_its_end() -> None:
    consumer = FakeConsumer({("a", 0): 5, ("a", 1): 7, ("b", 0): 2})
    ends = offsets.topic_ends(consumer, ["a", "missing"])
    assert sorted((tp.topic, tp.partition, tp.offset) for tp in ends) == [("a", 0, 5), ("a", 1, 7)]


def test_a_leader_election_is_waited_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(offsets.time, "sleep", lambda s: None)
    consumer = FakeConsumer({("a", 0): 3}, failures=2)
    assert offsets.end_offset(consumer, TopicPartition("a", 0)) == 3
    with pytest.raises(KafkaException):
        offsets.end_offset(FakeConsumer({("a", 0): 3}, failures=5), TopicPartition("a", 0), 3)
