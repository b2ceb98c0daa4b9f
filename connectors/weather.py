"""Weather: station observations (CSV) and CAP 1.2 alerts (XML) with alert polygons.

Both are context for fusion (rain explains floods, wind explains fallen trees), and both
arrive from the same met office, so one connector and one topic carry them; the payload
tells which it is (an XML document is a CAP alert). Format: docs/feeds.md#weather.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from connectors.base import (
    ParseContext,
    Reason,
    RecordRejected,
    Rejection,
    SourcePosition,
    check_order,
    iter_csv,
    optional_text,
    parse_instant,
    parse_lon_lat,
    parse_optional_float,
    parse_optional_instant,
    require_code,
    require_text,
    with_record_id,
)
from connectors.geo import area_in_city, polygon_from_rings

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
_NS = {"cap": CAP_NS}


class CapStatus(StrEnum):
    """CAP ``status``."""

    ACTUAL = "Actual"
    EXERCISE = "Exercise"
    SYSTEM = "System"
    TEST = "Test"
    DRAFT = "Draft"


class CapMsgType(StrEnum):
    """CAP ``msgType``."""

    ALERT = "Alert"
    UPDATE = "Update"
    CANCEL = "Cancel"
    ACK = "Ack"
    ERROR = "Error"


class CapUrgency(StrEnum):
    """CAP ``urgency``."""

    IMMEDIATE = "Immediate"
    EXPECTED = "Expected"
    FUTURE = "Future"
    PAST = "Past"
    UNKNOWN = "Unknown"


class CapSeverity(StrEnum):
    """CAP ``severity``."""

    EXTREME = "Extreme"
    SEVERE = "Severe"
    MODERATE = "Moderate"
    MINOR = "Minor"
    UNKNOWN = "Unknown"


class CapCertainty(StrEnum):
    """CAP ``certainty`` (``Very Likely`` is the deprecated CAP 1.0 spelling of Likely)."""

    OBSERVED = "Observed"
    LIKELY = "Likely"
    POSSIBLE = "Possible"
    UNLIKELY = "Unlikely"
    UNKNOWN = "Unknown"


@dataclass(frozen=True, slots=True)
class Observation:
    """One station observation (``org.vigie.raw.v1.WeatherObservation``)."""

    station_id: str
    station_name: str | None
    lon: float
    lat: float
    observed_at: int
    temperature_c: float | None
    humidity_pct: float | None
    wind_speed_ms: float | None
    wind_gust_ms: float | None
    wind_direction_deg: float | None
    precip_1h_mm: float | None
    pressure_hpa: float | None


@dataclass(frozen=True, slots=True)
class CapAlert:
    """One CAP alert, its first French ``info`` block (``org.vigie.raw.v1.CapAlert``)."""

    sender: str
    sent: int
    status: CapStatus
    msg_type: CapMsgType
    references: str | None
    event: str
    category: str | None
    urgency: CapUrgency
    severity: CapSeverity
    certainty: CapCertainty
    onset: int
    expires: int | None
    headline: str | None
    description: str | None
    area_desc: str | None
    area_wkt: str
    centroid_lon: float
    centroid_lat: float


@dataclass(frozen=True, slots=True)
class WeatherRecord:
    """An observation or an alert (exactly one is set), as ``org.vigie.raw.v1.WeatherRecord``."""

    record_id: str
    source_uri: str
    source_index: int
    ingest_time: int
    observation: Observation | None
    alert: CapAlert | None

    def kafka_key(self) -> str:
        """Observations keyed by station, alerts by CAP identifier."""
        if self.observation is not None:
            return self.observation.station_id
        return self.record_id


OBSERVATION_COLUMNS = frozenset({"station_id", "longitude", "latitude", "observed_at"})


class WeatherParser:
    """Parse an observations CSV or a CAP alert into :class:`WeatherRecord` or rejections."""

    feed: ClassVar[str] = "weather"

    def parse(
        self, payload: bytes, uri: str, ctx: ParseContext
    ) -> Iterator[WeatherRecord | Rejection]:
        """Observations: one result per CSV line or JSON item. CAP: one for the document."""
        start = payload.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        if start == b"<":
            yield _parse_cap(payload, uri, ctx)
            return
        if start == b"[":
            yield from _parse_json_observations(payload, uri, ctx)
            return

        def build(row: Mapping[str, str], index: int) -> WeatherRecord:
            station = require_text(row.get("station_id"), "station_id")
            return with_record_id(station, lambda: _observation(row, station, uri, index, ctx))

        yield from iter_csv(payload, uri, OBSERVATION_COLUMNS, build)


def _parse_json_observations(
    payload: bytes, uri: str, ctx: ParseContext
) -> Iterator[WeatherRecord | Rejection]:
    """A JSON array of observation objects with the CSV's column names as keys."""
    try:
        items = json.loads(payload.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        detail = "payload is not a valid UTF-8 JSON array"
        yield Rejection(Reason.UNPARSABLE, SourcePosition(uri, 0), payload, detail)
        return
    for index, item in enumerate(items, start=1):
        original = json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode()
        station: str | None = None
        try:
            if not isinstance(item, dict):
                raise RecordRejected(Reason.UNPARSABLE, "observation is not a JSON object")
            station = require_text(item.get("station_id"), "station_id")
            yield _observation(item, station, uri, index, ctx)
        except RecordRejected as rejected:
            position = SourcePosition(uri, index)
            yield Rejection(rejected.reason, position, original, rejected.detail, station)


def _observation(
    row: Mapping[str, Any], station: str, uri: str, index: int, ctx: ParseContext
) -> WeatherRecord:
    observed_text = row.get("observed_at")
    if observed_text is not None and not isinstance(observed_text, str):
        raise RecordRejected(Reason.IMPOSSIBLE_TIMESTAMP, "observed_at is not ISO 8601 text")
    observed = parse_instant(observed_text, "observed_at", ctx)
    lon, lat = parse_lon_lat(row.get("longitude"), row.get("latitude"), ctx)
    observation = Observation(
        station_id=station,
        station_name=optional_text(row.get("station_name")),
        lon=lon,
        lat=lat,
        observed_at=observed,
        temperature_c=parse_optional_float(row.get("temperature_c"), "temperature_c", -60, 60),
        humidity_pct=parse_optional_float(row.get("humidity_pct"), "humidity_pct", 0, 100),
        wind_speed_ms=parse_optional_float(row.get("wind_speed_ms"), "wind_speed_ms", 0, 120),
        wind_gust_ms=parse_optional_float(row.get("wind_gust_ms"), "wind_gust_ms", 0, 120),
        wind_direction_deg=parse_optional_float(
            row.get("wind_direction_deg"), "wind_direction_deg", 0, 360
        ),
        precip_1h_mm=parse_optional_float(row.get("precip_1h_mm"), "precip_1h_mm", 0, 500),
        pressure_hpa=parse_optional_float(row.get("pressure_hpa"), "pressure_hpa", 850, 1100),
    )
    when = datetime.fromtimestamp(observed / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return WeatherRecord(f"{station}@{when}", uri, index, ctx.ingest_time, observation, None)


def _parse_cap(payload: bytes, uri: str, ctx: ParseContext) -> WeatherRecord | Rejection:
    position = SourcePosition(uri, 1)
    record_id: str | None = None
    try:
        if b"<!DOCTYPE" in payload or b"<!ENTITY" in payload:
            # No DTDs: they are how XML entity-expansion attacks get in.
            raise RecordRejected(Reason.UNPARSABLE, "CAP document declares a DTD")
        try:
            root = ET.fromstring(payload)
        except (ET.ParseError, ValueError, LookupError) as exc:  # LookupError: bad encoding=
            raise RecordRejected(Reason.UNPARSABLE, "payload is not well-formed XML") from exc
        if root.tag != f"{{{CAP_NS}}}alert":
            raise RecordRejected(Reason.UNPARSABLE, "root element is not a CAP 1.2 <alert>")
        record_id = require_text(_text(root, "identifier"), "identifier")
        alert = _cap_alert(root, ctx)
    except RecordRejected as rejected:
        return Rejection(rejected.reason, position, payload, rejected.detail, record_id)
    return WeatherRecord(record_id, uri, 1, ctx.ingest_time, None, alert)


def _text(element: ET.Element, name: str) -> str | None:
    found = element.find(f"cap:{name}", _NS)
    return None if found is None else optional_text(found.text)


def _cap_enum(element: ET.Element, name: str, enum: type[StrEnum]) -> str:
    value = _text(element, name)
    if name == "certainty" and value == "Very Likely":
        value = "Likely"
    return require_code(value, name, frozenset(e.value for e in enum))


def _cap_alert(root: ET.Element, ctx: ParseContext) -> CapAlert:
    sent = parse_instant(_text(root, "sent"), "sent", ctx)
    status = CapStatus(_cap_enum(root, "status", CapStatus))
    msg_type = CapMsgType(_cap_enum(root, "msgType", CapMsgType))
    infos = root.findall("cap:info", _NS)
    if not infos:
        raise RecordRejected(Reason.MISSING_FIELD, "alert has no <info>")
    french = [i for i in infos if (_text(i, "language") or "en-US").lower().startswith("fr")]
    info = (french or infos)[0]
    far = ParseContext(ctx.city, ctx.pseudonym_key, ctx.ingest_time + 10 * 365 * 86_400_000)
    onset = (
        parse_optional_instant(_text(info, "onset"), "onset", far)
        or parse_optional_instant(_text(info, "effective"), "effective", far)
        or sent
    )
    expires = parse_optional_instant(_text(info, "expires"), "expires", far)
    check_order(onset, expires, "onset <= expires")
    polygons = []
    descriptions = []
    for area in info.findall("cap:area", _NS):
        desc = _text(area, "areaDesc")
        if desc:
            descriptions.append(desc)
        for polygon in area.findall("cap:polygon", _NS):
            polygons.append(polygon_from_rings([_cap_ring(polygon.text)], "CAP polygon"))
    shape = area_in_city(polygons, "CAP area", ctx)
    centroid = shape.centroid
    return CapAlert(
        sender=require_text(_text(root, "sender"), "sender"),
        sent=sent,
        status=status,
        msg_type=msg_type,
        references=_text(root, "references"),
        event=require_text(_text(info, "event"), "event"),
        category=_text(info, "category"),
        urgency=CapUrgency(_cap_enum(info, "urgency", CapUrgency)),
        severity=CapSeverity(_cap_enum(info, "severity", CapSeverity)),
        certainty=CapCertainty(_cap_enum(info, "certainty", CapCertainty)),
        onset=onset,
        expires=expires,
        headline=_text(info, "headline"),
        description=_text(info, "description"),
        area_desc="; ".join(descriptions) or None,
        area_wkt=shape.wkt,
        centroid_lon=float(centroid.x),
        centroid_lat=float(centroid.y),
    )


def _cap_ring(text: str | None) -> list[list[float]]:
    """CAP ``lat,lon lat,lon ...`` into GeoJSON-order ``[lon, lat]`` positions."""
    if text is None or not text.strip():
        raise RecordRejected(Reason.MISSING_COORDINATES, "CAP polygon is empty")
    ring = []
    for pair in text.split():
        parts = pair.split(",")
        try:
            lat, lon = float(parts[0]), float(parts[1])
        except (IndexError, ValueError) as exc:
            detail = "CAP polygon has a malformed lat,lon pair"
            raise RecordRejected(Reason.INVALID_COORDINATES, detail) from exc
        if len(parts) != 2:
            raise RecordRejected(Reason.INVALID_COORDINATES, "CAP polygon pair is not lat,lon")
        ring.append([lon, lat])
    return ring
