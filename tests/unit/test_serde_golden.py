"""Exact bytes of both framings: a change here is a wire-format change, never a refactor."""

from __future__ import annotations

import pytest
from fastavro.schema import fingerprint as fastavro_fingerprint
from hypothesis import given, settings
from hypothesis import strategies as st

from vigie.config import REPO_ROOT
from vigie.core.serde import (
    AvroDeserializer,
    AvroSerializer,
    Framing,
    InMemoryRegistry,
    SchemaCatalogue,
    crc64_avro,
    fingerprint_bytes,
)

pytestmark = pytest.mark.unit

CATALOGUE = SchemaCatalogue.load(REPO_ROOT / "schemas" / "avro")

ACK = {
    "ack_id": "6f1c2e7a-0b5d-4c1e-9a3f-2d8e4b7c1a90",
    "incident_id": "inc-1",
    "action": "assign",
    "operator": "op7",
    "at": 1_700_000_000_000,
    "assignee": "unit-12",
    "note": None,
}
ACK_BODY = "".join(
    [
        "48" + b"6f1c2e7a-0b5d-4c1e-9a3f-2d8e4b7c1a90".hex(),  # ack_id: length 36 -> zigzag 72
        "0a" + b"inc-1".hex(),  # incident_id
        "02",  # action: symbol index 1 (assign)
        "06" + b"op7".hex(),  # operator
        "80a0abfef962",  # at: 1_700_000_000_000 as a zigzag varint
        "02" + "0e" + b"unit-12".hex(),  # assignee: union branch 1 (string), length 7
        "00",  # note: union branch 0 (null)
    ]
)
LINK = {"event_a": "a", "event_b": "b", "rule": "r", "distance_m": 12.5, "time_gap_ms": -3}
LINK_BODY = "026102620272000000000000294005"  # 12.5 LE double; -3 -> zigzag 5


@pytest.mark.parametrize(
    ("text", "signed"),
    [
        # Values from the Avro specification's schema test data (share/test/data).
        ('"null"', 7195948357588979594),
        ('"int"', 8247732601305521295),
        ('"string"', -8142146995180207161),
    ],
)
def test_crc64_avro_matches_the_specification_test_vectors(text: str, signed: int) -> None:
    assert crc64_avro(text.encode()) == signed % (1 << 64)
    assert fingerprint_bytes(text) == (signed % (1 << 64)).to_bytes(8, "little")


@pytest.mark.parametrize(
    ("name", "fingerprint_hex"),
    [
        ("org.vigie.v1.Role", "751a05c69673b755"),
        ("org.vigie.v1.Source", "da18e85575575bff"),
        ("org.vigie.v1.Status", "9b3adb8e93ab046b"),
        ("org.vigie.v1.AckAction", "505b8f8b29d604e6"),
        ("org.vigie.v1.LinkEvidence", "b07a922b00cb119e"),
        ("org.vigie.v1.IncidentContext", "e587dedbbb3e7793"),
        ("org.vigie.v1.IncidentAck", "ef6cf48c60213633"),
        ("org.vigie.v1.NormalizedEvent", "ca7239450c4b8df1"),
        ("org.vigie.v1.Incident", "a7612f2bc17e27bf"),
    ],
)
def test_fingerprints_of_the_shared_schemas(name: str, fingerprint_hex: str) -> None:
    """A changed fingerprint means a changed schema: archive the old one (see docs/serde.md)."""
    assert CATALOGUE.get(name).fingerprint.hex() == fingerprint_hex


@pytest.mark.parametrize(
    ("name", "record", "expected_hex"),
    [
        ("org.vigie.v1.Role", "context", "c301751a05c69673b75502"),
        ("org.vigie.v1.Status", "open", "c3019b3adb8e93ab046b00"),
        ("org.vigie.v1.LinkEvidence", LINK, "c301b07a922b00cb119e" + LINK_BODY),
        ("org.vigie.v1.IncidentAck", ACK, "c301ef6cf48c60213633" + ACK_BODY),
    ],
)
def test_single_object_golden_bytes(name: str, record: object, expected_hex: str) -> None:
    data = AvroSerializer(CATALOGUE).serialize(name, record)
    assert data.hex() == expected_hex
    decoded = AvroDeserializer(CATALOGUE).deserialize(data)
    assert decoded.schema_name == name
    assert decoded.framing is Framing.SINGLE_OBJECT


@pytest.mark.parametrize(
    ("records", "expected_hex"),
    [
        # ids are given by the registry in registration order, from 1
        ([("org.vigie.v1.Role", "context")], ["000000000102"]),
        (
            [("org.vigie.v1.LinkEvidence", LINK), ("org.vigie.v1.IncidentAck", ACK)],
            ["0000000001" + LINK_BODY, "0000000002" + ACK_BODY],
        ),
    ],
)
def test_confluent_golden_bytes(records: list[tuple[str, object]], expected_hex: list[str]) -> None:
    registry = InMemoryRegistry()
    serializer = AvroSerializer(CATALOGUE, Framing.CONFLUENT, registry)
    out = [serializer.serialize(name, record, topic="t").hex() for name, record in records]
    assert out == expected_hex
    deserializer = AvroDeserializer(CATALOGUE, registry)
    for (name, _), data in zip(records, out, strict=True):
        decoded = deserializer.deserialize(bytes.fromhex(data))
        assert (decoded.schema_name, decoded.framing) == (name, Framing.CONFLUENT)


def test_confluent_subject_is_topic_name_strategy() -> None:
    registry = InMemoryRegistry()
    AvroSerializer(CATALOGUE, Framing.CONFLUENT, registry).serialize(
        "org.vigie.v1.Role", "context", topic="incidents"
    )
    schema = CATALOGUE.get("org.vigie.v1.Role").json
    assert registry.lookup("incidents-value", schema) == 1
    assert registry.lookup("other-value", schema) is None


def test_large_schema_ids_are_big_endian() -> None:
    registry = InMemoryRegistry()
    serializer = AvroSerializer(CATALOGUE, Framing.CONFLUENT, registry)
    for i in range(0x1FF):  # fill ids 1..0x1FF with distinct schema texts
        registry.register("filler", f'{{"type":"enum","name":"E{i}","symbols":["a"]}}')
    data = serializer.serialize("org.vigie.v1.Role", "evidence", topic="t")
    assert data.hex() == "000000020000"


def test_one_reader_takes_both_framings_side_by_side() -> None:
    """A topic can move from one framing to the other: old and new messages both decode."""
    registry = InMemoryRegistry()
    single = AvroSerializer(CATALOGUE).serialize("org.vigie.v1.LinkEvidence", LINK)
    confluent = AvroSerializer(CATALOGUE, Framing.CONFLUENT, registry).serialize(
        "org.vigie.v1.LinkEvidence", LINK, topic="t"
    )
    deserializer = AvroDeserializer(CATALOGUE, registry)
    decoded = [deserializer.deserialize(d, reader="LinkEvidence") for d in (single, confluent)]
    assert [d.framing for d in decoded] == [Framing.SINGLE_OBJECT, Framing.CONFLUENT]
    assert [d.record for d in decoded] == [LINK, LINK]


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_crc64_agrees_with_fastavro_on_any_text(text: str) -> None:
    """An independent implementation, whose hex string is in wire (little-endian) order."""
    assert fingerprint_bytes(text).hex() == fastavro_fingerprint(text, "CRC-64-AVRO")
