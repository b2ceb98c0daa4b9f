"""What the simulator produces: records as agencies publish them, and the truth behind them.

A :class:`SimRecord` is one record an agency publishes (a CAD row, a camera detection, a GTFS-RT
entity, a CAP alert, a permit feature), with the time it *happened* (``event_time``) and the
time it becomes *available* (``publish_time``: report and export delays). The writers render
records into the connectors' input formats; the ground truth ties every record to exactly one
of: a true incident (evidence), the background (noise or context), or an expected rejection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from vigie.core.events import Source


class Feed(StrEnum):
    """One input stream of the simulated city; each has its own file layout."""

    POLICE = "police"
    FIRE = "fire"
    CAMERA = "camera"
    TRANSPORT = "transport"  # GTFS-RT entities: vehicle positions and alerts
    WEATHER_OBS = "weather_obs"
    WEATHER_ALERT = "weather_alert"
    PERMIT = "permit"


#: The agency (and raw topic) each feed belongs to.
FEED_SOURCE: dict[Feed, Source] = {
    Feed.POLICE: Source.POLICE,
    Feed.FIRE: Source.FIRE,
    Feed.CAMERA: Source.CAMERA,
    Feed.TRANSPORT: Source.TRANSPORT,
    Feed.WEATHER_OBS: Source.WEATHER,
    Feed.WEATHER_ALERT: Source.WEATHER,
    Feed.PERMIT: Source.PERMITS,
}


class TruthRole(StrEnum):
    """Where a record stands in the ground truth."""

    EVIDENCE = "evidence"  # reports a true incident
    NOISE = "noise"  # unrelated report: a singleton for scoring
    CONTEXT = "context"  # weather, permits, vehicle positions


@dataclass(frozen=True, slots=True)
class SimRecord:
    """One published record. Times are ms since the epoch, UTC.

    ``attrs`` holds the feed-specific fields the writers render (named after the feed's
    columns). ``defect`` is the DLQ reason the connector must give when the record is
    deliberately malformed; such records belong to no incident. ``duplicate`` marks the
    second send of a record already published (same ``source_ref``, same content).
    """

    feed: Feed
    source_ref: str
    kind: str
    event_time: int
    publish_time: int
    lon: float | None
    lat: float | None
    attrs: dict[str, Any]
    role: TruthRole
    incident: str | None = None
    defect: str | None = None
    duplicate: bool = False

    @property
    def source(self) -> Source:
        """The agency, as ``NormalizedEvent.source``."""
        return FEED_SOURCE[self.feed]


@dataclass(frozen=True, slots=True)
class TrueIncident:
    """A real-world situation the records describe."""

    incident_id: str
    category: str
    start: int
    lon: float
    lat: float
    sector: str | None
    tags: tuple[str, ...] = ()
    context_refs: tuple[tuple[str, str], ...] = ()
    related: tuple[str, ...] = ()  # the twin of a ``twin`` incident


@dataclass(frozen=True)
class Scenario:
    """A generated scenario: truth and records, records sorted by publish time."""

    seed: int
    city: str
    start: int
    end: int
    incidents: tuple[TrueIncident, ...]
    records: tuple[SimRecord, ...]
    options: dict[str, Any] = field(default_factory=dict)
