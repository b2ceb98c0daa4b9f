"""Fire/rescue dispatch: a CSV with one line per unit dispatched to an incident.

Fire departments publish their calls this way (incident columns repeated on every unit
row), so an incident with three engines is three lines sharing an incident number. The
connector keeps that shape: one raw record per line, keyed by incident so an incident's
dispatches stay ordered on one partition. Format and codes: docs/feeds.md#fire.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from connectors.base import (
    ParseContext,
    Reason,
    RecordRejected,
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


class FireCallType(StrEnum):
    """What the incident is (closed list)."""

    STRUCTURE_FIRE = "STRUCTURE_FIRE"
    VEHICLE_FIRE = "VEHICLE_FIRE"
    OUTDOOR_FIRE = "OUTDOOR_FIRE"
    SMOKE = "SMOKE"
    GAS_LEAK = "GAS_LEAK"
    ALARM = "ALARM"
    MEDICAL = "MEDICAL"
    TRAFFIC_COLLISION = "TRAFFIC_COLLISION"
    RESCUE = "RESCUE"
    FLOODING = "FLOODING"
    HAZMAT = "HAZMAT"
    OTHER = "OTHER"


class UnitType(StrEnum):
    """The kind of unit dispatched; ``NONE`` on an incident line without a unit yet."""

    NONE = "NONE"
    ENGINE = "ENGINE"
    LADDER = "LADDER"
    RESCUE = "RESCUE"
    MEDIC = "MEDIC"
    CHIEF = "CHIEF"
    HAZMAT = "HAZMAT"
    BOAT = "BOAT"
    OTHER = "OTHER"


REQUIRED_COLUMNS = frozenset({"incident_number", "call_type", "priority", "received_at"})
_UNIT_TYPES = frozenset(UnitType) - {UnitType.NONE}


@dataclass(frozen=True, slots=True)
class FireDispatch:
    """One incident line and its dispatched unit, if any (``org.vigie.raw.v1.FireDispatch``)."""

    record_id: str
    source_uri: str
    source_index: int
    ingest_time: int
    unit_id: str | None
    unit_type: UnitType
    call_type: FireCallType
    priority: int
    alarm_level: int
    received_at: int
    dispatched_at: int | None
    on_scene_at: int | None
    lon: float
    lat: float
    address: str | None
    final_disposition: str | None

    def kafka_key(self) -> str:
        """Keyed by incident number: all units of an incident on one partition."""
        return self.record_id


class FireParser:
    """Parse a dispatch CSV into :class:`FireDispatch` records or rejections."""

    feed: ClassVar[str] = "fire"

    def parse(
        self, payload: bytes, uri: str, ctx: ParseContext
    ) -> Iterator[FireDispatch | Rejection]:
        """One result per non-blank data line; see docs/feeds.md#fire."""

        def build(row: Mapping[str, str], index: int) -> FireDispatch:
            record_id = require_text(row.get("incident_number"), "incident_number")
            return with_record_id(record_id, lambda: _build(row, record_id, uri, index, ctx))

        yield from iter_csv(payload, uri, REQUIRED_COLUMNS, build)


def _build(
    row: Mapping[str, str], record_id: str, uri: str, index: int, ctx: ParseContext
) -> FireDispatch:
    call_type = FireCallType(
        require_code(row.get("call_type"), "call_type", frozenset(FireCallType))
    )
    unit_id = optional_text(row.get("unit_id"))
    unit_type = UnitType.NONE
    if unit_id is not None:
        unit_type = UnitType(require_code(row.get("unit_type"), "unit_type", _UNIT_TYPES))
    elif optional_text(row.get("unit_type")) is not None:
        raise RecordRejected(Reason.MISSING_FIELD, "unit_type given without unit_id")
    priority = parse_int_in(row.get("priority"), "priority", 1, 5)
    alarm_text = optional_text(row.get("alarm_level"))
    alarm_level = 1 if alarm_text is None else parse_int_in(alarm_text, "alarm_level", 1, 5)
    received = parse_instant(row.get("received_at"), "received_at", ctx)
    dispatched = parse_optional_instant(row.get("dispatched_at"), "dispatched_at", ctx)
    on_scene = parse_optional_instant(row.get("on_scene_at"), "on_scene_at", ctx)
    check_order(received, dispatched, "received_at <= dispatched_at")
    check_order(
        dispatched if dispatched is not None else received, on_scene, "dispatched_at <= on_scene_at"
    )
    lon, lat = parse_position(row, ctx)
    return FireDispatch(
        record_id=record_id,
        source_uri=uri,
        source_index=index,
        ingest_time=ctx.ingest_time,
        unit_id=unit_id,
        unit_type=unit_type,
        call_type=call_type,
        priority=priority,
        alarm_level=alarm_level,
        received_at=received,
        dispatched_at=dispatched,
        on_scene_at=on_scene,
        lon=lon,
        lat=lat,
        address=optional_text(row.get("address")),
        final_disposition=optional_text(row.get("final_disposition")),
    )
