"""CRC-64-AVRO (the Rabin fingerprint of the Avro specification), in pure Python.

Single-object encoding identifies the writer schema by this 64-bit fingerprint of its Parsing
Canonical Form, written little-endian. Computing it here (rather than trusting a library's
hex string and its byte order) keeps the wire format explicit; the tests cross-check it
against Apache Avro's own implementation.
"""

from __future__ import annotations

#: The fingerprint of the empty string, and the polynomial seed, from the Avro specification.
EMPTY = 0xC15D213AA4D7A795


def _table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (EMPTY & -(fp & 1))
        table.append(fp)
    return tuple(table)


_TABLE = _table()


def crc64_avro(data: bytes) -> int:
    """The CRC-64-AVRO fingerprint of ``data`` as an unsigned 64-bit integer."""
    fp = EMPTY
    for byte in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ byte) & 0xFF]
    return fp


def fingerprint_bytes(canonical_form: str) -> bytes:
    """The 8 bytes that follow C3 01 in single-object encoding (little-endian)."""
    return crc64_avro(canonical_form.encode("utf-8")).to_bytes(8, "little")
