"""Raw feed records → :class:`NormalizedEvent`: one vocabulary for every agency.

Each feed speaks its own codes (CAD call types, fire call types, camera analytics labels,
GTFS-Realtime entities, CAP alerts, permit kinds). Fusion rules speak of *kinds*. Which code
becomes which kind is data, in the rules file (``codes:`` of each kind, looked up with
``Rules.kind_for``); this module only reads each feed's fields: its code, time, place and
the attributes worth keeping.

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

    code: str
    event_time: int
    lon: float
    lat: float
    attributes: dict[str, str]
    uncertainty_m: float | None = None
    area_wkt: str | None = None
    valid_from: int | None = None
    valid_until: int | None = None
    detail: str | None = None  # refines the code where the rules split it (alert cause)


def _police(r: Mapping[str, Any]) -> _Reading:
    return _Reading(
        code=str(r["call_type"]),
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
        code=str(r["call_type"]),
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
        code=str(r["event_type"]),
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
            code="VEHICLE_POSITION",
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
        code="ALERT",
        detail=_opt(alert.get("cause")),
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
            code="observation",
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
        code="alert",
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
        code=str(r["kind"]),
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


#: Feeds whose Kafka timestamp is the record's publication (ingest) time, not its event time.
#: A permit registry publishes permits days or weeks after issuing them: stamped with the
#: issue date, every permit would hold the job's event time (the watermark, the minimum
#: over partitions) back by weeks, and no incident would close while permits keep coming.
#: Permits are context, joined by their validity, so where they sit in event time matters
#: to nothing else.
STAMPED_AT_PUBLICATION = frozenset({Source.PERMITS})


def event_time_of(schema_name: str, record: Mapping[str, Any]) -> int | None:
    """The time a raw record's Kafka timestamp carries: its event time, as a rule.

    Producers stamp raw records with it, so Flink's Kafka source can track event time
    per partition without decoding (None: the record is unusable; the job will say why).
    Feeds in :data:`STAMPED_AT_PUBLICATION` carry their publication time instead.
    """
    feed = FEEDS.get(schema_name)
    if feed is None:
        return None
    try:
        if feed[0] in STAMPED_AT_PUBLICATION:
            return millis(record["ingest_time"])
        return feed[1](record).event_time
    except (KeyError, TypeError, ValueError, SerdeError):
        return None


class Normalizer:
    """Turns decoded raw records into events for one city and one rules file."""

    def __init__(self, geometry: CityGeometry, rules: Rules) -> None:
        self.geometry = geometry
        self.rules = rules

    def normalize(self, schema_name: str, record: Mapping[str, Any]) -> NormalizedEvent | Rejection:
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
        kind = self.rules.kind_for(source.value, reading.code, reading.detail)
        role = None if kind is None else self.rules.role_of(kind)
        if kind is None or role is None:
            code = reading.code + (f"/{reading.detail}" if reading.detail else "")
            return Rejection("unknown_code", f"the rules map no kind to {source.value}:{code}")
        x, y = self.geometry.project(reading.lon, reading.lat)
        uncertainty = reading.uncertainty_m
        if uncertainty is None:
            uncertainty = self.rules.uncertainty_of(kind)
        return NormalizedEvent(
            event_id=event_id_for(source, record_id),
            source=source,
            kind=kind,
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
