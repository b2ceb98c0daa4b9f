"""Properties of the serde over every schema in the catalogue.

Records are generated from each schema itself (so a new schema file is covered the moment it
is added), encoded in both framings and decoded back; arbitrary and mutated bytes must only
ever raise ``SerdeError`` with one of the documented reasons.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigie.config import REPO_ROOT
from vigie.core.serde import (
    SERDE_REASONS,
    AvroDeserializer,
    AvroSerializer,
    Framing,
    InMemoryRegistry,
    SchemaCatalogue,
    SerdeError,
)

pytestmark = pytest.mark.unit

CATALOGUE = SchemaCatalogue.load(REPO_ROOT / "schemas" / "avro")
NAMES = sorted(CATALOGUE.current)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_INT32 = st.integers(-(2**31), 2**31 - 1)
_INT64 = st.integers(-(2**63), 2**63 - 1)
_MS = st.integers(-2_208_988_800_000, 7_258_118_400_000)  # 1900 .. 2200


def strategy_for(schema: Any, names: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    """Values of an (expanded) Avro schema, as fastavro returns them when reading."""
    names = {} if names is None else names
    if isinstance(schema, list):
        return st.one_of([strategy_for(branch, names) for branch in schema])
    if isinstance(schema, str):
        if schema in names:
            return st.deferred(lambda: strategy_for(names[schema], names))
        return _primitive(schema)
    logical = schema.get("logicalType")
    kind = schema["type"]
    if logical is not None:
        return _logical(logical, schema)
    if kind in ("record", "error"):
        names[schema["name"]] = schema
        fields = {f["name"]: strategy_for(f["type"], names) for f in schema["fields"]}
        return st.fixed_dictionaries(fields)
    if kind == "enum":
        names[schema["name"]] = schema
        return st.sampled_from(schema["symbols"])
    if kind == "fixed":
        names[schema["name"]] = schema
        return st.binary(min_size=schema["size"], max_size=schema["size"])
    if kind == "array":
        return st.lists(strategy_for(schema["items"], names), max_size=4)
    if kind == "map":
        return st.dictionaries(
            st.text(max_size=8), strategy_for(schema["values"], names), max_size=4
        )
    return strategy_for(kind, names)


def _primitive(name: str) -> st.SearchStrategy[Any]:
    return {
        "null": st.none(),
        "boolean": st.booleans(),
        "int": _INT32,
        "long": _INT64,
        "float": st.floats(width=32, allow_nan=False),
        "double": st.floats(allow_nan=False),
        "bytes": st.binary(max_size=16),
        "string": st.text(max_size=16),
    }[name]


def _logical(logical: str, schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if logical == "timestamp-millis":
        return _MS.map(lambda ms: EPOCH + timedelta(milliseconds=ms))
    if logical == "timestamp-micros":
        return _MS.map(lambda ms: EPOCH + timedelta(microseconds=ms * 1000 + 7))
    if logical == "date":
        return st.dates(date(1900, 1, 1), date(2200, 1, 1))
    if logical == "time-millis":
        return st.times().map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))
    if logical == "time-micros":
        return st.times()
    if logical == "uuid":
        return st.uuids()
    if logical == "decimal":
        scale = int(schema.get("scale", 0))
        digits = int(schema.get("precision", 9))
        bound = 10**digits - 1
        return st.integers(-bound, bound).map(lambda n: Decimal(n).scaleb(-scale))
    msg = f"add a strategy for logical type {logical!r} to this test"
    raise AssertionError(msg)


def test_the_catalogue_holds_the_shared_schemas() -> None:
    for name in (
        "org.vigie.v1.NormalizedEvent",
        "org.vigie.v1.Incident",
        "org.vigie.v1.IncidentAck",
    ):
        assert name in CATALOGUE


ALL_TYPES = {
    "type": "record",
    "name": "AllTypes",
    "namespace": "org.vigie.test",
    "fields": [
        {"name": n, "type": t}
        for n, t in [
            ("b", "boolean"),
            ("f", "float"),
            ("by", "bytes"),
            ("fx", {"type": "fixed", "name": "Four", "size": 4}),
            ("d", {"type": "int", "logicalType": "date"}),
            ("tm", {"type": "int", "logicalType": "time-millis"}),
            ("tu", {"type": "long", "logicalType": "time-micros"}),
            ("tsu", {"type": "long", "logicalType": "timestamp-micros"}),
            ("u", {"type": "string", "logicalType": "uuid"}),
            ("dec", {"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2}),
            ("m", {"type": "map", "values": ["null", "Four"]}),
        ]
    ],
}


@PROPS
@given(st.data())
def test_the_generator_covers_every_type_a_feed_schema_may_use(data: st.DataObject) -> None:
    """Raw feed schemas may use any Avro type: the generator must round-trip them all."""
    catalogue = SchemaCatalogue.from_documents({Path("AllTypes.avsc"): ALL_TYPES})
    schema = catalogue.get("org.vigie.test.AllTypes")
    record = data.draw(strategy_for(schema.expanded))
    encoded = AvroSerializer(catalogue).serialize(schema.name, record)
    assert AvroDeserializer(catalogue).deserialize(encoded, reader=schema.name).record == record


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("framing", list(Framing))
def test_every_schema_round_trips_through_both_framings(name: str, framing: Framing) -> None:
    schema = CATALOGUE.get(name)
    registry = InMemoryRegistry()
    serializer = AvroSerializer(CATALOGUE, framing, registry)
    deserializer = AvroDeserializer(CATALOGUE, registry)

    @PROPS
    @given(strategy_for(schema.expanded))
    def round_trip(record: Any) -> None:
        data = serializer.serialize(name, record, topic="t")
        assert data[:2] == b"\xc3\x01" if framing is Framing.SINGLE_OBJECT else data[0] == 0
        decoded = deserializer.deserialize(data, reader=name)
        assert decoded.record == record
        assert decoded.schema_name == name
        assert decoded.framing is framing
        assert deserializer.deserialize(data).record == record  # writer's own shape

    round_trip()


def _expect_serde_error(deserializer: AvroDeserializer, data: bytes, reader: str | None) -> None:
    for logical_types in (True, False):
        try:
            deserializer.deserialize(data, reader=reader, logical_types=logical_types)
        except SerdeError as exc:
            assert exc.reason in SERDE_REASONS
            assert exc.reason != "invalid_record"  # that one is for writing


@PROPS
@given(st.binary(max_size=64), st.sampled_from([None, *NAMES]))
def test_arbitrary_bytes_raise_only_serde_error(data: bytes, reader: str | None) -> None:
    registry = InMemoryRegistry()
    registry.register("s", CATALOGUE.get("org.vigie.v1.IncidentAck").json)
    _expect_serde_error(AvroDeserializer(CATALOGUE, registry), data, reader)


@pytest.mark.parametrize("name", NAMES)
def test_valid_headers_with_garbage_bodies_raise_only_serde_error(name: str) -> None:
    schema = CATALOGUE.get(name)
    registry = InMemoryRegistry()
    schema_id = registry.register("s", schema.json)
    deserializer = AvroDeserializer(CATALOGUE, registry)
    headers = [b"\xc3\x01" + schema.fingerprint, b"\x00" + schema_id.to_bytes(4, "big")]

    @PROPS
    @given(st.sampled_from(headers), st.binary(max_size=96))
    def garbage(header: bytes, body: bytes) -> None:
        _expect_serde_error(deserializer, header + body, name)

    garbage()


@pytest.mark.parametrize("name", NAMES)
def test_mutated_valid_messages_raise_only_serde_error(name: str) -> None:
    schema = CATALOGUE.get(name)
    serializer = AvroSerializer(CATALOGUE)
    deserializer = AvroDeserializer(CATALOGUE)

    @PROPS
    @given(strategy_for(schema.expanded), st.data())
    def mutated(record: Any, data: st.DataObject) -> None:
        good = serializer.serialize(name, record)
        cut = data.draw(st.integers(0, len(good) - 1))
        with pytest.raises(SerdeError) as truncated:
            deserializer.deserialize(good[:cut], reader=name)
        assert truncated.value.reason == "truncated"
        pos = data.draw(st.integers(0, len(good) - 1))
        flip = data.draw(st.integers(1, 255))
        bad = good[:pos] + bytes([good[pos] ^ flip]) + good[pos + 1 :]
        _expect_serde_error(deserializer, bad, name)
        _expect_serde_error(deserializer, good + data.draw(st.binary(min_size=1, max_size=8)), name)

    mutated()
