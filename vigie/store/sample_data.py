"""A small, deterministic simulated city for the analytics tests, benchmark and cookbook.

Pure: no I/O, no clock. It builds what the pipeline would have written to ClickHouse for a
few days of Marseille: normalised events from the six feeds (with pseudonymised caller
fields, so the privacy split is exercised), incidents in several versions with their link
evidence and context (weather alerts, permits, affected lines), and operator actions.
Shapes follow ``rules/fusion.yaml`` (kinds, link rules, categories) so every question of
the analyst cookbook has a plausible, non-empty answer: hotspot sectors, more fire calls
under weather alerts, camera detections corroborated by police calls, noise explained by
event permits, transport lines hit by accidents and fires.

It is not fusion: incidents are drawn from scenarios, not computed. Once the simulator
and the real pipeline fill ClickHouse, the same tests can run on that data instead.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

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

HOUR_MS = 3_600_000
MINUTE_MS = 60_000

#: Approximate centres of some arrondissements (lon, lat); weights make two hotspots.
SECTORS: dict[str, tuple[float, float, float]] = {
    "13201": (5.3810, 43.2990, 4.0),
    "13202": (5.3640, 43.3110, 1.5),
    "13203": (5.3800, 43.3120, 3.0),
    "13204": (5.4010, 43.3060, 1.0),
    "13205": (5.3980, 43.2920, 1.0),
    "13206": (5.3800, 43.2870, 1.5),
    "13207": (5.3600, 43.2830, 0.7),
    "13208": (5.3850, 43.2500, 0.8),
}
LINES = ("M1", "M2", "T1", "T2", "T3", "B21", "B83")


@dataclass(frozen=True, slots=True)
class Scenario:
    """A kind of incident: the reports it produces, their link rule and category."""

    category: str
    severity: int
    rule: str
    reports: tuple[tuple[Source, str], ...]
    weight: float
    night: bool = False  # mostly late evening and night
    weather_sensitive: bool = False  # three times as frequent under a weather alert


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "shooting",
        5,
        "violence",
        (
            (Source.CAMERA, "gunshot"),
            (Source.POLICE, "shots_fired"),
            (Source.POLICE, "shots_fired"),
        ),
        0.4,
        night=True,
    ),
    Scenario("fight", 4, "violence", ((Source.CAMERA, "fight"), (Source.POLICE, "assault")), 1.2),
    Scenario(
        "noise",
        2,
        "night_noise",
        ((Source.CAMERA, "loud_music"), (Source.POLICE, "noise_complaint")),
        1.6,
        night=True,
    ),
    Scenario("gathering", 2, "night_noise", ((Source.CAMERA, "crowd"),), 1.0, night=True),
    Scenario(
        "structure_fire",
        5,
        "fire",
        (
            (Source.FIRE, "structure_fire"),
            (Source.POLICE, "fire_report"),
            (Source.TRANSPORT, "service_alert"),
        ),
        0.6,
        weather_sensitive=True,
    ),
    Scenario(
        "vehicle_fire",
        4,
        "fire",
        ((Source.FIRE, "vehicle_fire"), (Source.CAMERA, "smoke")),
        0.6,
        weather_sensitive=True,
    ),
    Scenario("brush_fire", 4, "fire", ((Source.FIRE, "brush_fire"),), 0.4, weather_sensitive=True),
    Scenario(
        "road_accident",
        3,
        "road",
        (
            (Source.POLICE, "traffic_collision"),
            (Source.FIRE, "road_accident"),
            (Source.TRANSPORT, "service_alert"),
        ),
        1.0,
    ),
    Scenario("medical", 3, "violence", ((Source.FIRE, "medical"),), 0.8),
    Scenario("transport_disruption", 2, "road", ((Source.TRANSPORT, "service_alert"),), 0.5),
)


@dataclass(frozen=True, slots=True)
class SampleCity:
    """Everything the sink would have written for the simulated period."""

    start_ms: int
    end_ms: int
    events: tuple[NormalizedEvent, ...]
    incidents: tuple[Incident, ...]  # every version, in emission order
    acks: tuple[IncidentAck, ...]

    def latest(self) -> dict[str, Incident]:
        """The latest version of each incident."""
        out: dict[str, Incident] = {}
        for incident in self.incidents:
            if (
                incident.incident_id not in out
                or incident.version > out[incident.incident_id].version
            ):
                out[incident.incident_id] = incident
        return out


def _pseudonym(text: str) -> str:
    return hashlib.sha256(f"sample:{text}".encode()).hexdigest()


def _project(lon: float, lat: float) -> tuple[float, float]:
    """Metres near Marseille, close to Lambert-93 (good enough for fixture distances)."""
    x = 892_000.0 + (lon - 5.3698) * 111_320.0 * math.cos(math.radians(43.2965))
    y = 6_247_000.0 + (lat - 43.2965) * 110_574.0
    return x, y


def _city_polygon() -> str:
    return "POLYGON((5.28 43.20, 5.55 43.20, 5.55 43.40, 5.28 43.40, 5.28 43.20))"


@dataclass
class _Builder:
    rng: random.Random
    start_ms: int
    end_ms: int
    events: list[NormalizedEvent] = field(default_factory=list)
    counter: int = 0

    def event_id(self, source: Source) -> str:
        self.counter += 1
        return f"{source.value}:{self.counter:07d}"

    def event(
        self,
        source: Source,
        kind: str,
        at: int,
        lon: float,
        lat: float,
        sector: str | None,
        *,
        role: Role = Role.EVIDENCE,
        attributes: dict[str, str] | None = None,
        area_wkt: str | None = None,
        valid: tuple[int, int] | None = None,
        uncertainty_m: float = 50.0,
    ) -> NormalizedEvent:
        event_id = self.event_id(source)
        x, y = _project(lon, lat)
        attrs = dict(attributes or {})
        if source == Source.POLICE:
            attrs.setdefault("call_id", f"call-{self.counter}")
            attrs["caller_name_pseudonym"] = _pseudonym(f"name-{self.rng.randrange(500)}")
            attrs["caller_phone_pseudonym"] = _pseudonym(f"phone-{self.rng.randrange(500)}")
        if source == Source.CAMERA:
            attrs.setdefault("camera_id", f"cam-{sector}-{self.rng.randrange(1, 6)}")
            attrs.setdefault("score", f"{self.rng.uniform(0.55, 0.99):.2f}")
        event = NormalizedEvent(
            event_id=event_id,
            source=source,
            kind=kind,
            role=role,
            event_time=at,
            ingest_time=at + self.rng.randrange(500, 40_000),
            lon=lon,
            lat=lat,
            x=x,
            y=y,
            uncertainty_m=uncertainty_m,
            sector=sector,
            source_ref=f"{source.value}-{self.counter}",
            attributes=attrs,
            area_wkt=area_wkt,
            valid_from=valid[0] if valid else None,
            valid_until=valid[1] if valid else None,
        )
        self.events.append(event)
        return event

    def place(self, sector: str) -> tuple[float, float]:
        lon, lat, _ = SECTORS[sector]
        return lon + self.rng.gauss(0, 0.003), lat + self.rng.gauss(0, 0.002)


def _hour_weight(hour: int, night: bool) -> float:
    if night:
        return 3.0 if hour >= 21 or hour < 3 else 0.3
    return 1.5 if 7 <= hour <= 20 else 0.6


def build_sample(anchor_ms: int, *, hours: int = 72, seed: int = 7) -> SampleCity:
    """A city's ``hours`` up to ``anchor_ms`` (exclusive), the same for the same arguments."""
    rng = random.Random(seed)
    end_ms = anchor_ms - anchor_ms % HOUR_MS
    start_ms = end_ms - hours * HOUR_MS
    b = _Builder(rng, start_ms, end_ms)

    # Context: two weather alerts over the whole city, some event permits, hourly weather.
    alerts: list[NormalizedEvent] = []
    for fraction, kind in ((0.2, "wind"), (0.65, "heat")):
        begin = start_ms + int(hours * fraction) * HOUR_MS
        alerts.append(
            b.event(
                Source.WEATHER,
                "weather_alert",
                begin,
                5.3698,
                43.2965,
                None,
                role=Role.CONTEXT,
                attributes={"level": "orange", "hazard": kind},
                area_wkt=_city_polygon(),
                valid=(begin, begin + 8 * HOUR_MS),
                uncertainty_m=0,
            )
        )
    for hour in range(hours):
        b.event(
            Source.WEATHER,
            "weather_observation",
            start_ms + hour * HOUR_MS,
            5.3698,
            43.2965,
            None,
            role=Role.CONTEXT,
            attributes={"station": "13055001", "temp_c": f"{rng.uniform(14, 33):.1f}"},
            uncertainty_m=0,
        )
    permits: list[NormalizedEvent] = []
    first_midnight = start_ms - start_ms % (24 * HOUR_MS)
    for day in range(hours // 24 + 1):
        sector = ("13201", "13202", "13206")[day % 3]
        lon, lat, _ = SECTORS[sector]
        begin = first_midnight + day * 24 * HOUR_MS + 19 * HOUR_MS  # festival evenings
        if begin >= end_ms:
            break
        permits.append(
            b.event(
                Source.PERMITS,
                "event_permit",
                begin - 5 * 24 * HOUR_MS,
                lon,
                lat,
                sector,
                role=Role.CONTEXT,
                attributes={"permit_id": f"P-{day}", "organiser": "festival"},
                area_wkt=(
                    f"POLYGON(({lon - 0.01} {lat - 0.01}, {lon + 0.01} {lat - 0.01}, "
                    f"{lon + 0.01} {lat + 0.01}, {lon - 0.01} {lat + 0.01}, "
                    f"{lon - 0.01} {lat - 0.01}))"
                ),
                valid=(begin, begin + 7 * HOUR_MS),
                uncertainty_m=0,
            )
        )

    def alert_at(at: int) -> NormalizedEvent | None:
        for alert in alerts:
            assert alert.valid_from is not None and alert.valid_until is not None
            if alert.valid_from <= at < alert.valid_until:
                return alert
        return None

    def permit_at(sector: str, at: int) -> NormalizedEvent | None:
        for permit in permits:
            assert permit.valid_from is not None and permit.valid_until is not None
            if permit.sector == sector and permit.valid_from <= at < permit.valid_until:
                return permit
        return None

    # Background: vehicle positions and unlinked police calls.
    for _ in range(hours * 4):
        sector = rng.choice(list(SECTORS))
        lon, lat = b.place(sector)
        b.event(
            Source.TRANSPORT,
            "vehicle_position",
            start_ms + rng.randrange(hours * HOUR_MS),
            lon,
            lat,
            sector,
            role=Role.CONTEXT,
            attributes={"line": rng.choice(LINES), "vehicle": f"V{rng.randrange(100, 400)}"},
            uncertainty_m=20,
        )
    for _ in range(hours):
        sector = rng.choice(list(SECTORS))
        lon, lat = b.place(sector)
        b.event(
            Source.POLICE, "suspicious", start_ms + rng.randrange(hours * HOUR_MS), lon, lat, sector
        )

    # Incidents, hour by hour.
    incidents: list[Incident] = []
    acks: list[IncidentAck] = []
    sector_names = list(SECTORS)
    sector_weights = [SECTORS[s][2] for s in sector_names]
    number = 0
    for hour in range(hours):
        hour_start = start_ms + hour * HOUR_MS
        hour_of_day = (hour_start // HOUR_MS) % 24
        under_alert = alert_at(hour_start + HOUR_MS // 2) is not None
        for scenario in SCENARIOS:
            rate = 0.35 * scenario.weight * _hour_weight(hour_of_day, scenario.night)
            if scenario.weather_sensitive and under_alert:
                rate *= 3
            count = int(rate) + (1 if rng.random() < rate - int(rate) else 0)
            for _ in range(count):
                number += 1
                sector = rng.choices(sector_names, sector_weights)[0]
                first_at = hour_start + rng.randrange(HOUR_MS - 10 * MINUTE_MS)
                versions, incident_acks = _incident(
                    b, scenario, f"inc-{number:05d}", sector, first_at, alert_at, permit_at
                )
                incidents.extend(versions)
                acks.extend(incident_acks)

    return SampleCity(
        start_ms=start_ms,
        end_ms=end_ms,
        events=tuple(b.events),
        incidents=tuple(incidents),
        acks=tuple(acks),
    )


def _incident(
    b: _Builder,
    scenario: Scenario,
    incident_id: str,
    sector: str,
    first_at: int,
    alert_at: Callable[[int], NormalizedEvent | None],
    permit_at: Callable[[str, int], NormalizedEvent | None],
) -> tuple[list[Incident], list[IncidentAck]]:
    rng = b.rng
    reports = list(scenario.reports)
    # Some incidents get only their first report(s): not every camera detection is called in.
    if len(reports) > 1 and rng.random() < 0.25:
        reports = reports[: rng.randrange(1, len(reports))]
    at = first_at
    events: list[NormalizedEvent] = []
    line = rng.choice(LINES)
    centre_lon, centre_lat = b.place(sector)
    for source, kind in reports:
        # Reports of one incident fall within a few hundred metres of each other.
        lon = centre_lon + rng.gauss(0, 0.0008)
        lat = centre_lat + rng.gauss(0, 0.0006)
        attributes = {"line": line} if source == Source.TRANSPORT else {}
        events.append(b.event(source, kind, at, lon, lat, sector, attributes=attributes))
        at += rng.randrange(MINUTE_MS // 2, 9 * MINUTE_MS)

    alert = alert_at(first_at)
    permit = permit_at(sector, first_at) if scenario.rule == "night_noise" else None
    severity = scenario.severity
    explanation = None
    if permit is not None:
        severity = max(1, severity - 1)
        explanation = "permit_explains_noise: an active permit covers the place and time"
    context = IncidentContext(
        weather_alerts=(alert.event_id,) if alert is not None else (),
        weather_observation="13055001",
        permits=(permit.event_id,) if permit is not None else (),
        affected_lines=(line,) if any(e.source == Source.TRANSPORT for e in events) else (),
    )
    created_at = events[0].ingest_time + rng.randrange(50, 2_500)

    versions: list[Incident] = []
    cut_points = list(range(1, len(events) + 1))
    for number, cut in enumerate(cut_points, start=1):
        part = events[:cut]
        closing = cut == len(events)
        links = tuple(
            LinkEvidence(
                event_a=part[i].event_id,
                event_b=part[i + 1].event_id,
                rule=scenario.rule,
                distance_m=round(
                    math.dist((part[i].x, part[i].y), (part[i + 1].x, part[i + 1].y)), 1
                ),
                time_gap_ms=part[i + 1].event_time - part[i].event_time,
            )
            for i in range(len(part) - 1)
        )
        updated_at = part[-1].ingest_time + rng.randrange(50, 2_500) if number > 1 else created_at
        versions.append(
            Incident(
                incident_id=incident_id,
                version=number,
                status=Status.OPEN if number == 1 else Status.UPDATED,
                category=scenario.category,
                severity=severity,
                confidence=round(min(0.99, 0.4 + 0.15 * len(part)), 2),
                first_event_time=part[0].event_time,
                last_event_time=part[-1].event_time,
                created_at=created_at,
                updated_at=updated_at,
                lon=sum(e.lon for e in part) / len(part),
                lat=sum(e.lat for e in part) / len(part),
                sector=sector,
                sources=tuple(sorted({e.source for e in part}, key=str)),
                kinds=tuple(sorted({e.kind for e in part})),
                event_ids=tuple(e.event_id for e in part),
                links=links,
                context=context,
                explanation=explanation,
            )
        )
        if closing:
            last = versions[-1]
            closed_at = last.last_event_time + 30 * MINUTE_MS
            versions.append(
                replace(last, version=number + 1, status=Status.CLOSED, updated_at=closed_at)
            )

    acks: list[IncidentAck] = []
    if rng.random() < 0.85:
        # Severe incidents are picked up faster.
        delay = int(rng.lognormvariate(math.log(60_000 * (7 - severity)), 0.6))
        ack_at = created_at + delay
        operator = f"op-{rng.randrange(1, 6):02d}"
        acks.append(
            IncidentAck(f"ack-{incident_id}-1", incident_id, AckAction.ACK, operator, ack_at)
        )
        if severity >= 3:
            acks.append(
                IncidentAck(
                    f"ack-{incident_id}-2",
                    incident_id,
                    AckAction.ASSIGN,
                    operator,
                    ack_at + rng.randrange(20_000, 240_000),
                    assignee=f"unit-{rng.randrange(1, 30)}",
                    note="sent nearest unit",
                )
            )
    return versions, acks
