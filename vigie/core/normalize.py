"""Raw feed records → :class:`NormalizedEvent`: one vocabulary for every agency.

Each feed speaks its own codes (CAD call types, fire call types, camera analytics labels,
GTFS-Realtime entities, CAP alerts, permit kinds). Fusion rules speak of *kinds*; this module
is the one place that translates, so adding a feed means adding a table here and its kinds
to the rules file (a unit test checks the two agree).

A record the city cannot use (outside the city's area, an event time far in the future)
becomes a :class:`Rejection` with a closed reason, never an exception.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from vigie.core.events import NormalizedEvent, Role, Source
from vigie.core.geo import CityGeometry
from vigie.core.rules import Rules
from vigie.core.serde.convert import millis
from vigie.core.serde.errors import SerdeError

#: Namespace of event ids: uuid5(namespace, "<source>:<record_id>") is stable across replays.
EVENT_ID_NAMESPACE = uuid.UUID("6f0d3a4e-5b1c-4c1e-9a57-0e7c1b6a9d21")

#: An event time more than this far after ingest is a broken clock, not a prophecy.
MAX_FUTURE_MS = 15 * 60 * 1000

POLICE_KINDS = {
    "SHOTS": "shots_fired",
    "WEAPON": "weapon",
    "ASSAULT": "assault",
    "ROBBERY": "robbery",
    "BURGLARY": "burglary",
    "THEFT": "theft",
    "VANDALISM": "vandalism",
    "NOISE": "noise_complaint",
    "DISTURB": "disturbance",
    "TRAFFIC": "traffic_collision",
    "SUSPECT": "suspicious",
    "FIRE": "fire_report",
    "MISSING": "missing_person",
    "OTHER": "police_other",
}
FIRE_KINDS = {
    "STRUCTURE_FIRE": "structure_fire",
    "VEHICLE_FIRE": "vehicle_fire",
    "OUTDOOR_FIRE": "brush_fire",
    "SMOKE": "smoke_report",
    "GAS_LEAK": "gas_leak",
    "ALARM": "fire_alarm",
    "MEDICAL": "medical",
    "TRAFFIC_COLLISION": "road_accident",
    "RESCUE": "rescue",
    "FLOODING": "flooding",
    "HAZMAT": "hazmat",
    "OTHER": "fire_other",
}
CAMERA_KINDS = {
    "gunshot": "gunshot",
    "scream": "scream",
    "explosion": "explosion",
    "glass_break": "glass_break",
    "loud_music": "loud_music",
    "crowd": "crowd",
    "gathering": "crowd",
    "fight": "fight",
    "running": "running",
    "loitering": "unusual_behaviour",
    "abandoned_object": "abandoned_object",
    "smoke": "smoke",
    "fire": "smoke",
    "vehicle_wrong_way": "wrong_way_vehicle",
    "intrusion": "intrusion",
    "other": "camera_other",
}
PERMIT_KINDS = {
    "roadworks": "roadworks",
    "event": "event_permit",
    "traffic_order": "traffic_order",
    "filming": "permit",
    "market": "permit",
    "other": "permit",
}


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a raw record did not become an event (the DLQ carries it with the bytes)."""

    reason: str
    detail: str


def event_id_for(source: Source, record_id: str) -> str:
    """The deterministic id of the event a source record becomes."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{source.value}:{record_id}"))


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _attrs(**values: Any) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v is not None and v != ""}


@dataclass(frozen=True, slots=True)
class _Reading:
    """What each feed adapter extracts before the shared checks and projection."""

    kind: str
    event_time: int
    lon: float
    lat: float
    attributes: dict[str, str]
    uncertainty_m: float | None = None
    area_wkt: str | None = None
    valid_from: int | None = None
    valid_until: int | None = None


def _police(r: Mapping[str, Any]) -> _Reading:
    return _Reading(
        kind=POLICE_KINDS.get(str(r["call_type"]), "police_other"),
        event_time=millis(r["received_at"]),
        lon=r["lon"],
        lat=r["lat"],
        attributes=_attrs(
            call_type=r["call_type"],
            priority=r.get("priority"),
            disposition=r.get("disposition"),
            dispatched_at=millis(r["dispatched_at"]) if r.get("dispatched_at") else None,
        ),
    )


def _fire(r: Mapping[str, Any]) -> _Reading:
    return _Reading(
        kind=FIRE_KINDS.get(str(r["call_type"]), "fire_other"),
        event_time=millis(r["received_at"]),
        lon=r["lon"],
        lat=r["lat"],
        attributes=_attrs(
            call_type=r["call_type"],
            priority=r.get("priority"),
            alarm_level=r.get("alarm_level"),
            unit_id=r.get("unit_id"),
            unit_type=r.get("unit_type"),
            dispatched_at=millis(r["dispatched_at"]) if r.get("dispatched_at") else None,
            on_scene_at=millis(r["on_scene_at"]) if r.get("on_scene_at") else None,
        ),
    )


def _camera(r: Mapping[str, Any]) -> _Reading:
    return _Reading(
        kind=CAMERA_KINDS.get(str(r["event_type"]), "camera_other"),
        event_time=millis(r["detected_at"]),
        lon=r["lon"],
        lat=r["lat"],
        uncertainty_m=float(r["range_m"]) if r.get("range_m") else None,
        attributes=_attrs(
            camera_id=r["camera_id"],
            detection=r["event_type"],
            confidence=r.get("confidence"),
            object_count=r.get("object_count"),
        ),
    )


def _transport(r: Mapping[str, Any]) -> _Reading:
    vehicle = r.get("vehicle")
    if vehicle is not None:
        return _Reading(
            kind="vehicle_position",
            event_time=millis(vehicle["observed_at"]),
            lon=vehicle["lon"],
            lat=vehicle["lat"],
            attributes=_attrs(
                line=vehicle.get("route_id"),
                vehicle_id=vehicle.get("vehicle_id"),
                trip_id=vehicle.get("trip_id"),
                stop_id=vehicle.get("stop_id"),
            ),
        )
    alert = r.get("alert")
    if alert is None:
        msg = "transport record carries neither a vehicle position nor an alert"
        raise ValueError(msg)
    stops = alert.get("stops") or []
    positioned = [s for s in stops if s.get("lon") is not None and s.get("lat") is not None]
    if not positioned:
        msg = "transport alert has no located stop"
        raise ValueError(msg)
    lon = sum(float(s["lon"]) for s in positioned) / len(positioned)
    lat = sum(float(s["lat"]) for s in positioned) / len(positioned)
    periods = alert.get("active_periods") or []
    starts = [millis(p["start"]) for p in periods if p.get("start") is not None]
    ends = [millis(p["end"]) for p in periods if p.get("end") is not None]
    return _Reading(
        kind="service_alert",
        event_time=min(starts) if starts else millis(alert["feed_time"]),
        lon=lon,
        lat=lat,
        attributes=_attrs(
            line=",".join(alert.get("route_ids") or []),
            cause=alert.get("cause"),
            effect=alert.get("effect"),
            header=alert.get("header_text"),
        ),
        valid_from=min(starts) if starts else None,
        valid_until=max(ends) if ends else None,
    )


def _weather(r: Mapping[str, Any]) -> _Reading:
    obs = r.get("observation")
    if obs is not None:
        return _Reading(
            kind="weather_observation",
            event_time=millis(obs["observed_at"]),
            lon=obs["lon"],
            lat=obs["lat"],
            attributes=_attrs(
                station_id=obs["station_id"],
                temperature_c=obs.get("temperature_c"),
                wind_speed_ms=obs.get("wind_speed_ms"),
                wind_gust_ms=obs.get("wind_gust_ms"),
                precip_1h_mm=obs.get("precip_1h_mm"),
            ),
        )
    alert = r.get("alert")
    if alert is None:
        msg = "weather record carries neither an observation nor an alert"
        raise ValueError(msg)
    onset = millis(alert["onset"])
    expires = millis(alert["expires"]) if alert.get("expires") else None
    return _Reading(
        kind="weather_alert",
        event_time=millis(alert["sent"]),  # when it was published; onset may lie ahead
        lon=alert["centroid_lon"],
        lat=alert["centroid_lat"],
        area_wkt=alert["area_wkt"],
        valid_from=onset,
        valid_until=expires,
        attributes=_attrs(
            event=alert["event"],
            severity=alert.get("severity"),
            urgency=alert.get("urgency"),
            msg_type=alert.get("msg_type"),
            headline=alert.get("headline"),
        ),
    )


def _permits(r: Mapping[str, Any]) -> _Reading:
    return _Reading(
        kind=PERMIT_KINDS.get(str(r["kind"]), "permit"),
        # Known since it was issued (or read); validity may start days later.
        event_time=millis(r["issued_at"] or r["ingest_time"]),
        lon=r["centroid_lon"],
        lat=r["centroid_lat"],
        area_wkt=r["area_wkt"],
        valid_from=millis(r["valid_from"]),
        valid_until=millis(r["valid_until"]),
        attributes=_attrs(
            permit_kind=r["kind"],
            measure=r.get("measure"),
            noise_expected=str(bool(r.get("noise_expected"))).lower(),
            title=r.get("title"),
        ),
    )


#: Raw schema full name → (source, adapter). The Avro writer schema says which feed it is.
FEEDS: dict[str, tuple[Source, Callable[[Mapping[str, Any]], _Reading]]] = {
    "org.vigie.raw.v1.PoliceCall": (Source.POLICE, _police),
    "org.vigie.raw.v1.FireDispatch": (Source.FIRE, _fire),
    "org.vigie.raw.v1.CameraDetection": (Source.CAMERA, _camera),
    "org.vigie.raw.v1.TransportEntity": (Source.TRANSPORT, _transport),
    "org.vigie.raw.v1.WeatherRecord": (Source.WEATHER, _weather),
    "org.vigie.raw.v1.Permit": (Source.PERMITS, _permits),
}


def emitted_kinds() -> frozenset[str]:
    """Every kind the normaliser can emit (the rules file must know each)."""
    kinds = {*POLICE_KINDS.values(), *FIRE_KINDS.values(), *CAMERA_KINDS.values()}
    kinds |= {*PERMIT_KINDS.values(), "vehicle_position", "service_alert"}
    kinds |= {"weather_observation", "weather_alert"}
    return frozenset(kinds)


class Normalizer:
    """Turns decoded raw records into events for one city and one rules file."""

    def __init__(self, geometry: CityGeometry, rules: Rules) -> None:
        self.geometry = geometry
        self.rules = rules

    def normalize(
        self, schema_name: str, record: Mapping[str, Any]
    ) -> NormalizedEvent | Rejection:
        """One raw record → one event, or the reason it cannot be one."""
        feed = FEEDS.get(schema_name)
        if feed is None:
            return Rejection("unknown_schema", f"no feed reads {schema_name}")
        source, adapter = feed
        try:
            reading = adapter(record)
            ingest = millis(record["ingest_time"])
            record_id = str(record["record_id"])
        except (KeyError, TypeError, ValueError, SerdeError) as exc:
            return Rejection("invalid_record", f"{type(exc).__name__}: {exc}")
        if not self.geometry.contains_city(reading.lon, reading.lat):
            return Rejection("outside_city", f"{source.value} record lies outside the city")
        if reading.event_time > ingest + MAX_FUTURE_MS:
            return Rejection("impossible_timestamp", "event time is after its ingest time")
        role = self.rules.role_of(reading.kind)
        if role is None:
            return Rejection("unknown_kind", f"the rules file has no kind {reading.kind!r}")
        x, y = self.geometry.project(reading.lon, reading.lat)
        uncertainty = reading.uncertainty_m
        if uncertainty is None:
            uncertainty = self.rules.uncertainty_of(reading.kind)
        return NormalizedEvent(
            event_id=event_id_for(source, record_id),
            source=source,
            kind=reading.kind,
            role=Role(role),
            event_time=reading.event_time,
            ingest_time=ingest,
            lon=float(reading.lon),
            lat=float(reading.lat),
            x=x,
            y=y,
            uncertainty_m=float(uncertainty),
            sector=self.geometry.sector_of(reading.lon, reading.lat),
            source_ref=record_id,
            attributes=reading.attributes,
            area_wkt=reading.area_wkt,
            valid_from=reading.valid_from,
            valid_until=reading.valid_until,
        )
