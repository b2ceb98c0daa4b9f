"""Police calls for service: a CAD "calls for service" CSV export, one call per line.

Caller names and phone numbers are personal: they are pseudonymised here, at the edge, and
the clear values never leave this module. Format and codes: docs/feeds.md#police.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from connectors.base import (
    ParseContext,
    Rejection,
    check_order,
    iter_csv,
    optional_text,
    parse_instant,
    parse_int_in,
    parse_optional_instant,
    parse_position,
    require_code,
    require_text,
    with_record_id,
)
from vigie.core.privacy import IdentifierKind, pseudonymise_optional


class CallType(StrEnum):
    """CAD call type codes (closed list; anything else is ``unknown_code``)."""

    SHOTS = "SHOTS"
    WEAPON = "WEAPON"
    ASSAULT = "ASSAULT"
    ROBBERY = "ROBBERY"
    BURGLARY = "BURGLARY"
    THEFT = "THEFT"
    VANDALISM = "VANDALISM"
    NOISE = "NOISE"
    DISTURB = "DISTURB"
    TRAFFIC = "TRAFFIC"
    SUSPECT = "SUSPECT"
    FIRE = "FIRE"
    MISSING = "MISSING"
    OTHER = "OTHER"


class Disposition(StrEnum):
    """How the call was closed; ``OPEN`` while it is not."""

    OPEN = "OPEN"
    ARR = "ARR"
    RPT = "RPT"
    GOA = "GOA"
    UNF = "UNF"
    REF = "REF"
    CAN = "CAN"
    ADV = "ADV"
    OTHER = "OTHER"


REQUIRED_COLUMNS = frozenset({"incident_number", "call_type_code", "priority", "received_at"})


@dataclass(frozen=True, slots=True)
class PoliceCall:
    """One call for service, as ``org.vigie.raw.v1.PoliceCall``."""

    record_id: str
    source_uri: str
    source_index: int
    ingest_time: int
    call_type: CallType
    call_type_description: str | None
    priority: int
    received_at: int
    dispatched_at: int | None
    lon: float
    lat: float
    address: str | None
    caller_name_pseudonym: str | None
    caller_phone_pseudonym: str | None
    disposition: Disposition

    def kafka_key(self) -> str:
        """Calls are keyed by incident number."""
        return self.record_id


class PoliceParser:
    """Parse a calls-for-service CSV into :class:`PoliceCall` records or rejections."""

    feed: ClassVar[str] = "police"

    def parse(
        self, payload: bytes, uri: str, ctx: ParseContext
    ) -> Iterator[PoliceCall | Rejection]:
        """One result per non-blank data line; see docs/feeds.md#police."""

        def build(row: Mapping[str, str], index: int) -> PoliceCall:
            record_id = require_text(row.get("incident_number"), "incident_number")
            return with_record_id(record_id, lambda: self._build(row, record_id, uri, index, ctx))

        yield from iter_csv(payload, uri, REQUIRED_COLUMNS, build)

    @staticmethod
    def _build(
        row: Mapping[str, str], record_id: str, uri: str, index: int, ctx: ParseContext
    ) -> PoliceCall:
        call_type = CallType(
            require_code(row.get("call_type_code"), "call_type_code", frozenset(CallType))
        )
        priority = parse_int_in(row.get("priority"), "priority", 1, 5)
        received = parse_instant(row.get("received_at"), "received_at", ctx)
        dispatched = parse_optional_instant(row.get("dispatched_at"), "dispatched_at", ctx)
        check_order(received, dispatched, "received_at <= dispatched_at")
        lon, lat = parse_position(row, ctx)
        raw_disposition = optional_text(row.get("disposition"))
        disposition = (
            Disposition.OPEN
            if raw_disposition is None
            else Disposition(require_code(raw_disposition, "disposition", frozenset(Disposition)))
        )
        key = ctx.pseudonym_key
        return PoliceCall(
            record_id=record_id,
            source_uri=uri,
            source_index=index,
            ingest_time=ctx.ingest_time,
            call_type=call_type,
            call_type_description=optional_text(row.get("call_type_description")),
            priority=priority,
            received_at=received,
            dispatched_at=dispatched,
            lon=lon,
            lat=lat,
            address=optional_text(row.get("address")),
            caller_name_pseudonym=pseudonymise_optional(
                row.get("caller_name"), key, IdentifierKind.NAME
            ),
            caller_phone_pseudonym=pseudonymise_optional(
                row.get("caller_phone"), key, IdentifierKind.PHONE
            ),
            disposition=disposition,
        )
