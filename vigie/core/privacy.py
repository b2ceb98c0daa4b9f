"""Pseudonymisation of personal identifiers at the edge, before anything reaches Kafka.

A keyed hash (HMAC-SHA-256) rather than a plain hash: licence plates and phone numbers come
from small spaces, so an unkeyed hash could be reversed by enumerating them. The input is
normalised first so the same person or vehicle always gets the same pseudonym whatever the
agency's spelling (``06 12 34 56 78`` and ``+33612345678``; ``gh-123 jk`` and ``GH123JK``).
Pure: the key is passed in (from :meth:`vigie.config.Settings.pseudonym_key_bytes`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from enum import StrEnum

_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
_NOT_DIGIT = re.compile(r"[^0-9]")
_SPACES = re.compile(r"\s+")


class IdentifierKind(StrEnum):
    """What an identifier is; it decides the normalisation and separates the hash domains."""

    NAME = "name"
    PHONE = "phone"
    PLATE = "plate"
    OTHER = "other"


def normalise_name(value: str) -> str:
    """Case-fold, strip accents, collapse spaces: ``  Jérôme  DUPONT`` -> ``jerome dupont``."""
    decomposed = unicodedata.normalize("NFKD", value)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", bare.casefold()).strip()


def normalise_phone(value: str, country_code: str = "33") -> str:
    """E.164 digits without ``+``: national ``0X...`` numbers get the country code."""
    stripped = value.strip()
    digits = _NOT_DIGIT.sub("", stripped)
    if stripped.startswith("+"):
        return digits
    if digits.startswith("00"):
        return digits[2:]
    if digits.startswith("0"):
        return country_code + digits[1:]
    return digits


def normalise_plate(value: str) -> str:
    """Letters and digits only, upper-case: ``gh-123 jk`` -> ``GH123JK``."""
    return _NOT_ALNUM.sub("", unicodedata.normalize("NFKD", value).upper())


_NORMALISERS = {
    IdentifierKind.NAME: normalise_name,
    IdentifierKind.PHONE: normalise_phone,
    IdentifierKind.PLATE: normalise_plate,
    IdentifierKind.OTHER: lambda value: value.strip(),
}


def pseudonymise(value: str, key: bytes, kind: IdentifierKind = IdentifierKind.OTHER) -> str:
    """The stable pseudonym of ``value``: lower-case hex HMAC-SHA-256 of its normal form.

    The kind is part of the hashed message, so a phone number and a plate with the same
    characters never collide.
    """
    if not key:
        msg = "the pseudonymisation key is empty"
        raise ValueError(msg)
    normal = _NORMALISERS[kind](value)
    message = f"{kind.value}:{normal}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def pseudonymise_optional(
    value: str | None, key: bytes, kind: IdentifierKind = IdentifierKind.OTHER
) -> str | None:
    """Like :func:`pseudonymise`, but blank or absent values stay ``None``."""
    if value is None:
        return None
    if not _NORMALISERS[kind](value):
        return None
    return pseudonymise(value, key, kind)
