"""Avro encoding and decoding in both framings, with writer/reader schema resolution.

Two framings carry the writer schema's identity in front of the Avro binary body:

- **single-object encoding** (Avro specification): ``C3 01`` + the 8-byte little-endian
  CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form + body. Resolved
  against the schemas shipped in ``schemas/avro`` (and their archived versions): no service
  needed. This is the local default.
- **Confluent wire format**: ``00`` + 4-byte big-endian schema id + body. Resolved through a
  schema registry (:class:`~vigie.core.serde.registry.SchemaRegistry`).

The deserializer looks at the first byte to tell them apart, so a topic can move from one
framing to the other without a flag day. fastavro encodes the body (``schemaless_writer`` /
``schemaless_reader``); fastavro does not write single-object framing itself.

Every decoding failure becomes :class:`SerdeError` with a reason; nothing else escapes, so a
job can send any bad record to its dead-letter topic and carry on.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastavro import schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError

from vigie.core.serde.catalogue import CatalogueSchema, SchemaCatalogue, parse_standalone
from vigie.core.serde.errors import SerdeError
from vigie.core.serde.registry import SchemaRegistry

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"
SINGLE_OBJECT_HEADER_SIZE = 10  # C3 01 + 8-byte fingerprint
CONFLUENT_HEADER_SIZE = 5  # 00 + 4-byte schema id


class Framing(StrEnum):
    """How the writer schema is identified in front of the Avro body."""

    SINGLE_OBJECT = "single-object"
    CONFLUENT = "confluent"


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded record, the writer schema's name and the framing it came in."""

    schema_name: str
    record: Any
    framing: Framing


def encode_body(schema: CatalogueSchema, record: Any) -> bytes:
    """The Avro binary encoding of one record (no framing)."""
    out = io.BytesIO()
    try:
        schemaless_writer(out, schema.parsed, record)
    except Exception as exc:  # fastavro raises ValueError, TypeError, KeyError, OverflowError...
        msg = f"record does not match {schema.name}: {type(exc).__name__}: {exc}"
        raise SerdeError("invalid_record", msg) from exc
    return out.getvalue()


def frame_single_object(fingerprint: bytes, body: bytes) -> bytes:
    """C3 01 + fingerprint (8 bytes, little-endian) + body."""
    if len(fingerprint) != 8:
        msg = f"a CRC-64-AVRO fingerprint is 8 bytes, got {len(fingerprint)}"
        raise ValueError(msg)
    return SINGLE_OBJECT_MAGIC + fingerprint + body


def frame_confluent(schema_id: int, body: bytes) -> bytes:
    """00 + schema id (4 bytes, big-endian) + body."""
    return CONFLUENT_MAGIC + schema_id.to_bytes(4, "big", signed=False) + body


def subject_for(topic: str | None, schema_name: str) -> str:
    """Confluent's TopicNameStrategy (``<topic>-value``), RecordNameStrategy without a topic."""
    return f"{topic}-value" if topic else schema_name


class AvroSerializer:
    """Encodes records of catalogue schemas in one framing."""

    def __init__(
        self,
        catalogue: SchemaCatalogue,
        framing: Framing = Framing.SINGLE_OBJECT,
        registry: SchemaRegistry | None = None,
        *,
        auto_register: bool = True,
    ) -> None:
        if framing is Framing.CONFLUENT and registry is None:
            msg = "the Confluent wire format needs a schema registry"
            raise ValueError(msg)
        self.catalogue = catalogue
        self.framing = framing
        self._registry = registry
        self._auto_register = auto_register
        self._ids: dict[tuple[str, bytes], int] = {}

    def serialize(self, schema_name: str, record: Any, *, topic: str | None = None) -> bytes:
        """Frame and encode ``record`` with the current schema ``schema_name``.

        ``topic`` picks the registry subject (``<topic>-value``) in the Confluent framing.
        """
        schema = self.catalogue.get(schema_name)
        body = encode_body(schema, record)
        if self.framing is Framing.SINGLE_OBJECT:
            return frame_single_object(schema.fingerprint, body)
        return frame_confluent(self.schema_id(schema, subject_for(topic, schema.name)), body)

    def schema_id(self, schema: CatalogueSchema, subject: str) -> int:
        """The registry id of ``schema`` under ``subject``, registering it if allowed."""
        key = (subject, schema.fingerprint)
        cached = self._ids.get(key)
        if cached is not None:
            return cached
        assert self._registry is not None  # checked in __init__
        if self._auto_register:
            schema_id = self._registry.register(subject, schema.json)
        else:
            found = self._registry.lookup(subject, schema.json)
            if found is None:
                msg = f"{schema.name} is not registered under subject {subject!r}"
                raise SerdeError("unknown_schema", msg)
            schema_id = found
        self._ids[key] = schema_id
        return schema_id


class AvroDeserializer:
    """Decodes either framing, resolving the writer schema against a reader schema."""

    def __init__(self, catalogue: SchemaCatalogue, registry: SchemaRegistry | None = None) -> None:
        self.catalogue = catalogue
        self._registry = registry
        self._by_id: dict[int, CatalogueSchema] = {}

    def deserialize(
        self, data: bytes, reader: str | None = None, *, logical_types: bool = True
    ) -> Decoded:
        """Decode framed bytes; ``reader`` names the current schema to resolve into.

        Without ``reader`` the record comes out in the writer's own shape. With
        ``logical_types=False`` timestamps stay integer milliseconds and UUIDs text, which is
        what the ``record_to_*`` conversions want, at about half the decoding cost.
        """
        writer, framing, offset = self._writer(data)
        reader_schema = None
        if reader is not None:
            try:
                reader_schema = self.catalogue.get(reader)
            except KeyError as exc:
                raise SerdeError("unknown_schema", str(exc)) from exc
        if reader_schema is not None and reader_schema.fingerprint == writer.fingerprint:
            reader_schema = None  # same canonical form: resolution would change nothing
        record = decode_body(data[offset:], writer, reader_schema, logical_types=logical_types)
        return Decoded(schema_name=writer.name, record=record, framing=framing)

    def _writer(self, data: bytes) -> tuple[CatalogueSchema, Framing, int]:
        if not data:
            raise SerdeError("truncated", "empty message")
        first = data[0]
        if first == SINGLE_OBJECT_MAGIC[0]:
            if len(data) < 2:
                raise SerdeError("truncated", "single-object header cut after C3")
            if data[1] != SINGLE_OBJECT_MAGIC[1]:
                msg = f"C3 followed by {data[1]:02X}, expected 01"
                raise SerdeError("bad_magic", msg)
            if len(data) < SINGLE_OBJECT_HEADER_SIZE:
                raise SerdeError("truncated", "single-object header shorter than 10 bytes")
            fingerprint = bytes(data[2:SINGLE_OBJECT_HEADER_SIZE])
            writer = self.catalogue.writer(fingerprint)
            if writer is None:
                msg = f"no schema has fingerprint {fingerprint.hex()} (little-endian)"
                raise SerdeError("unknown_schema", msg)
            return writer, Framing.SINGLE_OBJECT, SINGLE_OBJECT_HEADER_SIZE
        if first == CONFLUENT_MAGIC[0]:
            if len(data) < CONFLUENT_HEADER_SIZE:
                raise SerdeError("truncated", "Confluent header shorter than 5 bytes")
            schema_id = int.from_bytes(data[1:CONFLUENT_HEADER_SIZE], "big")
            return self._by_registry_id(schema_id), Framing.CONFLUENT, CONFLUENT_HEADER_SIZE
        msg = f"first byte {first:02X} is neither C3 (single-object) nor 00 (Confluent)"
        raise SerdeError("bad_magic", msg)

    def _by_registry_id(self, schema_id: int) -> CatalogueSchema:
        cached = self._by_id.get(schema_id)
        if cached is not None:
            return cached
        if self._registry is None:
            msg = f"schema id {schema_id} needs a registry, and none is configured"
            raise SerdeError("unknown_schema", msg)
        text = self._registry.get_schema(schema_id)
        if text is None:
            raise SerdeError("unknown_schema", f"the registry has no schema id {schema_id}")
        try:
            writer = parse_standalone(text)
        except Exception as exc:
            msg = f"registry schema id {schema_id} does not parse: {exc}"
            raise SerdeError("unknown_schema", msg) from exc
        self._by_id[schema_id] = writer
        return writer


def decode_body(
    body: bytes,
    writer: CatalogueSchema,
    reader: CatalogueSchema | None,
    *,
    logical_types: bool = True,
) -> Any:
    """Decode exactly one Avro datum filling ``body``; map every failure to a reason."""
    stream = io.BytesIO(body)
    writer_schema, reader_schema = _schemas(writer, reader, logical_types)
    try:
        record = schemaless_reader(stream, writer_schema, reader_schema)
    except SchemaResolutionError as exc:
        msg = f"writer {writer.name} does not resolve to reader: {exc}"
        raise SerdeError("incompatible_schema", msg) from exc
    except (EOFError, StopIteration) as exc:
        raise SerdeError("truncated", f"body ends early: {exc}") from exc
    except MemoryError as exc:
        raise SerdeError("invalid_body", "a length in the body is impossibly large") from exc
    except Exception as exc:  # IndexError, ValueError, UnicodeDecodeError, OverflowError...
        if _ends_early(body, writer_schema, reader_schema):
            raise SerdeError("truncated", "body ends inside a value") from exc
        msg = f"{type(exc).__name__}: {exc}"
        raise SerdeError("invalid_body", msg) from exc
    if stream.tell() != len(body):
        msg = f"{len(body) - stream.tell()} bytes left after the {writer.name} record"
        raise SerdeError("invalid_body", msg)
    return record


_PADDING = bytes(16)


def _schemas(
    writer: CatalogueSchema, reader: CatalogueSchema | None, logical_types: bool
) -> tuple[Any, Any]:
    if logical_types:
        return writer.parsed, reader.parsed if reader is not None else None
    return writer.parsed_plain, reader.parsed_plain if reader is not None else None


def _ends_early(body: bytes, writer_schema: Any, reader_schema: Any) -> bool:
    """Whether decoding failed only because the bytes stop inside a value.

    fastavro reports a varint cut in the middle as an IndexError, not an EOFError. Decoding
    again with zero bytes appended tells the two apart: a cut body gets past its own end (or
    decodes), while a corrupt one fails at the same place, before the end.
    """
    stream = io.BytesIO(body + _PADDING)
    try:
        schemaless_reader(stream, writer_schema, reader_schema)
    except Exception:
        return stream.tell() > len(body)
    return True
