"""The ClickHouse sink while ClickHouse is away: nothing skipped, nothing committed early.

A fake consumer and a store that fails its first inserts stand in for Kafka and ClickHouse
(the fault test ``test_clickhouse_away_30s_sink_retries_and_catches_up`` does it for real).
The sink must retry the same batch (the whole of it, also what a partial insert already
wrote), fetch nothing while it waits, and commit the batch's offsets only once it is stored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from vigie import sink as sink_module
from vigie.config import load_settings
from vigie.core.events import Incident, NormalizedEvent
from vigie.core.serde import (
    INCIDENT,
    NORMALIZED_EVENT,
    AvroSerializer,
    SchemaCatalogue,
    event_to_record,
    incident_to_record,
)
from vigie.sink import EVENTS, INCIDENTS, ClickHouseSink
from vigie.store.engine import ServerUnreachable
from vigie.store.sample_data import build_sample

pytestmark = pytest.mark.unit

ANCHOR_MS = 1_790_000_000_000


@dataclass
class Message:
    """What confluent_kafka hands the sink, reduced to what it reads."""

    topic_: str
    partition_: int
    offset_: int
    value_: bytes

    def topic(self) -> str:
        return self.topic_

    def partition(self) -> int:
        return self.partition_

    def offset(self) -> int:
        return self.offset_

    def value(self) -> bytes:
        return self.value_

    def key(self) -> bytes | None:
        return None

    def error(self) -> None:
        return None


@dataclass
class FakeConsumer:
    """Hands out scripted batches; remembers the position and what was committed."""

    batches: list[list[Message]]
    log: list[str]
    paused: bool = False
    position: dict[tuple[str, int], int] = field(default_factory=dict)
    committed: list[dict[tuple[str, int], int]] = field(default_factory=list)

    def subscribe(self, topics: list[str]) -> None:
        self.log.append("subscribe")

    def consume(self, num_messages: int, timeout: float) -> list[Message]:
        assert not self.paused, "the sink fetched while it had paused consumption"
        if not self.batches:
            time.sleep(0.005)
            return []
        batch = self.batches.pop(0)
        for m in batch:
            self.position[(m.topic(), m.partition())] = m.offset() + 1
        self.log.append(f"consume {len(batch)}")
        return batch

    def poll(self, timeout: float) -> None:
        return None  # paused: no message, only callbacks served

    def assignment(self) -> list[str]:
        return ["every partition"]

    def pause(self, partitions: list[str]) -> None:
        self.paused = True
        self.log.append("pause")

    def resume(self, partitions: list[str]) -> None:
        self.paused = False
        self.log.append("resume")

    def commit(self, asynchronous: bool = True) -> None:
        self.committed.append(dict(self.position))
        self.log.append("commit")

    def close(self) -> None:
        self.log.append("close")


@dataclass
class FlakyStore:
    """Fails the first ``failures`` inserts (of any table) as an unreachable server."""

    failures: int
    log: list[str]
    events: list[str] = field(default_factory=list)
    incidents: list[tuple[str, int]] = field(default_factory=list)

    def _attempt(self, what: str) -> None:
        if self.failures > 0:
            self.failures -= 1
            self.log.append(f"{what} failed")
            raise ServerUnreachable("cannot reach ClickHouse")
        self.log.append(f"{what} stored")

    def insert_events(self, events: list[NormalizedEvent]) -> SimpleNamespace:
        self._attempt("events")
        self.events.extend(e.event_id for e in events)
        return SimpleNamespace(total=len(events))

    def insert_incidents(self, incidents: list[Incident]) -> SimpleNamespace:
        self._attempt("incidents")
        self.incidents.extend((i.incident_id, i.version) for i in incidents)
        return SimpleNamespace(total=len(incidents))

    def insert_acks(self, acks: list[Any]) -> SimpleNamespace:
        self._attempt("acks")
        return SimpleNamespace(total=len(acks))

    def close(self) -> None:
        pass


class FlakyStoreAfterEvents(FlakyStore):
    """Stores events, then fails incidents: a batch applied in part before the outage."""

    def _attempt(self, what: str) -> None:
        if what == "events":
            self.log.append("events stored")
            return
        super()._attempt(what)


@pytest.fixture(name="sample", scope="module")
def sample_fixture() -> Any:
    return build_sample(ANCHOR_MS, hours=6)


def _messages(sample: Any) -> tuple[list[Message], list[Message]]:
    settings = load_settings()
    serializer = AvroSerializer(SchemaCatalogue.load(settings.schemas_dir / "avro"))
    events = [
        Message(EVENTS, 0, n, serializer.serialize(NORMALIZED_EVENT, event_to_record(e)))
        for n, e in enumerate(sample.events[:40])
    ]
    incidents = [
        Message(INCIDENTS, n % 2, n, serializer.serialize(INCIDENT, incident_to_record(i)))
        for n, i in enumerate(sample.incidents[:30])
    ]
    return events, incidents


def _sink(
    monkeypatch: pytest.MonkeyPatch, consumer: FakeConsumer, store: FlakyStore
) -> tuple[ClickHouseSink, list[float]]:
    delays: list[float] = []
    monkeypatch.setattr(sink_module, "make_consumer", lambda *a, **k: consumer)
    monkeypatch.setattr(
        sink_module,
        "make_producer",
        lambda *a, **k: SimpleNamespace(produce=None, poll=lambda t=0: 0, flush=lambda t=0: 0),
    )
    monkeypatch.setattr(sink_module.IncidentStore, "from_settings", lambda *a, **k: store)
    monkeypatch.setattr(
        sink_module, "time", SimpleNamespace(monotonic=time.monotonic, sleep=delays.append)
    )
    return ClickHouseSink(load_settings()), delays


def test_a_batch_whose_inserts_fail_is_retried_whole_and_committed_only_once_stored(
    monkeypatch: pytest.MonkeyPatch, sample: Any
) -> None:
    events, incidents = _messages(sample)
    log: list[str] = []
    consumer = FakeConsumer([events[:20] + incidents[:15], events[20:] + incidents[15:]], log)
    store = FlakyStore(failures=3, log=log)
    sink, delays = _sink(monkeypatch, consumer, store)

    stats = sink.run(until_idle_s=0.05)

    sent_incidents = {(i.incident_id, i.version) for i in sample.incidents[:30]}
    assert set(store.incidents) == sent_incidents
    assert set(store.events) == {e.event_id for e in sample.events[:40]}
    assert stats.retries == 3
    assert delays == [0.5, 1.0, 2.0]  # exponential backoff
    first = log.index("consume 35")
    assert log[first : first + 10] == [
        "consume 35",
        "events failed",
        "pause",
        "events failed",
        "events failed",
        "events stored",
        "incidents stored",
        "resume",
        "commit",
        "consume 35",
    ]
    # Offsets committed: the first batch's after it was stored, then the second's.
    assert consumer.committed == [
        {(EVENTS, 0): 20, (INCIDENTS, 0): 15, (INCIDENTS, 1): 14},
        {(EVENTS, 0): 40, (INCIDENTS, 0): 29, (INCIDENTS, 1): 30},
    ]


def test_a_batch_applied_in_part_is_sent_again_in_full(
    monkeypatch: pytest.MonkeyPatch, sample: Any
) -> None:
    events, incidents = _messages(sample)
    log: list[str] = []
    consumer = FakeConsumer([events + incidents], log)
    store = FlakyStoreAfterEvents(failures=2, log=log)
    sink, _ = _sink(monkeypatch, consumer, store)

    sink.run(until_idle_s=0.05)

    assert log.count("events stored") == 3  # re-sent with the batch: the store is idempotent
    assert {(i.incident_id, i.version) for i in sample.incidents[:30]} == set(store.incidents)
    assert log.index("commit") > log.index("incidents stored")
    assert log.count("commit") == 1
