"""Pure conversions between the shared dataclasses and Avro record dicts.

Writing accepts the dataclasses' integer milliseconds directly (fastavro encodes an int as
``timestamp-millis`` unchanged). Reading gives timezone-aware datetimes for those fields,
which are turned back into integer milliseconds here, exactly. A record that does not fit
the model (a missing field, an enum symbol this reader does not know) raises
``SerdeError("invalid_body")`` so a job routes it to its dead-letter topic.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from vigie.core.events import (
    AckAction,
    Incident,
    IncidentAck,
    IncidentContext,
    LinkEvidence,
    NormalizedEvent,
    Role,
    Source,
    Status,
)
from vigie.core.serde.errors import SerdeError

NORMALIZED_EVENT = "org.vigie.v1.NormalizedEvent"
INCIDENT = "org.vigie.v1.Incident"
INCIDENT_ACK = "org.vigie.v1.IncidentAck"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_T = TypeVar("_T")


def millis(value: Any) -> int:
    """Integer milliseconds since the epoch from what fastavro gives back (datetime or int)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            msg = "naive datetime for a timestamp-millis field"
            raise SerdeError("invalid_body", msg)
        return (value - _EPOCH) // timedelta(milliseconds=1)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    msg = f"expected a timestamp, got {type(value).__name__}"
    raise SerdeError("invalid_body", msg)


def _opt_millis(value: Any) -> int | None:
    return None if value is None else millis(value)


def event_to_record(event: NormalizedEvent) -> dict[str, Any]:
    """A ``NormalizedEvent`` as an Avro record of ``org.vigie.v1.NormalizedEvent``."""
    return {
        "event_id": event.event_id,
        "source": event.source.value,
        "kind": event.kind,
        "role": event.role.value,
        "event_time": event.event_time,
        "ingest_time": event.ingest_time,
        "lon": event.lon,
        "lat": event.lat,
        "x": event.x,
        "y": event.y,
        "uncertainty_m": event.uncertainty_m,
        "sector": event.sector,
        "source_ref": event.source_ref,
        "attributes": dict(event.attributes),
        "area_wkt": event.area_wkt,
        "valid_from": event.valid_from,
        "valid_until": event.valid_until,
    }


def record_to_event(record: Mapping[str, Any]) -> NormalizedEvent:
    """The ``NormalizedEvent`` a decoded record describes."""
    return _build(
        lambda r: NormalizedEvent(
            event_id=r["event_id"],
            source=Source(r["source"]),
            kind=r["kind"],
            role=Role(r["role"]),
            event_time=millis(r["event_time"]),
            ingest_time=millis(r["ingest_time"]),
            lon=float(r["lon"]),
            lat=float(r["lat"]),
            x=float(r["x"]),
            y=float(r["y"]),
            uncertainty_m=float(r["uncertainty_m"]),
            sector=r.get("sector"),
            source_ref=r["source_ref"],
            attributes=dict(r.get("attributes") or {}),
            area_wkt=r.get("area_wkt"),
            valid_from=_opt_millis(r.get("valid_from")),
            valid_until=_opt_millis(r.get("valid_until")),
        ),
        record,
        NORMALIZED_EVENT,
    )


def incident_to_record(incident: Incident) -> dict[str, Any]:
    """An ``Incident`` as an Avro record of ``org.vigie.v1.Incident``."""
    ctx = incident.context
    return {
        "incident_id": incident.incident_id,
        "version": incident.version,
        "status": incident.status.value,
        "category": incident.category,
        "severity": incident.severity,
        "confidence": incident.confidence,
        "first_event_time": incident.first_event_time,
        "last_event_time": incident.last_event_time,
        "created_at": incident.created_at,
        "updated_at": incident.updated_at,
        "lon": incident.lon,
        "lat": incident.lat,
        "sector": incident.sector,
        "sources": [s.value for s in incident.sources],
        "kinds": list(incident.kinds),
        "event_ids": list(incident.event_ids),
        "links": [
            {
                "event_a": link.event_a,
                "event_b": link.event_b,
                "rule": link.rule,
                "distance_m": link.distance_m,
                "time_gap_ms": link.time_gap_ms,
            }
            for link in incident.links
        ],
        "context": {
            "weather_alerts": list(ctx.weather_alerts),
            "weather_observation": ctx.weather_observation,
            "permits": list(ctx.permits),
            "affected_lines": list(ctx.affected_lines),
        },
        "merged_into": incident.merged_into,
        "explanation": incident.explanation,
    }


def record_to_incident(record: Mapping[str, Any]) -> Incident:
    """The ``Incident`` a decoded record describes."""

    def build(r: Mapping[str, Any]) -> Incident:
        ctx = r.get("context") or {}
        return Incident(
            incident_id=r["incident_id"],
            version=int(r["version"]),
            status=Status(r["status"]),
            category=r["category"],
            severity=int(r["severity"]),
            confidence=float(r["confidence"]),
            first_event_time=millis(r["first_event_time"]),
            last_event_time=millis(r["last_event_time"]),
            created_at=millis(r["created_at"]),
            updated_at=millis(r["updated_at"]),
            lon=float(r["lon"]),
            lat=float(r["lat"]),
            sector=r.get("sector"),
            sources=tuple(Source(s) for s in r["sources"]),
            kinds=tuple(r["kinds"]),
            event_ids=tuple(r["event_ids"]),
            links=tuple(
                LinkEvidence(
                    event_a=link["event_a"],
                    event_b=link["event_b"],
                    rule=link["rule"],
                    distance_m=float(link["distance_m"]),
                    time_gap_ms=int(link["time_gap_ms"]),
                )
                for link in r["links"]
            ),
            context=IncidentContext(
                weather_alerts=tuple(ctx.get("weather_alerts") or ()),
                weather_observation=ctx.get("weather_observation"),
                permits=tuple(ctx.get("permits") or ()),
                affected_lines=tuple(ctx.get("affected_lines") or ()),
            ),
            merged_into=r.get("merged_into"),
            explanation=r.get("explanation"),
        )

    return _build(build, record, INCIDENT)


def ack_to_record(ack: IncidentAck) -> dict[str, Any]:
    """An ``IncidentAck`` as an Avro record of ``org.vigie.v1.IncidentAck``."""
    try:
        ack_id = str(uuid.UUID(ack.ack_id))
    except (ValueError, TypeError, AttributeError) as exc:
        msg = "ack_id is not a UUID"
        raise SerdeError("invalid_record", msg) from exc
    return {
        "ack_id": ack_id,
        "incident_id": ack.incident_id,
        "action": ack.action.value,
        "operator": ack.operator,
        "at": ack.at,
        "assignee": ack.assignee,
        "note": ack.note,
    }


def record_to_ack(record: Mapping[str, Any]) -> IncidentAck:
    """The ``IncidentAck`` a decoded record describes."""
    return _build(
        lambda r: IncidentAck(
            ack_id=str(r["ack_id"]),
            incident_id=r["incident_id"],
            action=AckAction(r["action"]),
            operator=r["operator"],
            at=millis(r["at"]),
            assignee=r.get("assignee"),
            note=r.get("note"),
        ),
        record,
        INCIDENT_ACK,
    )


def _build(factory: Callable[[Mapping[str, Any]], _T], record: Mapping[str, Any], name: str) -> _T:
    try:
        return factory(record)
    except SerdeError:
        raise
    except KeyError as exc:
        msg = f"{name} record lacks field {exc}"
        raise SerdeError("invalid_body", msg) from exc
    except (ValueError, TypeError, AttributeError) as exc:
        msg = f"{name} record does not fit the model: {exc}"
        raise SerdeError("invalid_body", msg) from exc
