"""The event model every feed is normalised into, and the unified incident fusion emits.

Times are integers of milliseconds since the Unix epoch, UTC: cheap to compare in the hot
path and exactly what Avro's ``timestamp-millis`` carries. Positions are kept twice: WGS84
(``lon``/``lat``) for people and maps, and metres in the city's projected CRS (``x``/``y``)
for every distance the linking computes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Source(StrEnum):
    """The agency or system a record comes from; one raw topic each."""

    POLICE = "police"
    FIRE = "fire"
    TRANSPORT = "transport"
    WEATHER = "weather"
    PERMITS = "permits"
    CAMERA = "camera"


class Role(StrEnum):
    """What fusion does with an event: link it into incidents, or use it as context."""

    EVIDENCE = "evidence"  # a report of something happening (a call, a detection, a fire)
    CONTEXT = "context"  # a condition that explains or qualifies (weather, permits, lines)


@dataclass(frozen=True, slots=True)
class NormalizedEvent:
    """One validated, projected, pseudonymised event on ``events.normalized``.

    ``event_id`` is derived from the source and the source's own record id, so the same
    source record always gets the same id: that is what makes deduplication and idempotent
    sinks possible.
    """

    event_id: str
    source: Source
    kind: str
    role: Role
    event_time: int
    ingest_time: int
    lon: float
    lat: float
    x: float
    y: float
    uncertainty_m: float
    sector: str | None
    source_ref: str
    attributes: dict[str, str] = field(default_factory=dict)
    #: Polygon (WKT, WGS84) for area-shaped context: weather alerts, permits, traffic orders.
    area_wkt: str | None = None
    #: Validity window of context events (permits, alerts); None means instantaneous.
    valid_from: int | None = None
    valid_until: int | None = None


class Status(StrEnum):
    """Lifecycle of an incident; every change is a new version of the same id."""

    OPEN = "open"
    UPDATED = "updated"
    CLOSED = "closed"
    MERGED = "merged"


@dataclass(frozen=True, slots=True)
class LinkEvidence:
    """Why two events were put in the same incident, shown to the operator."""

    event_a: str
    event_b: str
    rule: str
    distance_m: float
    time_gap_ms: int


@dataclass(frozen=True, slots=True)
class IncidentContext:
    """Conditions around the incident that may explain it or change its priority."""

    weather_alerts: tuple[str, ...] = ()
    weather_observation: str | None = None
    permits: tuple[str, ...] = ()
    affected_lines: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Incident:
    """One real-world situation, as the latest version fusion knows of it."""

    incident_id: str
    version: int
    status: Status
    category: str
    severity: int  # 1 (lowest) .. 5 (highest)
    confidence: float  # 0..1
    first_event_time: int
    last_event_time: int
    created_at: int  # processing time of version 1, for reporting delays
    updated_at: int
    lon: float
    lat: float
    sector: str | None
    sources: tuple[Source, ...]
    kinds: tuple[str, ...]
    event_ids: tuple[str, ...]
    links: tuple[LinkEvidence, ...]
    context: IncidentContext = IncidentContext()
    merged_into: str | None = None
    explanation: str | None = None


class AckAction(StrEnum):
    """What an operator did to an incident from the command center."""

    ACK = "ack"  # seen and being handled
    ASSIGN = "assign"  # handed to a unit or person (``assignee``)
    RELEASE = "release"  # an earlier assignment is withdrawn


@dataclass(frozen=True, slots=True)
class IncidentAck:
    """One operator action on an incident, on the ``incident-acks`` topic.

    ``ack_id`` is a random UUID (text) chosen by the client that sends it, so a retried or
    replayed record is recognised as the same action by idempotent sinks.
    """

    ack_id: str
    incident_id: str
    action: AckAction
    operator: str
    at: int
    assignee: str | None = None
    note: str | None = None
