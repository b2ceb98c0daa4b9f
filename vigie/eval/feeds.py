"""Turn the simulator's output folder into normalised events, offline.

``vigie simulate --out DIR`` writes the connectors' input files. To score fusion without a
broker, this module runs the connectors' own pure parsers over those files and maps each raw
record to a :class:`~vigie.core.events.NormalizedEvent` with :func:`raw_to_event` (kind from
the rules' raw codes, position projected with the city geometry, sector looked up). It is a
faithful stand-in for the normalise job, and that job may reuse :func:`raw_to_event`.

Also reads events already normalised, one JSON object per line (the field names of
``NormalizedEvent``), for scoring the output of the live pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

from connectors.base import ParseContext, Parser, load_city, now_ms
from connectors.camera import CameraDetection, CameraParser, load_camera_registry
from connectors.fire import FireDispatch, FireParser
from connectors.permits import Permit, PermitsParser
from connectors.police import PoliceCall, PoliceParser
from connectors.transport import EntityKind, TransportEntity, TransportParser, load_static_gtfs
from connectors.weather import WeatherParser, WeatherRecord
from vigie.core.events import NormalizedEvent, Role, Source
from vigie.core.geo import CityGeometry
from vigie.core.rules import Rules
from vigie.errors import VigieError

#: The key only matters for pseudonyms, which fusion never reads.
_EVAL_KEY = b"vigie-evaluate-offline"


class EvaluationInputError(VigieError):
    """The events or truth given to ``vigie evaluate`` cannot be read."""


def raw_to_event(
    record: Any, rules: Rules, geo: CityGeometry, ingest_time: int
) -> NormalizedEvent | None:
    """One connector raw record as a normalised event (None: a code the rules ignore)."""
    attrs: dict[str, str] = {}
    area: str | None = None
    valid_from: int | None = None
    valid_until: int | None = None
    detail: str | None = None
    if isinstance(record, PoliceCall):
        source, code, t = Source.POLICE, record.call_type.value, record.received_at
        lon, lat = record.lon, record.lat
    elif isinstance(record, FireDispatch):
        source, code, t = Source.FIRE, record.call_type.value, record.received_at
        lon, lat = record.lon, record.lat
    elif isinstance(record, CameraDetection):
        source, code, t = Source.CAMERA, record.event_type.value, record.detected_at
        lon, lat = record.lon, record.lat
        attrs["camera_id"] = record.camera_id
    elif isinstance(record, TransportEntity):
        source = Source.TRANSPORT
        if record.entity_kind == EntityKind.VEHICLE_POSITION and record.vehicle is not None:
            code, t = "VEHICLE_POSITION", record.vehicle.observed_at
            lon, lat = record.vehicle.lon, record.vehicle.lat
            if record.vehicle.route_id:
                attrs["line"] = record.vehicle.route_id
        elif record.alert is not None and record.alert.stops:
            alert = record.alert
            code, detail = "ALERT", alert.cause
            period = alert.active_periods[0] if alert.active_periods else None
            t = period.start if period is not None and period.start else alert.feed_time
            valid_from = t
            valid_until = period.end if period is not None else None
            lon, lat = alert.stops[0].lon, alert.stops[0].lat
            if alert.route_ids:
                attrs["line"] = ",".join(alert.route_ids)
        else:
            return None
    elif isinstance(record, WeatherRecord):
        source = Source.WEATHER
        if record.observation is not None:
            obs = record.observation
            code, t, lon, lat = "observation", obs.observed_at, obs.lon, obs.lat
            if obs.precip_1h_mm is not None:
                attrs["precip_1h_mm"] = str(obs.precip_1h_mm)
        elif record.alert is not None:
            cap = record.alert
            code, t = "alert", cap.onset
            lon, lat, area = cap.centroid_lon, cap.centroid_lat, cap.area_wkt
            valid_from, valid_until = cap.onset, cap.expires
            attrs["event"] = cap.event
        else:
            return None
    elif isinstance(record, Permit):
        source, code = Source.PERMITS, record.kind.value
        t, lon, lat, area = (
            record.valid_from,
            record.centroid_lon,
            record.centroid_lat,
            record.area_wkt,
        )
        valid_from, valid_until = record.valid_from, record.valid_until
    else:
        return None
    kind = rules.kind_for(source.value, code, detail)
    if kind is None:
        return None
    role = rules.role_of(kind) or Role.EVIDENCE
    x, y = geo.project(lon, lat)
    return NormalizedEvent(
        event_id=f"{source.value}:{record.record_id}",
        source=source,
        kind=kind,
        role=role,
        event_time=t,
        ingest_time=ingest_time,
        lon=lon,
        lat=lat,
        x=x,
        y=y,
        uncertainty_m=0.0,  # unknown: fusion uses the kind's default from the rules
        sector=geo.sector_of(lon, lat),
        source_ref=record.record_id,
        attributes=attrs,
        area_wkt=area,
        valid_from=valid_from,
        valid_until=valid_until,
    )


def _parsers(city_dir: Path) -> dict[str, Parser]:
    return {
        "police": PoliceParser(),
        "fire": FireParser(),
        "camera": CameraParser(load_camera_registry(city_dir / "cameras.csv")),
        "transport": TransportParser(load_static_gtfs(city_dir / "gtfs")),
        "weather": WeatherParser(),
        "permits": PermitsParser(),
    }


def load_simulated(sim_dir: Path, city_dir: Path, rules: Rules) -> list[NormalizedEvent]:
    """Parse every feed file of a simulator output folder; one event per record id."""
    geo = CityGeometry.load(city_dir)
    ingest = now_ms()
    ctx = ParseContext(city=load_city(city_dir), pseudonym_key=_EVAL_KEY, ingest_time=ingest)
    events: dict[str, NormalizedEvent] = {}
    for folder, parser in _parsers(city_dir).items():
        for path in sorted((sim_dir / folder).glob("*")) if (sim_dir / folder).is_dir() else []:
            for result in parser.parse(path.read_bytes(), str(path), ctx):
                event = raw_to_event(result, rules, geo, ingest)
                if event is not None and event.event_id not in events:
                    events[event.event_id] = event
    return list(events.values())


def load_jsonl_events(path: Path) -> list[NormalizedEvent]:
    """Events already normalised: JSON lines (a file, or every ``*.jsonl`` of a folder)."""
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    names = {f.name for f in fields(NormalizedEvent)}
    events: list[NormalizedEvent] = []
    for file in files:
        for n, line in enumerate(_lines(file), start=1):
            try:
                raw = json.loads(line)
                data = {k: v for k, v in raw.items() if k in names}
                data["source"] = Source(data["source"])
                data["role"] = Role(data["role"])
                events.append(NormalizedEvent(**data))
            except (ValueError, KeyError, TypeError) as exc:
                msg = f"{file}:{n}: not a normalised event: {exc}"
                raise EvaluationInputError(msg) from exc
    return events


def _lines(file: Path) -> Iterator[str]:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"cannot read {file}: {exc}"
        raise EvaluationInputError(msg) from exc
    return (line for line in text.splitlines() if line.strip())


def load_events(path: Path, city_dir: Path, rules: Rules) -> list[NormalizedEvent]:
    """A simulator folder (it has ``manifest.json``) or normalised JSON lines."""
    if path.is_dir() and (path / "manifest.json").exists():
        return load_simulated(path, city_dir, rules)
    if not path.exists():
        msg = f"no events at {path}"
        raise EvaluationInputError(msg)
    return load_jsonl_events(path)
