"""The benchmark's load: the simulated city, replayed loop after loop with time moving on.

The simulator's records are made once, exactly as the connectors make them (rendered into
the agencies' formats and parsed by the real parsers). A load run needs far more records
than one scenario holds, and replaying the same bytes would freeze event time (the watermark
would stop, timers would never fire and state would only grow), so loop ``k`` shifts every
event-time field of every record by ``k`` scenario lengths and suffixes its record id with
``~k``: each loop is a new stretch of the same city, later in time. The ingest clock is not
shifted; the scenario starts far enough in the past that no shifted time lies in the future.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.base import to_avro
from connectors.feeds import RAW_SCHEMAS, raw_topic
from vigie.config import Settings
from vigie.core.events import Source
from vigie.core.geo import CityGeometry
from vigie.core.normalize import Normalizer, Rejection, event_id_for, event_time_of
from vigie.core.rules import rules_for_city
from vigie.core.serde.catalogue import SchemaCatalogue
from vigie.core.serde.codec import AvroDeserializer, AvroSerializer
from vigie.sim.city import load_city
from vigie.sim.connect import parse_output
from vigie.sim.files import FileSink
from vigie.sim.scenario import ScenarioConfig, generate

DAY_MS = 86_400_000


def time_fields(schema: Any) -> frozenset[str]:
    """Names of the timestamp fields of an Avro schema (JSON), ``ingest_time`` aside."""
    found: set[str] = set()

    def walk(node: Any, name: str | None) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, name)
        elif isinstance(node, dict):
            logical = str(node.get("logicalType", ""))
            if logical.startswith("timestamp") and name is not None:
                found.add(name)
            if node.get("type") == "record":
                for field in node["fields"]:
                    walk(field["type"], field["name"])
            elif node.get("type") == "array":
                walk(node["items"], name)
            elif isinstance(node.get("type"), dict | list):
                walk(node["type"], name)

    walk(schema, None)
    return frozenset(found - {"ingest_time"})


def shifted(value: Any, fields: frozenset[str], by_ms: int) -> Any:
    """A copy of an Avro-ready record with every ``fields`` timestamp moved by ``by_ms``."""
    if isinstance(value, dict):
        return {
            k: (v + by_ms if k in fields and isinstance(v, int) else shifted(v, fields, by_ms))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [shifted(v, fields, by_ms) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class BaseRecord:
    """One raw record of the base scenario, ready to be shifted and encoded."""

    feed: str
    topic: str
    key: bytes
    record: dict[str, Any]
    publish_time: int


@dataclass(frozen=True, slots=True)
class Offer:
    """One record to produce, with the id of the event normalise will make of it."""

    topic: str
    key: bytes
    value: bytes
    event_id: str
    feed: str = ""
    base_id: str = ""  # the record id before the loop suffix: the same in every loop
    at: int = 0  # city time the agency published it, shifted like the event times
    event_time: int | None = None  # the Kafka timestamp, as the connectors stamp it


class CityLoad:
    """The base scenario and the encoder of its shifted loops."""

    def __init__(
        self,
        settings: Settings,
        *,
        seed: int = 0,
        hours: int = 12,
        # Within every topic's retention: records carry their event time as Kafka timestamp,
        # and raw.camera keeps 30 days, so older records would be deleted at the broker's
        # next retention check, possibly before the job has read them. 20 days leave room
        # for 240 loops of 2 city hours (a full `vigie bench` uses about 150).
        days_back: int = 20,
        loop_ms: int | None = None,
    ) -> None:
        self.settings = settings
        city = load_city(settings.city_dir)
        start = (int(time.time() * 1000) // DAY_MS - days_back) * DAY_MS
        config = ScenarioConfig(
            seed=seed, start_ms=start, duration_s=hours * 3600, incidents=50 * hours
        )
        scenario = generate(city, config)
        # Whole days between loops keep each loop's hours of the day (rules may use them).
        self.span_ms = loop_ms or config.duration_s * 1000
        self.max_loops = days_back * DAY_MS // self.span_ms - 1
        catalogue = SchemaCatalogue.load(settings.schemas_dir / "avro")
        self.serializer = AvroSerializer(catalogue)
        self.deserializer = AvroDeserializer(catalogue)
        self.normalizer = Normalizer(
            CityGeometry.load(settings.city_dir), rules_for_city(settings.city_dir)
        )
        schemas_dir = settings.schemas_dir / "avro" / "raw"
        self.fields = {
            feed: time_fields(json.loads((schemas_dir / f"{feed}.avsc").read_text()))
            for feed in RAW_SCHEMAS
        }
        placed: dict[tuple[str, int], Any] = {}
        records: list[tuple[int, BaseRecord]] = []
        with tempfile.TemporaryDirectory(prefix="vigie-bench-") as scratch:
            sink = FileSink(Path(scratch), city.timezone, placed=placed)
            for rec in scenario.records:
                sink.write(rec)
            sink.close()
            key = settings.pseudonym_key_bytes()
            for p in parse_output(Path(scratch), settings.city_dir, key, int(time.time() * 1000)):
                if p.rejected:
                    continue
                raw = p.result
                publish = placed[(raw.source_uri, raw.source_index)].publish_time
                base = BaseRecord(
                    p.feed, raw_topic(p.feed), raw.kafka_key().encode(), to_avro(raw), publish
                )
                records.append((publish, base))
        records.sort(key=lambda pair: pair[0])
        self.records = tuple(r for _, r in records)

    def offers(self, loop: int, tag: str = "") -> Iterator[Offer]:
        """Loop ``loop`` of the city: times shifted, record ids suffixed, Avro-encoded.

        ``tag`` goes into the suffix too, so two runs of the same loop make distinct ids.
        """
        if loop > self.max_loops:
            msg = f"loop {loop} would reach the future; start the scenario further back"
            raise ValueError(msg)
        by = loop * self.span_ms
        for base in self.records:
            record = shifted(base.record, self.fields[base.feed], by)
            base_id = str(record["record_id"])
            record_id = f"{base_id}~{tag}{loop}"
            record["record_id"] = record_id
            value = self.serializer.serialize(RAW_SCHEMAS[base.feed], record, topic=base.topic)
            event_id = event_id_for(Source(base.feed), record_id)
            at = base.publish_time + by
            yield Offer(
                base.topic, base.key, value, event_id, base.feed, base_id, at, self._time(value)
            )

    def _time(self, value: bytes) -> int | None:
        """The Kafka timestamp the connectors would stamp on the record (event_time_of)."""
        decoded = self.deserializer.deserialize(value)
        if isinstance(self.normalizer.normalize(decoded.schema_name, decoded.record), Rejection):
            return None
        return event_time_of(decoded.schema_name, decoded.record)

    def take(self, count: int, first_loop: int) -> tuple[list[Offer], int]:
        """``count`` encoded offers from ``first_loop`` on, and the next unused loop."""
        out: list[Offer] = []
        loop = first_loop
        while len(out) < count:
            for offer in self.offers(loop):
                out.append(offer)
                if len(out) == count:
                    break
            loop += 1
        return out, loop
