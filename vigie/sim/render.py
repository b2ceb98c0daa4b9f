"""Render simulated records into the exact bytes each agency format carries (docs/feeds.md).

Pure functions: a record in, a CSV line / JSON line / GTFS-RT entity / CAP document / GeoJSON
feature out. Deliberate defects (``SimRecord.defect``) are rendered here too, so a malformed
record looks the way a broken export really looks (empty coordinates, a truncated line...).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from google.transit import gtfs_realtime_pb2 as rt

from vigie.sim.model import SimRecord

POLICE_COLUMNS = (
    "incident_number",
    "call_type_code",
    "call_type_description",
    "priority",
    "received_at",
    "dispatched_at",
    "longitude",
    "latitude",
    "address",
    "caller_name",
    "caller_phone",
    "disposition",
)
FIRE_COLUMNS = (
    "incident_number",
    "unit_id",
    "unit_type",
    "call_type",
    "priority",
    "alarm_level",
    "received_at",
    "dispatched_at",
    "on_scene_at",
    "longitude",
    "latitude",
    "address",
    "final_disposition",
)
WEATHER_COLUMNS = (
    "station_id",
    "station_name",
    "longitude",
    "latitude",
    "observed_at",
    "temperature_c",
    "humidity_pct",
    "wind_speed_ms",
    "wind_gust_ms",
    "wind_direction_deg",
    "precip_1h_mm",
    "pressure_hpa",
)


def local_time(ms: int | None, tz: ZoneInfo) -> str:
    """CAD-export style local time without offset; with an offset when ambiguous (DST fold)."""
    if ms is None:
        return ""
    local = datetime.fromtimestamp(ms / 1000, tz=tz)
    if local.fold or _ambiguous(local, tz):
        return local.isoformat(timespec="seconds")
    return local.strftime("%Y-%m-%d %H:%M:%S")


def _ambiguous(local: datetime, tz: ZoneInfo) -> bool:
    naive = local.replace(tzinfo=None)
    a = naive.replace(tzinfo=tz, fold=0).utcoffset()
    b = naive.replace(tzinfo=tz, fold=1).utcoffset()
    return a != b


def iso_local(ms: int, tz: ZoneInfo, *, millis: bool = False) -> str:
    """ISO 8601 with the local offset (``2026-11-28T22:14:01.250+01:00``)."""
    return datetime.fromtimestamp(ms / 1000, tz=tz).isoformat(
        timespec="milliseconds" if millis else "seconds"
    )


def iso_utc(ms: int) -> str:
    """ISO 8601 in UTC with ``Z``."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _csv_line(values: list[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(["" if v is None else v for v in values])
    return out.getvalue()


def _coords(rec: SimRecord) -> tuple[str, str]:
    if rec.attrs.get("missing_position") or rec.lon is None or rec.lat is None:
        return "", ""
    return f"{rec.lon:.6f}", f"{rec.lat:.6f}"


def _broken(line: str) -> str:
    """A line cut short, as a truncated export leaves it (wrong column count / bad JSON)."""
    return line[: max(1, len(line) // 2)]


def police_line(rec: SimRecord, tz: ZoneInfo) -> str:
    """One row of ``police/calls.csv``."""
    a = rec.attrs
    lon, lat = _coords(rec)
    line = _csv_line(
        [
            rec.source_ref,
            a["call_type_code"],
            a.get("call_type_description"),
            a.get("priority"),
            local_time(a["received_at"], tz),
            local_time(a.get("dispatched_at"), tz),
            lon,
            lat,
            a.get("address"),
            a.get("caller_name"),
            a.get("caller_phone"),
            a.get("disposition"),
        ]
    )
    if a.get("broken_line"):
        return ",".join(line.split(",")[:5])
    return line


def fire_line(rec: SimRecord, tz: ZoneInfo) -> str:
    """One row (one unit dispatched) of ``fire/dispatch.csv``."""
    a = rec.attrs
    lon, lat = _coords(rec)
    return _csv_line(
        [
            rec.source_ref,
            a.get("unit_id"),
            a.get("unit_type"),
            a["call_type"],
            a.get("priority"),
            a.get("alarm_level"),
            local_time(a["received_at"], tz),
            local_time(a.get("dispatched_at"), tz),
            local_time(a.get("on_scene_at"), tz),
            lon,
            lat,
            a.get("address"),
            a.get("final_disposition"),
        ]
    )


def camera_line(rec: SimRecord, tz: ZoneInfo) -> str:
    """One JSON line of ``camera/events.jsonl``."""
    a = rec.attrs
    line = json.dumps(
        {
            "event_id": rec.source_ref,
            "camera_id": a["camera_id"],
            "type": a["type"],
            "confidence": a["confidence"],
            "detected_at": iso_local(rec.event_time, tz, millis=True),
            "duration_s": a.get("duration_s"),
            "object_count": a.get("object_count"),
            "analytics": a.get("analytics"),
        },
        ensure_ascii=False,
    )
    return _broken(line) if a.get("broken_line") else line


def weather_line(rec: SimRecord) -> str:
    """One row of ``weather/observations.csv``."""
    a = rec.attrs
    lon, lat = _coords(rec)
    return _csv_line(
        [
            a["station_id"],
            a.get("station_name"),
            lon,
            lat,
            iso_utc(rec.event_time),
            a.get("temperature_c"),
            a.get("humidity_pct"),
            a.get("wind_speed_ms"),
            a.get("wind_gust_ms"),
            a.get("wind_direction_deg"),
            a.get("precip_1h_mm"),
            a.get("pressure_hpa"),
        ]
    )


def cap_document(rec: SimRecord, tz: ZoneInfo) -> bytes:
    """A CAP 1.2 alert document (one ``<alert>``)."""
    a = rec.attrs
    x0, y0, x1, y1 = a["box"]
    ring = [(y0, x0), (y0, x1), (y1, x1), (y1, x0), (y0, x0)]
    polygon = " ".join(f"{lat:.4f},{lon:.4f}" for lat, lon in ring)
    doc = f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{escape(rec.source_ref)}</identifier>
  <sender>vigilance@meteo.example.fr</sender>
  <sent>{iso_local(a["sent"], tz)}</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>fr-FR</language>
    <category>Met</category>
    <event>{escape(a["event"])}</event>
    <responseType>Monitor</responseType>
    <urgency>{a["urgency"]}</urgency>
    <severity>{a["severity"]}</severity>
    <certainty>{a["certainty"]}</certainty>
    <onset>{iso_local(a["onset"], tz)}</onset>
    <expires>{iso_local(a["expires"], tz)}</expires>
    <headline>{escape(a["headline"])}</headline>
    <description>{escape(a["description"])}</description>
    <area>
      <areaDesc>{escape(a["area_desc"])}</areaDesc>
      <polygon>{polygon}</polygon>
    </area>
  </info>
</alert>
"""
    return doc.encode("utf-8")


def permit_feature(rec: SimRecord, tz: ZoneInfo) -> dict[str, Any]:
    """One GeoJSON feature of ``permits/permits*.geojson``."""
    a = rec.attrs
    return {
        "type": "Feature",
        "properties": {
            "permit_id": rec.source_ref,
            "kind": a["kind"],
            "title": a.get("title"),
            "authority": a.get("authority"),
            "applicant": a.get("applicant"),
            "issued_at": iso_local(a["issued_at"], tz),
            "valid_from": iso_local(a["valid_from"], tz),
            "valid_until": iso_local(a["valid_until"], tz),
            "measure": a.get("measure"),
            "noise_expected": a.get("noise_expected"),
        },
        "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in a["ring"]]]},
    }


def permits_document(features: list[dict[str, Any]]) -> bytes:
    """A GeoJSON FeatureCollection, one feature per line for readable diffs."""
    body = ",\n".join(json.dumps(f, ensure_ascii=False) for f in features)
    return ('{"type": "FeatureCollection", "features": [\n' + body + "\n]}\n").encode("utf-8")


def add_entity(feed: Any, rec: SimRecord) -> None:
    """Append the record as a ``FeedEntity`` (vehicle position or alert) to a FeedMessage."""
    a = rec.attrs
    ent = feed.entity.add()
    if rec.kind == "vehicle_position":
        ent.id = a["entity_id"]
        v = ent.vehicle
        v.trip.trip_id = a["trip_id"]
        v.trip.route_id = a["route_id"]
        v.vehicle.id = a["vehicle_id"]
        v.vehicle.label = a["label"]
        if a.get("license_plate"):
            v.vehicle.license_plate = a["license_plate"]
        if not a.get("missing_position"):
            assert rec.lon is not None and rec.lat is not None
            v.position.latitude = rec.lat
            v.position.longitude = rec.lon
            v.position.bearing = a["bearing"]
            v.position.speed = max(0.0, a["speed"])
        v.current_status = rt.VehiclePosition.IN_TRANSIT_TO
        v.stop_id = a["stop_id"]
        v.timestamp = rec.event_time // 1000
        return
    ent.id = rec.source_ref
    al = ent.alert
    period = al.active_period.add()
    period.start = a["active_start"] // 1000
    period.end = a["active_end"] // 1000
    for route_id in a["route_ids"]:
        al.informed_entity.add().route_id = route_id
    for stop_id in a["stop_ids"]:
        al.informed_entity.add().stop_id = stop_id
    al.cause = rt.Alert.Cause.Value(a["cause"])
    al.effect = rt.Alert.Effect.Value(a["effect"])
    for field, text in (("header_text", a["header"]), ("description_text", a["description"])):
        tr = getattr(al, field).translation.add()
        tr.text = text
        tr.language = "fr"


def new_feed_message(timestamp_s: int) -> Any:
    """An empty FULL_DATASET FeedMessage with its header."""
    feed = rt.FeedMessage()
    feed.header.gtfs_realtime_version = "2.0"
    feed.header.incrementality = rt.FeedHeader.FULL_DATASET
    feed.header.timestamp = timestamp_s
    return feed
