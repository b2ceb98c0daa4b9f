"""The one error the serde raises, with a machine-readable reason.

Stream jobs route a record that fails to decode to its dead-letter topic with ``reason`` as a
header, so the reasons are a small closed vocabulary rather than free text; ``detail`` says
more for a human and never contains the record's content.
"""

from __future__ import annotations

from typing import Literal, get_args

#: Why bytes could not be decoded, or a record could not be encoded.
#:
#: - ``bad_magic``: the first bytes are neither single-object (C3 01) nor Confluent (00).
#: - ``unknown_schema``: the fingerprint or schema id names no schema this reader knows.
#: - ``truncated``: the bytes end before the header or the body does.
#: - ``invalid_body``: the body does not decode with the writer's schema (bad varint, enum or
#:   union index out of range, invalid UTF-8, trailing bytes, ...), or decodes to a value the
#:   Python model rejects.
#: - ``incompatible_schema``: writer and reader schemas cannot be resolved against each other.
#: - ``invalid_record``: (writing) the record does not match the schema.
SerdeReason = Literal[
    "bad_magic",
    "unknown_schema",
    "truncated",
    "invalid_body",
    "incompatible_schema",
    "invalid_record",
]

SERDE_REASONS: frozenset[str] = frozenset(get_args(SerdeReason))


class SerdeError(Exception):
    """Bytes could not be decoded (or a record encoded); ``reason`` says why, for machines."""

    def __init__(self, reason: SerdeReason, detail: str = "") -> None:
        self.reason: SerdeReason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class SchemaCatalogueError(Exception):
    """A schema file is invalid or refers to a type no file defines."""
