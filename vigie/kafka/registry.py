"""A client for the Confluent Schema Registry REST API (also served by Apicurio, Karapace).

It implements :class:`vigie.core.serde.registry.SchemaRegistry` with the three calls the
serde needs, over urllib (no extra dependency), caching what never changes: a schema id
always names the same schema text.

- ``POST /subjects/{subject}/versions``  register (returns the existing id if already there)
- ``POST /subjects/{subject}``           look a schema up under a subject
- ``GET  /schemas/ids/{id}``             the schema text of an id

"Not found" answers (HTTP 404) become ``None``; anything else (unreachable, 5xx, bad
answer) raises :class:`RegistryError`, which is not the record's fault and so must never
send a record to a dead-letter topic.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from vigie.errors import VigieError

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class RegistryError(VigieError):
    """The schema registry could not be used."""


class ConfluentRegistryClient:
    """Confluent-compatible registry at ``url`` (for example ``http://127.0.0.1:8081``)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._lock = threading.Lock()
        self._schemas: dict[int, str] = {}
        self._ids: dict[tuple[str, str], int] = {}

    def register(self, subject: str, schema: str) -> int:
        """Register ``schema`` under ``subject`` and return its global id."""
        cached = self._cached_id(subject, schema)
        if cached is not None:
            return cached
        answer = self._call("POST", f"/subjects/{_q(subject)}/versions", _avro_body(schema))
        if answer is None:
            msg = f"the registry at {self.url} did not register a schema under {subject}"
            raise RegistryError(msg)
        return self._remember(subject, schema, _id_of(answer))

    def lookup(self, subject: str, schema: str) -> int | None:
        """The id of ``schema`` under ``subject``, or None if it is not registered there."""
        cached = self._cached_id(subject, schema)
        if cached is not None:
            return cached
        answer = self._call("POST", f"/subjects/{_q(subject)}", _avro_body(schema))
        return None if answer is None else self._remember(subject, schema, _id_of(answer))

    def get_schema(self, schema_id: int) -> str | None:
        """The schema text of ``schema_id``, or None if the registry has no such id."""
        with self._lock:
            if schema_id in self._schemas:
                return self._schemas[schema_id]
        answer = self._call("GET", f"/schemas/ids/{int(schema_id)}", None)
        if answer is None:
            return None
        text = answer.get("schema") if isinstance(answer, dict) else None
        if not isinstance(text, str):
            msg = f"the registry at {self.url} answered schema id {schema_id} without a schema"
            raise RegistryError(msg)
        with self._lock:
            self._schemas[schema_id] = text
        return text

    def _cached_id(self, subject: str, schema: str) -> int | None:
        with self._lock:
            return self._ids.get((subject, schema))

    def _remember(self, subject: str, schema: str, schema_id: int) -> int:
        with self._lock:
            self._ids[(subject, schema)] = schema_id
            self._schemas[schema_id] = schema
        return schema_id

    def _call(self, method: str, path: str, body: bytes | None) -> Any:
        request = urllib.request.Request(
            self.url + path,
            data=body,
            method=method,
            headers={"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            detail = exc.read()[:300].decode("utf-8", errors="replace")
            msg = f"schema registry {method} {path}: HTTP {exc.code} {detail}"
            raise RegistryError(msg) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            msg = (
                f"cannot use the schema registry at {self.url}: {exc} "
                "(unset VIGIE_SCHEMA_REGISTRY_URL to use single-object encoding instead)"
            )
            raise RegistryError(msg) from exc


def _q(subject: str) -> str:
    return urllib.parse.quote(subject, safe="")


def _avro_body(schema: str) -> bytes:
    return json.dumps({"schema": schema, "schemaType": "AVRO"}).encode("utf-8")


def _id_of(answer: Any) -> int:
    if isinstance(answer, dict) and isinstance(answer.get("id"), int):
        return int(answer["id"])
    msg = f"unexpected schema registry answer: {str(answer)[:200]}"
    raise RegistryError(msg)
