"""Dataclass <-> record conversions, schema evolution, the catalogue, and named bad inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigie.config import REPO_ROOT
from vigie.core.events import (
    AckAction,
    Incident,
    IncidentAck,
    IncidentContext,
    LinkEvidence,
    NormalizedEvent,
    Role,
    Source,
    Status,
)
from vigie.core.serde import (
    INCIDENT,
    INCIDENT_ACK,
    NORMALIZED_EVENT,
    AvroDeserializer,
    AvroSerializer,
    Framing,
    InMemoryRegistry,
    SchemaCatalogue,
    SchemaCatalogueError,
    SerdeError,
    ack_to_record,
    event_to_record,
    incident_to_record,
    record_to_ack,
    record_to_event,
    record_to_incident,
)

pytestmark = pytest.mark.unit

CATALOGUE = SchemaCatalogue.load(REPO_ROOT / "schemas" / "avro")
PROPS = settings(max_examples=80, deadline=None)

ms = st.integers(-2_208_988_800_000, 7_258_118_400_000)
text = st.text(max_size=12)
ids = st.text(min_size=1, max_size=12)
num = st.floats(allow_nan=False)
opt_text = st.none() | text
opt_ms = st.none() | ms

events = st.builds(
    NormalizedEvent,
    event_id=ids,
    source=st.sampled_from(Source),
    kind=text,
    role=st.sampled_from(Role),
    event_time=ms,
    ingest_time=ms,
    lon=num,
    lat=num,
    x=num,
    y=num,
    uncertainty_m=num,
    sector=opt_text,
    source_ref=text,
    attributes=st.dictionaries(text, text, max_size=3),
    area_wkt=opt_text,
    valid_from=opt_ms,
    valid_until=opt_ms,
)
links = st.builds(
    LinkEvidence,
    event_a=ids,
    event_b=ids,
    rule=text,
    distance_m=num,
    time_gap_ms=st.integers(-(2**63), 2**63 - 1),
)
tuples = st.lists(text, max_size=3).map(tuple)
contexts = st.builds(
    IncidentContext,
    weather_alerts=tuples,
    weather_observation=opt_text,
    permits=tuples,
    affected_lines=tuples,
)
incidents = st.builds(
    Incident,
    incident_id=ids,
    version=st.integers(1, 2**31 - 1),
    status=st.sampled_from(Status),
    category=text,
    severity=st.integers(1, 5),
    confidence=st.floats(0, 1),
    first_event_time=ms,
    last_event_time=ms,
    created_at=ms,
    updated_at=ms,
    lon=num,
    lat=num,
    sector=opt_text,
    sources=st.lists(st.sampled_from(Source), max_size=6).map(tuple),
    kinds=tuples,
    event_ids=tuples,
    links=st.lists(links, max_size=3).map(tuple),
    context=contexts,
    merged_into=opt_text,
    explanation=opt_text,
)
acks = st.builds(
    IncidentAck,
    ack_id=st.uuids().map(str),
    incident_id=ids,
    action=st.sampled_from(AckAction),
    operator=ids,
    at=ms,
    assignee=opt_text,
    note=opt_text,
)

CASES = [
    (events, NORMALIZED_EVENT, event_to_record, record_to_event),
    (incidents, INCIDENT, incident_to_record, record_to_incident),
    (acks, INCIDENT_ACK, ack_to_record, record_to_ack),
]


@pytest.mark.parametrize(("values", "name", "to_record", "from_record"), CASES)
@pytest.mark.parametrize("framing", list(Framing))
def test_dataclasses_round_trip_through_avro(
    values: st.SearchStrategy[Any], name: str, to_record: Any, from_record: Any, framing: Framing
) -> None:
    registry = InMemoryRegistry()
    serializer = AvroSerializer(CATALOGUE, framing, registry)
    deserializer = AvroDeserializer(CATALOGUE, registry)

    @PROPS
    @given(values)
    def round_trip(value: Any) -> None:
        data = serializer.serialize(name, to_record(value), topic="t")
        assert from_record(deserializer.deserialize(data, reader=name).record) == value
        plain = deserializer.deserialize(data, reader=name, logical_types=False).record
        assert from_record(plain) == value
        assert plain == to_record(value)  # ints for instants, text for UUIDs

    round_trip()


def test_the_avro_schemas_mirror_the_dataclasses_field_for_field() -> None:
    for cls, name in [
        (NormalizedEvent, NORMALIZED_EVENT),
        (Incident, INCIDENT),
        (IncidentAck, INCIDENT_ACK),
        (LinkEvidence, "org.vigie.v1.LinkEvidence"),
        (IncidentContext, "org.vigie.v1.IncidentContext"),
    ]:
        fields = [f["name"] for f in CATALOGUE.get(name).expanded["fields"]]
        assert fields == list(cls.__slots__), name
    for enum_cls, name in [
        (Source, "Source"),
        (Role, "Role"),
        (Status, "Status"),
        (AckAction, "AckAction"),
    ]:
        symbols = CATALOGUE.get(f"org.vigie.v1.{name}").expanded["symbols"]
        assert [m.value for m in enum_cls] == [s for s in symbols if s != "unknown"]


def test_every_shared_field_and_type_is_documented() -> None:
    for name in CATALOGUE:
        if not name.startswith("org.vigie.v1."):
            continue
        schema = CATALOGUE.get(name).expanded
        assert schema.get("doc"), name
        for field in schema.get("fields", []):
            assert field.get("doc"), f"{name}.{field['name']}"
        if schema["type"] == "enum":
            assert schema.get("default") in schema["symbols"], name


def test_a_symbol_this_reader_does_not_know_is_rejected_as_invalid_body() -> None:
    record = event_to_record(
        NormalizedEvent(
            "e", Source.CAMERA, "gunshot", Role.EVIDENCE, 0, 1, 5.4, 43.3, 0, 0, 10, None, "r"
        )
    )
    record["source"] = "unknown"
    with pytest.raises(SerdeError) as err:
        record_to_event(record)
    assert err.value.reason == "invalid_body"
    record["source"] = "camera"
    del record["kind"]
    with pytest.raises(SerdeError, match="kind"):
        record_to_event(record)


def test_ack_ids_must_be_uuids() -> None:
    ack = IncidentAck("not-a-uuid", "inc", AckAction.ACK, "op", 0)
    with pytest.raises(SerdeError) as err:
        ack_to_record(ack)
    assert err.value.reason == "invalid_record"


def test_a_record_that_does_not_match_its_schema_is_invalid_record() -> None:
    with pytest.raises(SerdeError) as err:
        AvroSerializer(CATALOGUE).serialize(INCIDENT, {"incident_id": "x"})
    assert err.value.reason == "invalid_record"


# --- evolution -------------------------------------------------------------------------

V1 = {
    "type": "record",
    "name": "Reading",
    "namespace": "org.vigie.test",
    "fields": [
        {"name": "id", "type": "string"},
        {
            "name": "level",
            "type": {"type": "enum", "name": "Level", "symbols": ["low", "high"], "default": "low"},
        },
    ],
}
V2 = {
    "type": "record",
    "name": "Reading",
    "namespace": "org.vigie.test",
    "fields": [
        {"name": "id", "type": "string"},
        {
            "name": "level",
            "type": {
                "type": "enum",
                "name": "Level",
                "symbols": ["low", "high", "extreme"],
                "default": "low",
            },
        },
        {"name": "note", "type": ["null", "string"], "default": None},
    ],
}


def _catalogue(current: Any, archived: Any | None = None) -> SchemaCatalogue:
    history = {Path("history/Reading/v.avsc"): archived} if archived else {}
    return SchemaCatalogue.from_documents({Path("Reading.avsc"): current}, history)


def test_new_reader_fills_defaults_for_bytes_written_with_an_archived_schema() -> None:
    old_writer = _catalogue(V1)
    new_reader = _catalogue(V2, archived=V1)
    data = AvroSerializer(old_writer).serialize("Reading", {"id": "a", "level": "high"})
    decoded = AvroDeserializer(new_reader).deserialize(data, reader="Reading")
    assert decoded.record == {"id": "a", "level": "high", "note": None}


def test_old_reader_maps_a_new_symbol_to_the_enum_default_and_skips_new_fields() -> None:
    new_writer = _catalogue(V2)
    old_reader = _catalogue(V1, archived=V2)
    data = AvroSerializer(new_writer).serialize(
        "Reading", {"id": "a", "level": "extreme", "note": "n"}
    )
    decoded = AvroDeserializer(old_reader).deserialize(data, reader="Reading")
    assert decoded.record == {"id": "a", "level": "low"}


def test_an_unarchived_old_writer_is_unknown_schema_in_single_object_framing() -> None:
    data = AvroSerializer(_catalogue(V1)).serialize("Reading", {"id": "a", "level": "low"})
    with pytest.raises(SerdeError) as err:
        AvroDeserializer(_catalogue(V2)).deserialize(data, reader="Reading")
    assert err.value.reason == "unknown_schema"


def test_the_registry_resolves_old_writers_in_confluent_framing() -> None:
    registry = InMemoryRegistry()
    data = AvroSerializer(_catalogue(V1), Framing.CONFLUENT, registry).serialize(
        "Reading", {"id": "a", "level": "high"}, topic="readings"
    )
    decoded = AvroDeserializer(_catalogue(V2), registry).deserialize(data, reader="Reading")
    assert decoded.record == {"id": "a", "level": "high", "note": None}


def test_unresolvable_writer_and_reader_is_incompatible_schema() -> None:
    other = {"type": "record", "name": "Other", "namespace": "org.vigie.test", "fields": []}
    catalogue = SchemaCatalogue.from_documents(
        {Path("Reading.avsc"): V1, Path("Other.avsc"): other}
    )
    data = AvroSerializer(catalogue).serialize("Reading", {"id": "a", "level": "low"})
    with pytest.raises(SerdeError) as err:
        AvroDeserializer(catalogue).deserialize(data, reader="Other")
    assert err.value.reason == "incompatible_schema"


# --- catalogue ---------------------------------------------------------------------------


def test_references_across_files_resolve_in_any_order(tmp_path: Path) -> None:
    enum = {"type": "enum", "name": "Colour", "namespace": "t", "symbols": ["red"]}
    record = {"type": "record", "name": "Car", "namespace": "t", "fields": [
        {"name": "colour", "type": "t.Colour"}
    ]}  # fmt: skip
    (tmp_path / "a_Car.avsc").write_text(json.dumps(record))
    (tmp_path / "z_Colour.avsc").write_text(json.dumps(enum))
    catalogue = SchemaCatalogue.load(tmp_path)
    assert catalogue.get("t.Car").expanded["fields"][0]["type"]["symbols"] == ["red"]
    assert catalogue.files[tmp_path / "a_Car.avsc"] == "t.Car"


def test_an_undefined_reference_names_the_file(tmp_path: Path) -> None:
    record = {"type": "record", "name": "Car", "fields": [{"name": "c", "type": "t.Nope"}]}
    (tmp_path / "Car.avsc").write_text(json.dumps(record))
    with pytest.raises(SchemaCatalogueError, match=r"Car\.avsc"):
        SchemaCatalogue.load(tmp_path)


@pytest.mark.parametrize(
    "items",
    [
        "null",
        {"type": "record", "name": "Empty", "fields": []},
        {"type": "fixed", "name": "Z", "size": 0},
    ],
)
def test_arrays_of_zero_byte_items_are_refused(items: Any) -> None:
    schema = {"type": "record", "name": "Bomb", "fields": [
        {"name": "xs", "type": {"type": "array", "items": items}}
    ]}  # fmt: skip
    with pytest.raises(SchemaCatalogueError, match="zero bytes"):
        SchemaCatalogue.from_documents({Path("Bomb.avsc"): schema})


# --- named bad inputs ------------------------------------------------------------------

_ACK_FP = CATALOGUE.get(INCIDENT_ACK).fingerprint
_ROLE_FP = CATALOGUE.get("org.vigie.v1.Role").fingerprint
_LINK_FP = CATALOGUE.get("org.vigie.v1.LinkEvidence").fingerprint


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "truncated"),
        (b"\xc3", "truncated"),
        (b"\xc3\x02" + _ROLE_FP + b"\x00", "bad_magic"),
        (b"\xc3\x01" + _ROLE_FP[:7], "truncated"),
        (b"\xc3\x01" + bytes(8) + b"\x00", "unknown_schema"),
        (b"\xc3\x01" + _ROLE_FP, "truncated"),  # header only, no body
        (b"\xc3\x01" + _ROLE_FP + b"\x04", "invalid_body"),  # enum index 2 of 2 symbols
        (b"\xc3\x01" + _ROLE_FP + b"\x02\x00", "invalid_body"),  # trailing byte
        (b"\xc3\x01" + _LINK_FP + b"\x02\xff", "invalid_body"),  # invalid UTF-8
        (b"\xc3\x01" + _LINK_FP + b"\x0aab", "truncated"),  # string cut short
        (b"\xc3\x01" + _LINK_FP + b"\x02a\x02b\x02r" + bytes(8) + b"\x80", "truncated"),
        (b"\x00\x00\x00", "truncated"),
        (b"\x00\x00\x00\x00\x63\x00", "unknown_schema"),  # id 99 not in the registry
        (b'{"event_id": 1}', "bad_magic"),
        (b"\xff\xff", "bad_magic"),
    ],
)
def test_named_bad_inputs_map_to_their_reason(data: bytes, reason: str) -> None:
    deserializer = AvroDeserializer(CATALOGUE, InMemoryRegistry())
    with pytest.raises(SerdeError) as err:
        deserializer.deserialize(data)
    assert err.value.reason == reason


def test_confluent_bytes_without_a_registry_are_unknown_schema() -> None:
    with pytest.raises(SerdeError) as err:
        AvroDeserializer(CATALOGUE).deserialize(b"\x00\x00\x00\x00\x01\x02")
    assert err.value.reason == "unknown_schema"


def test_serde_errors_never_carry_the_record_content() -> None:
    secret = "AB-123-CD"
    data = AvroSerializer(CATALOGUE).serialize(
        "org.vigie.v1.LinkEvidence",
        {"event_a": secret, "event_b": "b", "rule": "r", "distance_m": 1.0, "time_gap_ms": 1},
    )
    with pytest.raises(SerdeError) as err:
        AvroDeserializer(CATALOGUE).deserialize(data + b"\x00")
    assert secret not in str(err.value)
