"""The serializer and deserializer a deployment uses, chosen from its settings.

With ``VIGIE_SCHEMA_REGISTRY_URL`` set, records are written in the Confluent wire format
against that registry; without it (the local default), in Avro single-object encoding
resolved against ``schemas/avro``. Readers accept both framings either way (Confluent bytes
need the registry to resolve their id).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from vigie.config import Settings
from vigie.core.serde import AvroDeserializer, AvroSerializer, Framing, SchemaCatalogue
from vigie.core.serde.registry import SchemaRegistry
from vigie.kafka.registry import ConfluentRegistryClient


@lru_cache(maxsize=4)
def _catalogue(avro_dir: Path) -> SchemaCatalogue:
    return SchemaCatalogue.load(avro_dir)


def catalogue(settings: Settings) -> SchemaCatalogue:
    """The schema catalogue of ``settings.schemas_dir`` (loaded once per process)."""
    return _catalogue(settings.schemas_dir / "avro")


def registry(settings: Settings) -> SchemaRegistry | None:
    """The configured registry client, if any."""
    if not settings.schema_registry_url:
        return None
    return ConfluentRegistryClient(settings.schema_registry_url)


def serializer(settings: Settings) -> AvroSerializer:
    """Confluent framing with a registry configured, single-object encoding without."""
    client = registry(settings)
    framing = Framing.CONFLUENT if client is not None else Framing.SINGLE_OBJECT
    return AvroSerializer(catalogue(settings), framing, client)


def deserializer(settings: Settings) -> AvroDeserializer:
    """A deserializer for both framings."""
    return AvroDeserializer(catalogue(settings), registry(settings))
