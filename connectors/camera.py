"""Camera analytics: JSON events (gunshot, scream, crowd, smoke, ...) from camera systems.

An event only names its camera; the position comes from the city's camera registry, so an
unknown camera id cannot be placed and is rejected. No image ever crosses this connector:
fields other than the documented ones (snapshot URLs, thumbnails) are ignored.
Format: docs/feeds.md#camera.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from connectors.base import (
    ParseContext,
    Reason,
    RecordRejected,
    Rejection,
    SourcePosition,
    optional_text,
    parse_float,
    parse_instant,
    parse_optional_float,
    require_code,
    require_text,
    split_lines,
)
from vigie.errors import VigieError

#: Detection range assumed when the registry gives none.
DEFAULT_RANGE_M = 50.0


class CameraEventType(StrEnum):
    """What the analytics detected (closed list)."""

    GUNSHOT = "gunshot"
    SCREAM = "scream"
    EXPLOSION = "explosion"
    GLASS_BREAK = "glass_break"
    LOUD_MUSIC = "loud_music"
    CROWD = "crowd"
    GATHERING = "gathering"
    FIGHT = "fight"
    RUNNING = "running"
    LOITERING = "loitering"
    ABANDONED_OBJECT = "abandoned_object"
    SMOKE = "smoke"
    FIRE = "fire"
    VEHICLE_WRONG_WAY = "vehicle_wrong_way"
    INTRUSION = "intrusion"


@dataclass(frozen=True, slots=True)
class Camera:
    """A registered camera and where it looks."""

    camera_id: str
    lon: float
    lat: float
    range_m: float


class RegistryError(VigieError):
    """The camera registry file cannot be used."""


def load_camera_registry(path: Path) -> dict[str, Camera]:
    """Read ``cameras.csv`` (``camera_id, lon, lat`` and optional ``range_m``)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        msg = f"cannot read the camera registry {path}: {exc}"
        raise RegistryError(msg) from exc
    return parse_camera_registry(text, str(path))


def parse_camera_registry(text: str, name: str = "cameras.csv") -> dict[str, Camera]:
    """Parse a camera registry; a bad line is an error, the registry is trusted reference data."""
    cameras: dict[str, Camera] = {}
    reader = csv.DictReader(io.StringIO(text))
    missing = {"camera_id", "lon", "lat"} - set(reader.fieldnames or ())
    if missing:
        msg = f"{name}: missing column(s) {', '.join(sorted(missing))}"
        raise RegistryError(msg)
    for row in reader:
        try:
            camera_id = row["camera_id"].strip()
            lon, lat = float(row["lon"]), float(row["lat"])
            range_text = (row.get("range_m") or "").strip()
            range_m = float(range_text) if range_text else DEFAULT_RANGE_M
        except (AttributeError, ValueError) as exc:
            msg = f"{name} line {reader.line_num}: {exc}"
            raise RegistryError(msg) from exc
        if not (camera_id and math.isfinite(lon) and math.isfinite(lat) and range_m >= 0):
            msg = f"{name} line {reader.line_num}: empty id or invalid position/range"
            raise RegistryError(msg)
        cameras[camera_id] = Camera(camera_id, lon, lat, range_m)
    return cameras


@dataclass(frozen=True, slots=True)
class CameraDetection:
    """One analytics event placed at its camera, as ``org.vigie.raw.v1.CameraDetection``."""

    record_id: str
    source_uri: str
    source_index: int
    ingest_time: int
    camera_id: str
    event_type: CameraEventType
    confidence: float
    detected_at: int
    duration_s: float | None
    object_count: int | None
    analytics: str | None
    lon: float
    lat: float
    range_m: float

    def kafka_key(self) -> str:
        """Keyed by camera: one camera's events stay in order."""
        return self.camera_id


class CameraParser:
    """Parse JSON-lines (or a JSON array) of camera events against a registry."""

    feed: ClassVar[str] = "camera"

    def __init__(self, registry: Mapping[str, Camera]) -> None:
        self.registry = registry

    def parse(
        self, payload: bytes, uri: str, ctx: ParseContext
    ) -> Iterator[CameraDetection | Rejection]:
        """One result per event; see docs/feeds.md#camera."""
        if payload.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
            yield from self._parse_array(payload, uri, ctx)
            return
        for index, line in split_lines(payload):
            try:
                item = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError):
                detail = "line is not valid UTF-8 JSON"
                yield Rejection(Reason.UNPARSABLE, SourcePosition(uri, index), line, detail)
                continue
            yield self._one(item, line, SourcePosition(uri, index), ctx)

    def _parse_array(
        self, payload: bytes, uri: str, ctx: ParseContext
    ) -> Iterator[CameraDetection | Rejection]:
        try:
            items = json.loads(payload.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            detail = "payload is not a valid UTF-8 JSON array"
            yield Rejection(Reason.UNPARSABLE, SourcePosition(uri, 0), payload, detail)
            return
        for index, item in enumerate(items, start=1):
            original = json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode()
            yield self._one(item, original, SourcePosition(uri, index), ctx)

    def _one(
        self, item: Any, original: bytes, position: SourcePosition, ctx: ParseContext
    ) -> CameraDetection | Rejection:
        record_id: str | None = None
        try:
            if not isinstance(item, dict):
                raise RecordRejected(Reason.UNPARSABLE, "event is not a JSON object")
            record_id = require_text(item.get("event_id"), "event_id")
            return self._build(item, record_id, position, ctx)
        except RecordRejected as rejected:
            return Rejection(rejected.reason, position, original, rejected.detail, record_id)

    def _build(
        self, item: dict[str, Any], record_id: str, position: SourcePosition, ctx: ParseContext
    ) -> CameraDetection:
        camera_id = require_text(item.get("camera_id"), "camera_id")
        camera = self.registry.get(camera_id)
        if camera is None:
            raise RecordRejected(Reason.UNKNOWN_CAMERA, "camera_id is not in the registry")
        type_text = item.get("type")
        if type_text is not None and not isinstance(type_text, str):
            raise RecordRejected(Reason.UNKNOWN_CODE, "type is not a text code")
        event_type = CameraEventType(require_code(type_text, "type", frozenset(CameraEventType)))
        if item.get("confidence") is None or isinstance(item.get("confidence"), bool | str):
            raise RecordRejected(Reason.MISSING_FIELD, "confidence is absent or not a number")
        confidence = parse_float(item["confidence"], "confidence")
        if not 0.0 <= confidence <= 1.0:
            raise RecordRejected(Reason.INVALID_VALUE, "confidence is outside [0, 1]")
        detected_text = item.get("detected_at")
        if detected_text is not None and not isinstance(detected_text, str):
            raise RecordRejected(Reason.IMPOSSIBLE_TIMESTAMP, "detected_at is not ISO 8601 text")
        detected = parse_instant(detected_text, "detected_at", ctx)
        raw_duration = item.get("duration_s")
        if isinstance(raw_duration, str):
            raise RecordRejected(Reason.INVALID_VALUE, "duration_s is not a number")
        duration = parse_optional_float(raw_duration, "duration_s", 0.0, 7 * 86400.0)
        count = item.get("object_count")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
            raise RecordRejected(Reason.INVALID_VALUE, "object_count is not an integer")
        if count is not None and not 0 <= count <= 1_000_000:
            raise RecordRejected(Reason.INVALID_VALUE, "object_count is outside [0, 1000000]")
        analytics = item.get("analytics")
        return CameraDetection(
            record_id=record_id,
            source_uri=position.uri,
            source_index=position.index,
            ingest_time=ctx.ingest_time,
            camera_id=camera_id,
            event_type=event_type,
            confidence=confidence,
            detected_at=detected,
            duration_s=duration,
            object_count=count,
            analytics=optional_text(analytics) if isinstance(analytics, str) else None,
            lon=camera.lon,
            lat=camera.lat,
            range_m=camera.range_m,
        )
