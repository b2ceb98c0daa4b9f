"""The ClickHouse writer used by the sink, and the reads tests and analysts rely on.

Idempotence is the contract: the sink may replay any batch (a restart after a crash, a
Kafka rebalance) and the analytics must not change. Three things make that hold:

* every row has a natural key (``event_id``; ``incident_id`` + ``version``; the ordered
  event pair of a link; the client-chosen ``ack_id``) and every table is a
  ``ReplacingMergeTree`` ordered by that key, so duplicates collapse;
* reads go through ``FINAL`` or ``argMax`` (directly, or through the analyst views), so
  duplicates not merged yet never show;
* the rollups count distinct ids (``uniqExact`` states), never rows.

Personal fields are split off here, at the last point before storage: attributes whose key
ends in ``_pseudonym`` (or is listed in ``VIGIE_PERSONAL_ATTRIBUTE_KEYS``) and the people
behind an acknowledgement go to the private database, which the analyst user cannot read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vigie.config import Settings
from vigie.core.events import (
    Incident,
    IncidentAck,
    IncidentContext,
    LinkEvidence,
    NormalizedEvent,
    Source,
    Status,
)
from vigie.store.engine import Executor, Role, StoreError, connect
from vigie.store.schema import Databases

#: Sources that report something happening on their own (cameras need corroboration).
AGENCY_SOURCES = frozenset({Source.POLICE, Source.FIRE, Source.TRANSPORT})
PERSONAL_SUFFIX = "_pseudonym"
#: Rows per INSERT: big enough to be cheap, small enough to retry quickly.
CHUNK_ROWS = 50_000

EVENT_COLUMNS = (
    "event_id",
    "source",
    "kind",
    "role",
    "data_class",
    "event_time",
    "ingest_time",
    "lon",
    "lat",
    "x",
    "y",
    "uncertainty_m",
    "sector",
    "source_ref",
    "attr_keys",
    "attr_values",
    "area_wkt",
    "valid_from",
    "valid_until",
)
PERSONAL_COLUMNS = ("event_id", "source", "data_class", "event_time", "keys", "values")
INCIDENT_COLUMNS = (
    "incident_id",
    "version",
    "status",
    "category",
    "severity",
    "confidence",
    "first_event_time",
    "last_event_time",
    "created_at",
    "updated_at",
    "lon",
    "lat",
    "sector",
    "sources",
    "kinds",
    "event_ids",
    "link_count",
    "weather_alerts",
    "weather_observation",
    "permits",
    "affected_lines",
    "merged_into",
    "explanation",
    "data_class",
)
LINK_COLUMNS = (
    "incident_id",
    "version",
    "event_a",
    "event_b",
    "rule",
    "distance_m",
    "time_gap_ms",
    "created_at",
    "data_class",
)
ACK_COLUMNS = ("ack_id", "incident_id", "action", "at")
ACK_PEOPLE_COLUMNS = ("ack_id", "incident_id", "at", "operator", "assignee", "note")


def event_data_class(event: NormalizedEvent) -> str:
    """``camera`` for camera-derived events, ``event`` for every other source."""
    return "camera" if event.source == Source.CAMERA else "event"


def incident_data_class(sources: Iterable[str]) -> str:
    """``camera`` while cameras are an incident's only evidence, else ``incident``."""
    present = {Source(s) for s in sources}
    if Source.CAMERA in present and not present & AGENCY_SOURCES:
        return "camera"
    return "incident"


@dataclass(frozen=True, slots=True)
class InsertCounts:
    """Rows sent per table by one call (before ClickHouse collapses duplicates)."""

    events: int = 0
    personal: int = 0
    incidents: int = 0
    links: int = 0
    acks: int = 0

    @property
    def total(self) -> int:
        """All rows sent."""
        return self.events + self.personal + self.incidents + self.links + self.acks


class IncidentStore:
    """Idempotent batch writes of events, incident versions, evidence and acks."""

    def __init__(
        self,
        executor: Executor,
        databases: Databases,
        personal_keys: Iterable[str] = (),
    ) -> None:
        self.executor = executor
        self.databases = databases
        self.personal_keys = frozenset(personal_keys)
        self._time_scale: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings, role: Role = "writer") -> IncidentStore:
        """A store on the configured server, as the writer user unless told otherwise."""
        return cls(
            connect(settings, role),
            Databases.from_settings(settings),
            settings.personal_attribute_keys,
        )

    def close(self) -> None:
        """Close the connection."""
        self.executor.close()

    # -- time columns ---------------------------------------------------------------------

    @property
    def time_scale(self) -> int:
        """Units per second of the time columns: 1000 (DateTime64(3)) or 1 (18.16)."""
        if self._time_scale is None:
            found = self.executor.query(
                "SELECT type FROM system.columns"
                " WHERE database = %(db)s AND table = 'events' AND name = 'event_time'",
                {"db": self.databases.main},
            ).scalar()
            if found is None:
                msg = f"{self.databases.main}.events does not exist: run `vigie db migrate`"
                raise StoreError(msg)
            self._time_scale = 1000 if str(found).startswith("DateTime64") else 1
        return self._time_scale

    def _t(self, ms: int) -> int:
        return ms if self.time_scale == 1000 else ms // 1000

    def _t_opt(self, ms: int | None) -> int | None:
        return None if ms is None else self._t(ms)

    # -- writes ---------------------------------------------------------------------------

    def _is_personal(self, key: str) -> bool:
        return key.endswith(PERSONAL_SUFFIX) or key in self.personal_keys

    def _insert(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> int:
        sent = 0
        for start in range(0, len(rows), CHUNK_ROWS):
            sent += self.executor.insert(table, columns, rows[start : start + CHUNK_ROWS])
        return sent

    def insert_events(self, events: Iterable[NormalizedEvent]) -> InsertCounts:
        """Write events (and their personal attributes, apart); repeats are harmless."""
        unique: dict[str, NormalizedEvent] = {}
        for event in events:
            unique.setdefault(event.event_id, event)
        rows: list[tuple[Any, ...]] = []
        personal: list[tuple[Any, ...]] = []
        for e in unique.values():
            data_class = event_data_class(e)
            public = sorted((k, v) for k, v in e.attributes.items() if not self._is_personal(k))
            private = sorted((k, v) for k, v in e.attributes.items() if self._is_personal(k))
            event_time = self._t(e.event_time)
            rows.append(
                (
                    e.event_id,
                    e.source.value,
                    e.kind,
                    e.role.value,
                    data_class,
                    event_time,
                    self._t(e.ingest_time),
                    e.lon,
                    e.lat,
                    e.x,
                    e.y,
                    e.uncertainty_m,
                    e.sector or "",
                    e.source_ref,
                    [k for k, _ in public],
                    [v for _, v in public],
                    e.area_wkt or "",
                    self._t_opt(e.valid_from),
                    self._t_opt(e.valid_until),
                )
            )
            if private:
                personal.append(
                    (
                        e.event_id,
                        e.source.value,
                        data_class,
                        event_time,
                        [k for k, _ in private],
                        [v for _, v in private],
                    )
                )
        main, priv = self.databases.main, self.databases.private
        return InsertCounts(
            personal=self._insert(f"{priv}.event_personal", PERSONAL_COLUMNS, personal),
            events=self._insert(f"{main}.events", EVENT_COLUMNS, rows),
        )

    def insert_incidents(self, incidents: Iterable[Incident]) -> InsertCounts:
        """Write incident versions and the evidence of each; repeats are harmless."""
        unique: dict[tuple[str, int], Incident] = {}
        for incident in incidents:
            unique.setdefault((incident.incident_id, incident.version), incident)
        rows: list[tuple[Any, ...]] = []
        links: dict[tuple[str, int, str, str], tuple[Any, ...]] = {}
        for i in unique.values():
            sources = [s.value for s in i.sources]
            data_class = incident_data_class(sources)
            created_at = self._t(i.created_at)
            for link in i.links:
                a, b = sorted((link.event_a, link.event_b))
                links.setdefault(
                    (i.incident_id, i.version, a, b),
                    (
                        i.incident_id,
                        i.version,
                        a,
                        b,
                        link.rule,
                        link.distance_m,
                        link.time_gap_ms,
                        created_at,
                        data_class,
                    ),
                )
            rows.append(
                (
                    i.incident_id,
                    i.version,
                    i.status.value,
                    i.category,
                    i.severity,
                    i.confidence,
                    self._t(i.first_event_time),
                    self._t(i.last_event_time),
                    created_at,
                    self._t(i.updated_at),
                    i.lon,
                    i.lat,
                    i.sector or "",
                    sources,
                    list(i.kinds),
                    list(i.event_ids),
                    len(i.links),
                    list(i.context.weather_alerts),
                    i.context.weather_observation or "",
                    list(i.context.permits),
                    list(i.context.affected_lines),
                    i.merged_into or "",
                    i.explanation or "",
                    data_class,
                )
            )
        main = self.databases.main
        # Evidence first: a reader never sees an incident version whose links are missing.
        return InsertCounts(
            links=self._insert(f"{main}.incident_links", LINK_COLUMNS, list(links.values())),
            incidents=self._insert(f"{main}.incidents", INCIDENT_COLUMNS, rows),
        )

    def insert_acks(self, acks: Iterable[IncidentAck]) -> InsertCounts:
        """Write operator actions (who did it, apart); repeats are harmless."""
        unique: dict[str, IncidentAck] = {}
        for ack in acks:
            unique.setdefault(ack.ack_id, ack)
        rows = [(a.ack_id, a.incident_id, str(a.action), self._t(a.at)) for a in unique.values()]
        people = [
            (a.ack_id, a.incident_id, self._t(a.at), a.operator, a.assignee or "", a.note or "")
            for a in unique.values()
        ]
        main, priv = self.databases.main, self.databases.private
        return InsertCounts(
            personal=self._insert(f"{priv}.ack_people", ACK_PEOPLE_COLUMNS, people),
            acks=self._insert(f"{main}.incident_acks", ACK_COLUMNS, rows),
        )

    # -- reads ----------------------------------------------------------------------------

    def count_events(self) -> int:
        """Distinct events stored (duplicates not merged yet are not counted)."""
        db = self.databases.main
        return int(self.executor.query(f"SELECT count() FROM {db}.events FINAL").scalar())

    def count_incidents(self) -> int:
        """Distinct incidents (each at its latest version)."""
        db = self.databases.main
        return int(self.executor.query(f"SELECT count() FROM {db}.incidents FINAL").scalar())

    def latest_versions(self) -> dict[str, int]:
        """Latest version of every incident, by id (argMax: no FINAL needed)."""
        db = self.databases.main
        result = self.executor.query(
            f"SELECT incident_id, max(version) FROM {db}.incidents GROUP BY incident_id"
        )
        return {str(i): int(v) for i, v in result.rows}

    def get_incident(self, incident_id: str) -> Incident | None:
        """The latest stored version of one incident with its current evidence."""
        db = self.databases.main
        columns = ", ".join(INCIDENT_COLUMNS)
        found = self.executor.query(
            f"SELECT {columns} FROM {db}.incidents FINAL WHERE incident_id = %(id)s",
            {"id": incident_id},
        ).dicts()
        if not found:
            return None
        row = found[0]
        links = self.executor.query(
            f"SELECT event_a, event_b, rule, distance_m, time_gap_ms FROM {db}.incident_links "
            "FINAL WHERE incident_id = %(id)s AND version = %(v)s ORDER BY event_a, event_b",
            {"id": incident_id, "v": int(row["version"])},
        ).rows
        return Incident(
            incident_id=str(row["incident_id"]),
            version=int(row["version"]),
            status=Status(str(row["status"])),
            category=str(row["category"]),
            severity=int(row["severity"]),
            confidence=float(row["confidence"]),
            first_event_time=to_ms(row["first_event_time"]),
            last_event_time=to_ms(row["last_event_time"]),
            created_at=to_ms(row["created_at"]),
            updated_at=to_ms(row["updated_at"]),
            lon=float(row["lon"]),
            lat=float(row["lat"]),
            sector=str(row["sector"]) or None,
            sources=tuple(Source(s) for s in row["sources"]),
            kinds=tuple(row["kinds"]),
            event_ids=tuple(row["event_ids"]),
            links=tuple(
                LinkEvidence(str(a), str(b), str(rule), float(d), int(g))
                for a, b, rule, d, g in links
            ),
            context=IncidentContext(
                weather_alerts=tuple(row["weather_alerts"]),
                weather_observation=str(row["weather_observation"]) or None,
                permits=tuple(row["permits"]),
                affected_lines=tuple(row["affected_lines"]),
            ),
            merged_into=str(row["merged_into"]) or None,
            explanation=str(row["explanation"]) or None,
        )

    def incident_status(self, incident_id: str) -> dict[str, Any] | None:
        """Latest version and latest operator action of one incident."""
        found = self.executor.query(
            f"SELECT * FROM {self.databases.main}.incident_status WHERE incident_id = %(id)s",
            {"id": incident_id},
        ).dicts()
        return found[0] if found else None


def to_ms(value: Any) -> int:
    """Milliseconds since the epoch from what either engine returns for a time column."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return round(value.timestamp() * 1000)
    return int(value)
