"""Avro schemas, framings and conversions for Vigie's topics — pure, no Kafka here.

Typical use::

    catalogue = SchemaCatalogue.load(settings.schemas_dir / "avro")
    ser = AvroSerializer(catalogue)                    # single-object framing
    data = ser.serialize(NORMALIZED_EVENT, event_to_record(event))
    decoded = AvroDeserializer(catalogue).deserialize(data, reader=NORMALIZED_EVENT)
    event = record_to_event(decoded.record)
"""

from __future__ import annotations

from vigie.core.serde.catalogue import CatalogueSchema, SchemaCatalogue
from vigie.core.serde.codec import (
    AvroDeserializer,
    AvroSerializer,
    Decoded,
    Framing,
    frame_confluent,
    frame_single_object,
)
from vigie.core.serde.convert import (
    INCIDENT,
    INCIDENT_ACK,
    NORMALIZED_EVENT,
    ack_to_record,
    event_to_record,
    incident_to_record,
    record_to_ack,
    record_to_event,
    record_to_incident,
)
from vigie.core.serde.errors import SERDE_REASONS, SchemaCatalogueError, SerdeError
from vigie.core.serde.fingerprint import crc64_avro, fingerprint_bytes
from vigie.core.serde.registry import InMemoryRegistry, SchemaRegistry

__all__ = [
    "INCIDENT",
    "INCIDENT_ACK",
    "NORMALIZED_EVENT",
    "SERDE_REASONS",
    "AvroDeserializer",
    "AvroSerializer",
    "CatalogueSchema",
    "Decoded",
    "Framing",
    "InMemoryRegistry",
    "SchemaCatalogue",
    "SchemaCatalogueError",
    "SchemaRegistry",
    "SerdeError",
    "ack_to_record",
    "crc64_avro",
    "event_to_record",
    "fingerprint_bytes",
    "frame_confluent",
    "frame_single_object",
    "incident_to_record",
    "record_to_ack",
    "record_to_event",
    "record_to_incident",
]
