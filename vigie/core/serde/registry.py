"""What the serde needs from a schema registry, and an in-memory one for tests and tools.

The Confluent wire format names the writer schema by a 4-byte id that only a registry can
resolve. The serde depends on this small protocol; ``vigie.kafka.registry`` implements it over
the Confluent-compatible REST API, and :class:`InMemoryRegistry` implements it without I/O.
"""

from __future__ import annotations

import threading
from typing import Protocol


class SchemaRegistry(Protocol):
    """Subjects of versioned schemas, each schema text with a global integer id."""

    def register(self, subject: str, schema: str) -> int:
        """Register ``schema`` (self-contained JSON text) under ``subject``; return its id.

        Registering a schema the subject already has returns the existing id.
        """
        ...

    def lookup(self, subject: str, schema: str) -> int | None:
        """The id of ``schema`` under ``subject``, or None if it was never registered there."""
        ...

    def get_schema(self, schema_id: int) -> str | None:
        """The schema text of an id, or None if the registry has no such id.

        Transport failures raise (they are not the record's fault and must not send it to a
        dead-letter topic).
        """
        ...


class InMemoryRegistry:
    """A registry held in a dict: ids from 1 in registration order, as Confluent's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: dict[str, int] = {}
        self._schemas: dict[int, str] = {}
        self._subjects: dict[str, list[int]] = {}

    def register(self, subject: str, schema: str) -> int:
        """Register under a subject, reusing the id of an identical schema text."""
        with self._lock:
            schema_id = self._ids.get(schema)
            if schema_id is None:
                schema_id = len(self._schemas) + 1
                self._ids[schema] = schema_id
                self._schemas[schema_id] = schema
            versions = self._subjects.setdefault(subject, [])
            if schema_id not in versions:
                versions.append(schema_id)
            return schema_id

    def lookup(self, subject: str, schema: str) -> int | None:
        """The id of a schema already registered under ``subject``."""
        with self._lock:
            schema_id = self._ids.get(schema)
            if schema_id is not None and schema_id in self._subjects.get(subject, []):
                return schema_id
            return None

    def get_schema(self, schema_id: int) -> str | None:
        """The schema text of an id."""
        with self._lock:
            return self._schemas.get(schema_id)
