"""Where topics end, and starting a consumer group there.

A job run, the benchmark and the fault tests all read "what comes next" on topics whose
record timestamps are event times (the connectors stamp them), so starting by timestamp
would not do: they start at the current end offsets instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from vigie.config import Settings


def end_offset(consumer: Any, partition: TopicPartition, attempts: int = 20) -> int:
    """A partition's end offset, waiting out a leader election (new topics, restarts)."""
    for attempt in range(attempts):
        try:
            _, high = consumer.get_watermark_offsets(partition, timeout=10)
            return int(high)
        except KafkaException:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)
    return 0


def topic_ends(consumer: Any, topics: Iterable[str]) -> list[TopicPartition]:
    """Every partition of ``topics`` at its current end (topics that do not exist: none)."""
    meta = consumer.list_topics(timeout=10)
    return [
        TopicPartition(t, p, end_offset(consumer, TopicPartition(t, p)))
        for t in topics
        if t in meta.topics
        for p in meta.topics[t].partitions
    ]


def start_group_at_end(settings: Settings, group: str, topics: Iterable[str]) -> None:
    """Commit the topics' current ends for a new consumer group: it reads what follows."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": group,
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.commit(offsets=topic_ends(consumer, topics), asynchronous=False)
    finally:
        consumer.close()
