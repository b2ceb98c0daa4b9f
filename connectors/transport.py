"""Public transport: GTFS-Realtime vehicle positions and alerts, checked against static GTFS.

Operators publish GTFS-Realtime as protobuf ``FeedMessage`` payloads; the static GTFS
``stops.txt``/``routes.txt`` say which routes and stops exist and where the stops are, so an
alert about a stop can be placed on the map. Licence plates are personal and pseudonymised
here. Format: docs/feeds.md#transport.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2 as rt

from connectors.base import (
    ParseContext,
    Reason,
    RecordRejected,
    Rejection,
    SourcePosition,
    check_instant,
    check_lon_lat,
    check_order,
)
from vigie.core.privacy import IdentifierKind, pseudonymise_optional
from vigie.errors import VigieError


class StaticGtfsError(VigieError):
    """The static GTFS files cannot be used."""


@dataclass(frozen=True, slots=True)
class Stop:
    """A GTFS stop and its position."""

    stop_id: str
    name: str
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class StaticGtfs:
    """The reference data the realtime feed is checked against."""

    stops: dict[str, Stop]
    routes: frozenset[str]


def load_static_gtfs(folder: Path) -> StaticGtfs:
    """Read ``stops.txt`` and ``routes.txt`` from a GTFS folder."""
    try:
        stops_text = (folder / "stops.txt").read_text(encoding="utf-8-sig")
        routes_text = (folder / "routes.txt").read_text(encoding="utf-8-sig")
    except OSError as exc:
        msg = f"cannot read static GTFS stops.txt/routes.txt in {folder}: {exc}"
        raise StaticGtfsError(msg) from exc
    return parse_static_gtfs(stops_text, routes_text)


def parse_static_gtfs(stops_text: str, routes_text: str) -> StaticGtfs:
    """Parse the two static files (standard GTFS columns)."""
    stops: dict[str, Stop] = {}
    try:
        for row in csv.DictReader(io.StringIO(stops_text)):
            lat, lon = (row.get("stop_lat") or "").strip(), (row.get("stop_lon") or "").strip()
            if not lat or not lon:
                continue  # stations' generic nodes may have no position
            stop_id = row["stop_id"].strip()
            stops[stop_id] = Stop(
                stop_id, (row.get("stop_name") or "").strip(), float(lon), float(lat)
            )
        routes = frozenset(
            row["route_id"].strip() for row in csv.DictReader(io.StringIO(routes_text))
        )
    except (KeyError, ValueError, AttributeError, csv.Error) as exc:
        msg = f"static GTFS is malformed: {exc}"
        raise StaticGtfsError(msg) from exc
    return StaticGtfs(stops, routes)


class EntityKind(StrEnum):
    """Which GTFS-Realtime message the entity carried."""

    VEHICLE_POSITION = "VEHICLE_POSITION"
    ALERT = "ALERT"


@dataclass(frozen=True, slots=True)
class VehiclePosition:
    """A vehicle's reported position (``org.vigie.raw.v1.VehiclePosition``)."""

    vehicle_id: str | None
    vehicle_label: str | None
    license_plate_pseudonym: str | None
    trip_id: str | None
    route_id: str | None
    lon: float
    lat: float
    bearing_deg: float | None
    speed_ms: float | None
    current_status: str | None
    stop_id: str | None
    observed_at: int


@dataclass(frozen=True, slots=True)
class ActivePeriod:
    """When an alert applies; an open end is ``None``."""

    start: int | None
    end: int | None


@dataclass(frozen=True, slots=True)
class InformedStop:
    """A stop an alert affects, placed from static GTFS."""

    stop_id: str
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class ServiceAlert:
    """A service alert (``org.vigie.raw.v1.ServiceAlert``)."""

    cause: str
    effect: str
    active_periods: tuple[ActivePeriod, ...]
    route_ids: tuple[str, ...]
    stops: tuple[InformedStop, ...]
    header_text: str | None
    description_text: str | None
    feed_time: int


@dataclass(frozen=True, slots=True)
class TransportEntity:
    """One GTFS-RT entity (``org.vigie.raw.v1.TransportEntity``): exactly one payload is set."""

    record_id: str
    source_uri: str
    source_index: int
    ingest_time: int
    entity_kind: EntityKind
    vehicle: VehiclePosition | None
    alert: ServiceAlert | None

    def kafka_key(self) -> str:
        """Vehicles keyed by vehicle id (ordered track), alerts by entity id."""
        if self.vehicle is not None and self.vehicle.vehicle_id:
            return self.vehicle.vehicle_id
        return self.record_id.split("@", 1)[0]


class TransportParser:
    """Parse a GTFS-Realtime FeedMessage into :class:`TransportEntity` records or rejections."""

    feed: ClassVar[str] = "transport"

    def __init__(self, static: StaticGtfs) -> None:
        self.static = static

    def parse(
        self, payload: bytes, uri: str, ctx: ParseContext
    ) -> Iterator[TransportEntity | Rejection]:
        """One result per entity; an undecodable payload is one rejection at index 0."""
        feed = rt.FeedMessage()
        try:
            feed.ParseFromString(payload)
            if not feed.IsInitialized():
                raise DecodeError("required fields missing")
        except (DecodeError, RuntimeError, ValueError):
            detail = "payload is not a GTFS-Realtime FeedMessage"
            yield Rejection(Reason.UNPARSABLE, SourcePosition(uri, 0), payload, detail)
            return
        header_time = feed.header.timestamp if feed.header.HasField("timestamp") else None
        for index, entity in enumerate(feed.entity, start=1):
            position = SourcePosition(uri, index)
            original = entity.SerializeToString()
            record_id: str | None = None
            try:
                record_id = _pb_text(entity.id, "entity id")
                if record_id is None:
                    raise RecordRejected(Reason.MISSING_FIELD, "entity id is empty")
                yield self._entity(entity, record_id, header_time, position, ctx)
            except RecordRejected as rejected:
                yield Rejection(rejected.reason, position, original, rejected.detail, record_id)

    def _entity(
        self,
        entity: Any,
        entity_id: str,
        header_time: int | None,
        position: SourcePosition,
        ctx: ParseContext,
    ) -> TransportEntity:
        common = (position.uri, position.index, ctx.ingest_time)
        if entity.HasField("vehicle"):
            vehicle = self._vehicle(entity.vehicle, header_time, ctx)
            seconds = vehicle.observed_at // 1000
            return TransportEntity(
                f"{entity_id}@{seconds}", *common, EntityKind.VEHICLE_POSITION, vehicle, None
            )
        if entity.HasField("alert"):
            alert = self._alert(entity.alert, header_time, ctx)
            return TransportEntity(entity_id, *common, EntityKind.ALERT, None, alert)
        raise RecordRejected(Reason.UNKNOWN_CODE, "entity is neither a vehicle nor an alert")

    def _route(self, route_id: str) -> str:
        if route_id not in self.static.routes:
            raise RecordRejected(Reason.UNKNOWN_CODE, "route_id is not in routes.txt")
        return route_id

    def _stop(self, stop_id: str) -> Stop:
        stop = self.static.stops.get(stop_id)
        if stop is None:
            raise RecordRejected(Reason.UNKNOWN_CODE, "stop_id is not in stops.txt")
        return stop

    def _vehicle(self, msg: Any, header_time: int | None, ctx: ParseContext) -> VehiclePosition:
        seconds = msg.timestamp if msg.HasField("timestamp") else header_time
        if seconds is None:
            raise RecordRejected(Reason.MISSING_FIELD, "vehicle has no timestamp")
        observed = check_instant(seconds * 1000, "vehicle.timestamp", ctx)
        if not msg.HasField("position"):
            raise RecordRejected(Reason.MISSING_COORDINATES, "vehicle has no position")
        lon, lat = check_lon_lat(msg.position.longitude, msg.position.latitude, ctx)
        route_id = _pb_text(msg.trip.route_id, "trip.route_id")
        if route_id is not None:
            self._route(route_id)
        stop_id = _pb_text(msg.stop_id, "stop_id")
        if stop_id is not None:
            self._stop(stop_id)
        descriptor = msg.vehicle
        bearing = msg.position.bearing if msg.position.HasField("bearing") else None
        speed = msg.position.speed if msg.position.HasField("speed") else None
        if bearing is not None and not 0.0 <= bearing <= 360.0:
            raise RecordRejected(Reason.INVALID_VALUE, "bearing is outside [0, 360]")
        if speed is not None and not 0.0 <= speed <= 100.0:
            raise RecordRejected(Reason.INVALID_VALUE, "speed is outside [0, 100] m/s")
        status = (
            rt.VehiclePosition.VehicleStopStatus.Name(msg.current_status)
            if msg.HasField("current_status")
            else None
        )
        return VehiclePosition(
            vehicle_id=_pb_text(descriptor.id, "vehicle.id"),
            vehicle_label=_pb_text(descriptor.label, "vehicle.label"),
            license_plate_pseudonym=pseudonymise_optional(
                _pb_text(descriptor.license_plate, "vehicle.license_plate"),
                ctx.pseudonym_key,
                IdentifierKind.PLATE,
            ),
            trip_id=_pb_text(msg.trip.trip_id, "trip.trip_id"),
            route_id=route_id,
            lon=lon,
            lat=lat,
            bearing_deg=bearing,
            speed_ms=speed,
            current_status=status,
            stop_id=stop_id,
            observed_at=observed,
        )

    def _alert(self, msg: Any, header_time: int | None, ctx: ParseContext) -> ServiceAlert:
        if header_time is None:
            raise RecordRejected(Reason.MISSING_FIELD, "feed header has no timestamp")
        feed_time = check_instant(header_time * 1000, "header.timestamp", ctx)
        periods = []
        for period in msg.active_period:
            start = period.start * 1000 if period.HasField("start") else None
            end = period.end * 1000 if period.HasField("end") else None
            if start is not None and start < 946_684_800_000:
                raise RecordRejected(Reason.IMPOSSIBLE_TIMESTAMP, "active_period.start < 2000")
            check_order(start, end, "active_period start <= end")
            periods.append(ActivePeriod(start, end))
        routes: list[str] = []
        stops: list[InformedStop] = []
        for informed in msg.informed_entity:
            route_id = _pb_text(informed.route_id, "informed_entity.route_id")
            stop_id = _pb_text(informed.stop_id, "informed_entity.stop_id")
            if route_id is not None and route_id not in routes:
                routes.append(self._route(route_id))
            if stop_id is not None and all(s.stop_id != stop_id for s in stops):
                stop = self._stop(stop_id)
                stops.append(InformedStop(stop.stop_id, stop.lon, stop.lat))
        if not routes and not stops:
            raise RecordRejected(Reason.MISSING_FIELD, "alert informs no route or stop")
        return ServiceAlert(
            cause=rt.Alert.Cause.Name(msg.cause),
            effect=rt.Alert.Effect.Name(msg.effect),
            active_periods=tuple(periods),
            route_ids=tuple(routes),
            stops=tuple(stops),
            header_text=_translation(msg.header_text),
            description_text=_translation(msg.description_text),
            feed_time=feed_time,
        )


def _translation(text: Any) -> str | None:
    """The French translation if any, else the first one."""
    translations = list(text.translation)
    if not translations:
        return None
    french = [
        t
        for t in translations
        if (_pb_text(t.language, "translation.language") or "").lower().startswith("fr")
    ]
    return _pb_text((french or translations)[0].text, "translation.text")


def _pb_text(value: Any, field: str) -> str | None:
    """A protobuf string field; the pure-Python runtime hands back bytes when not UTF-8."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            detail = f"{field} is not valid UTF-8"
            raise RecordRejected(Reason.UNPARSABLE, detail) from exc
    if not isinstance(value, str):
        raise RecordRejected(Reason.UNPARSABLE, f"{field} is not a string")
    return value or None
