"""Kafka adapter: offer the scenario's raw records straight to the ``raw.<feed>`` topics.

The records are made the way the connectors make them: the scenario is written to a scratch
folder in the agencies' formats, parsed by the real connector parsers (so validation,
pseudonymisation and record ids are exactly theirs), and encoded with the project's Avro
serializer (single-object encoding, or Confluent framing when a registry is configured).
Records a connector would reject are not produced (they are counted: the DLQ path is
exercised by running the connectors on the files).

Preparing costs ~100 µs per record in Python, so for load the encoded records are prepared
once, held in memory, and offered from there (``--rate`` caps the rate, ``--loops`` replays
the pool). Replays must not look like duplicates to the normalise job, so with ``--loops`` > 1
every record id gets a fixed-width suffix ``~NNNN`` (the loop number), patched into the
encoded bytes in place: ``record_id`` is the first field of every raw schema, so its bytes sit
at a fixed offset right after the framing header. Event times repeat from loop to loop: a
load run measures throughput, not fusion quality.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from connectors.base import to_avro
from connectors.feeds import RAW_SCHEMAS
from connectors.feeds import raw_topic as connector_topic
from vigie.config import Settings
from vigie.core.normalize import event_time_of
from vigie.core.serde.catalogue import SchemaCatalogue
from vigie.core.serde.codec import AvroSerializer
from vigie.sim.connect import parse_output
from vigie.sim.files import FileSink
from vigie.sim.model import Scenario, SimRecord
from vigie.sim.pace import Pacer, RateLimiter

LOOP_SUFFIX_WIDTH = 4  # "~0000" .. "~9999"


@dataclass(frozen=True, slots=True)
class Encoded:
    """One record ready to produce."""

    topic: str
    key: bytes
    value: bytes
    publish_time: int
    id_end: int  # offset just past the record id in ``value`` (0: no loop suffix)
    event_time: int | None = None  # the Kafka timestamp, as the connectors stamp it


@dataclass(frozen=True)
class Prepared:
    """The encoded pool and how it was made."""

    records: tuple[Encoded, ...]
    rejected: int
    seconds: dict[str, float]


def raw_topic(feed: str, prefix: str = "") -> str:
    """The connectors' raw topic of a feed, optionally prefixed (benchmarks, tests)."""
    return prefix + connector_topic(feed)


def _varint_len(n: int) -> int:
    z = (n << 1) ^ (n >> 63)
    size = 1
    while z >= 0x80:
        z >>= 7
        size += 1
    return size


def prepare(
    scenario: Scenario,
    city_dir: Path,
    timezone: str,
    serializer: AvroSerializer,
    key: bytes,
    *,
    loop_suffix: bool = False,
    header_size: int = 10,
    topic_prefix: str = "",
) -> Prepared:
    """Render, parse with the connectors and encode every record of the scenario."""
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    placed: dict[tuple[str, int], SimRecord] = {}
    with tempfile.TemporaryDirectory(prefix="vigie-sim-") as scratch:
        out = Path(scratch)
        sink = FileSink(out, timezone, placed=placed)
        for rec in scenario.records:
            sink.write(rec)
        sink.close()
        t1 = time.perf_counter()
        seconds["render"] = t1 - t0
        parsed = list(parse_output(out, city_dir, key, int(time.time() * 1000)))
    t2 = time.perf_counter()
    seconds["parse"] = t2 - t1
    encoded: list[Encoded] = []
    rejected = 0
    for p in parsed:
        if p.rejected:
            rejected += 1
            continue
        raw = p.result
        if loop_suffix:
            raw = replace(raw, record_id=f"{raw.record_id}~{0:0{LOOP_SUFFIX_WIDTH}d}")
        schema = RAW_SCHEMAS[p.feed]
        topic = raw_topic(p.feed, topic_prefix)
        fields = to_avro(raw)
        value = serializer.serialize(schema, fields, topic=topic)
        id_bytes = len(raw.record_id.encode("utf-8"))
        id_end = header_size + _varint_len(id_bytes) + id_bytes if loop_suffix else 0
        sim = placed[(p.result.source_uri, p.result.source_index)]
        encoded.append(
            Encoded(
                topic,
                raw.kafka_key().encode(),
                value,
                sim.publish_time,
                id_end,
                event_time_of(schema, fields),
            )
        )
    encoded.sort(key=lambda e: e.publish_time)  # stable: file order within a feed
    seconds["encode"] = time.perf_counter() - t2
    return Prepared(tuple(encoded), rejected, seconds)


def with_loop(rec: Encoded, loop: int) -> bytes:
    """The record's value with its ``~NNNN`` id suffix set to ``loop``."""
    if rec.id_end == 0 or loop == 0:
        return rec.value
    digits = f"{loop % 10**LOOP_SUFFIX_WIDTH:0{LOOP_SUFFIX_WIDTH}d}".encode()
    start = rec.id_end - LOOP_SUFFIX_WIDTH
    return rec.value[:start] + digits + rec.value[rec.id_end :]


@dataclass
class OfferStats:
    """What a produce run did."""

    offered: int = 0
    delivered: int = 0
    failed: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Records offered per second of wall time."""
        return self.offered / self.seconds if self.seconds > 0 else 0.0


def offer(
    producer: Any,
    pool: tuple[Encoded, ...],
    *,
    loops: int = 1,
    rate: float = 0.0,
    pacer: Pacer | None = None,
    progress: Callable[[OfferStats, int], None] | None = None,
    flush_timeout: float = 60.0,
) -> OfferStats:
    """Produce the pool ``loops`` times, paced by city time or capped by rate."""
    stats = OfferStats()
    limiter = RateLimiter(rate)

    def delivered(err: Any, _msg: Any) -> None:
        if err is None:
            stats.delivered += 1
        else:
            stats.failed += 1

    total = len(pool) * loops
    started = time.perf_counter()
    last_report = started
    batch = 0
    for loop in range(loops):
        for rec in pool:
            if pacer is not None and loop == 0:
                pacer.wait_for(rec.publish_time)
            value = with_loop(rec, loop)
            while True:
                try:
                    producer.produce(
                        rec.topic,
                        value,
                        rec.key,
                        on_delivery=delivered,
                        timestamp=rec.event_time or 0,
                    )
                    break
                except BufferError:  # local queue full: let librdkafka drain it
                    producer.poll(0.05)
            stats.offered += 1
            batch += 1
            if batch == 1000:
                producer.poll(0)
                limiter.take(batch)
                batch = 0
                now = time.perf_counter()
                if progress is not None and now - last_report >= 1.0:
                    stats.seconds = now - started
                    progress(stats, total)
                    last_report = now
    limiter.take(batch)
    remaining = producer.flush(flush_timeout)
    stats.failed += remaining
    stats.seconds = time.perf_counter() - started
    if progress is not None:
        progress(stats, total)
    return stats


def _serializer(settings: Settings) -> tuple[AvroSerializer, int]:
    """Single-object encoding against ``schemas/``: readers detect the framing themselves."""
    if settings.schema_registry_url:
        print(
            "note: the simulator writes Avro single-object encoding; readers detect the framing",
            file=sys.stderr,
        )
    return AvroSerializer(SchemaCatalogue.load(settings.schemas_dir / "avro")), 10


def run_to_kafka(
    scenario: Scenario, city_dir: Path, settings: Settings, args: argparse.Namespace
) -> int:
    """``vigie simulate --to-kafka``: prepare the pool, then offer it to the broker."""
    from vigie.kafka.clients import make_producer
    from vigie.sim.city import load_city

    serializer, header = _serializer(settings)
    city = load_city(city_dir)
    prepared = prepare(
        scenario,
        city_dir,
        city.timezone,
        serializer,
        settings.pseudonym_key_bytes(),
        loop_suffix=args.loops > 1,
        header_size=header,
        topic_prefix=args.topic_prefix,
    )
    prep_s = sum(prepared.seconds.values())
    print(
        f"prepared {len(prepared.records)} raw records in {prep_s:.2f}s "
        f"({len(prepared.records) / max(prep_s, 1e-9):,.0f}/s; "
        f"{prepared.rejected} malformed left out, as the connectors would reject them)",
        file=sys.stderr,
    )
    producer = make_producer(
        settings,
        "vigie-simulate",
        {"linger.ms": 50, "batch.size": 1_000_000, "queue.buffering.max.messages": 2_000_000},
    )
    pacer = Pacer(scenario.start, args.speed) if args.speed > 0 else None
    stats = offer(
        producer,
        prepared.records,
        loops=args.loops,
        rate=args.rate,
        pacer=pacer,
        progress=None if args.quiet else _report,
    )
    print(
        f"offered {stats.offered} records in {stats.seconds:.1f}s ({stats.rate:,.0f}/s): "
        f"{stats.delivered} delivered, {stats.failed} failed",
        file=sys.stderr,
    )
    return 0 if stats.failed == 0 else 1


def _report(stats: OfferStats, total: int) -> None:
    print(
        f"\rproducing: {stats.offered}/{total} ({stats.rate:,.0f}/s, {stats.delivered} delivered)",
        end="\n" if stats.offered >= total else "",
        file=sys.stderr,
        flush=True,
    )


def iter_values(pool: tuple[Encoded, ...], loops: int) -> Iterator[tuple[str, bytes]]:
    """(topic, value) of every record offered by ``loops`` replays (for tests)."""
    for loop in range(loops):
        for rec in pool:
            yield rec.topic, with_loop(rec, loop)
