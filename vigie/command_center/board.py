"""The command center's picture: the current version of each incident and its last ack.

The incidents topic is compacted and may deliver versions out of order across partitions
or on a replay, so :class:`Board` keeps the highest version of each incident and ignores
older ones. The last operator action per incident comes from the acks topic. Views built
here (the terminal row, the JSON the page and ``--json`` print) are plain data, computed
from an explicit ``now`` so they are tested without clocks.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vigie.command_center.filters import IncidentFilter
from vigie.core.events import AckAction, Incident, IncidentAck, NormalizedEvent, Status


@dataclass(frozen=True, slots=True)
class EventSummary:
    """What the evidence timeline shows of one event: no attributes, so no personal data."""

    event_id: str
    source: str
    kind: str
    event_time: int
    sector: str | None

    @classmethod
    def of(cls, event: NormalizedEvent) -> EventSummary:
        """The summary of a normalised event."""
        return cls(event.event_id, event.source.value, event.kind, event.event_time, event.sector)


class EventIndex:
    """The most recent events by id, bounded so a long-running server's memory stays flat."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, EventSummary] = OrderedDict()

    def add(self, summary: EventSummary) -> None:
        """Remember an event, forgetting the oldest one past capacity."""
        self._items[summary.event_id] = summary
        self._items.move_to_end(summary.event_id)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def get(self, event_id: str) -> EventSummary | None:
        """The event's summary, if it was seen."""
        return self._items.get(event_id)

    def __len__(self) -> int:
        return len(self._items)


class Board:
    """Latest version of every incident and the latest operator action on each."""

    def __init__(self) -> None:
        self.incidents: dict[str, Incident] = {}
        self.acks: dict[str, IncidentAck] = {}

    def apply_incident(self, incident: Incident) -> bool:
        """Keep ``incident`` if it is newer than what is known; True when it changed."""
        known = self.incidents.get(incident.incident_id)
        if known is not None and known.version >= incident.version:
            return False
        self.incidents[incident.incident_id] = incident
        return True

    def apply_ack(self, ack: IncidentAck) -> bool:
        """Keep the latest action on an incident (by time, then id); True when it changed."""
        known = self.acks.get(ack.incident_id)
        if known is not None and (known.at, known.ack_id) >= (ack.at, ack.ack_id):
            return False
        self.acks[ack.incident_id] = ack
        return True

    def select(self, flt: IncidentFilter) -> list[Incident]:
        """Incidents passing ``flt``, most severe first, then most recently updated."""
        chosen = [i for i in self.incidents.values() if flt.matches(i)]
        return sorted(chosen, key=lambda i: (-i.severity, -i.last_event_time, i.incident_id))


@dataclass(frozen=True, slots=True)
class TableRow:
    """One line of ``vigie watch``."""

    incident_id: str
    severity: int
    category: str
    sector: str
    sources: str
    age: str
    status: str


def format_age(ms: int) -> str:
    """A short human duration: ``45s``, ``3m05s``, ``2h14m``, ``3d04h``."""
    seconds = max(0, ms // 1000)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def status_text(incident: Incident, ack: IncidentAck | None) -> str:
    """Lifecycle status plus the last operator action, as one short phrase."""
    text = incident.status.value
    if incident.status is Status.MERGED and incident.merged_into:
        text += f" into {incident.merged_into}"
    if ack is None:
        return text
    if ack.action is AckAction.ASSIGN:
        return f"{text}, assigned to {ack.assignee} by {ack.operator}"
    if ack.action is AckAction.RELEASE:
        return f"{text}, released by {ack.operator}"
    return f"{text}, acked by {ack.operator}"


def table_row(incident: Incident, ack: IncidentAck | None, now_ms: int) -> TableRow:
    """The terminal row of an incident; age counts from its first event."""
    return TableRow(
        incident_id=incident.incident_id,
        severity=incident.severity,
        category=incident.category,
        sector=incident.sector or "-",
        sources=",".join(s.value for s in incident.sources),
        age=format_age(now_ms - incident.first_event_time),
        status=status_text(incident, ack),
    )


def iso(ms: int) -> str:
    """Epoch milliseconds as an ISO 8601 UTC instant."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def ack_view(ack: IncidentAck) -> dict[str, Any]:
    """An operator action as JSON: who, when, what."""
    return {
        "ack_id": ack.ack_id,
        "action": ack.action.value,
        "operator": ack.operator,
        "at": iso(ack.at),
        "assignee": ack.assignee,
        "note": ack.note,
    }


def incident_view(
    incident: Incident,
    ack: IncidentAck | None,
    now_ms: int,
    events: EventIndex | None = None,
) -> dict[str, Any]:
    """Everything the page and ``--json`` show of an incident, including why it exists.

    The timeline lists the incident's events in time order with their agency and kind when
    the event is known to ``events``; the links say which rule joined which two events, how
    far apart and how long between them.
    """
    timeline: list[dict[str, Any]] = []
    for event_id in incident.event_ids:
        summary = events.get(event_id) if events is not None else None
        timeline.append(
            {
                "event_id": event_id,
                "source": summary.source if summary else None,
                "kind": summary.kind if summary else None,
                "time": iso(summary.event_time) if summary else None,
                "time_ms": summary.event_time if summary else None,
            }
        )
    timeline.sort(key=lambda e: (e["time_ms"] is None, e["time_ms"] or 0, e["event_id"]))
    ctx = incident.context
    return {
        "incident_id": incident.incident_id,
        "version": incident.version,
        "status": incident.status.value,
        "status_text": status_text(incident, ack),
        "category": incident.category,
        "severity": incident.severity,
        "confidence": incident.confidence,
        "lon": incident.lon,
        "lat": incident.lat,
        "sector": incident.sector,
        "sources": [s.value for s in incident.sources],
        "kinds": list(incident.kinds),
        "first_event_time": iso(incident.first_event_time),
        "last_event_time": iso(incident.last_event_time),
        "updated_at": iso(incident.updated_at),
        "age_s": max(0, (now_ms - incident.first_event_time) // 1000),
        "explanation": incident.explanation,
        "merged_into": incident.merged_into,
        "timeline": timeline,
        "links": [
            {
                "event_a": link.event_a,
                "event_b": link.event_b,
                "rule": link.rule,
                "distance_m": link.distance_m,
                "time_gap_s": link.time_gap_ms / 1000,
            }
            for link in incident.links
        ],
        "context": {
            "weather_alerts": list(ctx.weather_alerts),
            "weather_observation": ctx.weather_observation,
            "permits": list(ctx.permits),
            "affected_lines": list(ctx.affected_lines),
        },
        "ack": ack_view(ack) if ack is not None else None,
    }
