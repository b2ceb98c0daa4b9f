"""Permits and traffic orders: GeoJSON polygons with a validity window.

Roadworks, street events and traffic orders explain what the other feeds see (noise at
night, a closed street), so fusion uses them as context. Municipal portals publish them as a
GeoJSON FeatureCollection; one raw record per feature. Format: docs/feeds.md#permits.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from connectors.base import (
    ParseContext,
    Reason,
    RecordRejected,
    Rejection,
    SourcePosition,
    check_order,
    optional_text,
    parse_instant,
    parse_optional_instant,
    require_code,
    require_text,
)
from connectors.geo import area_in_city, polygon_from_rings


class PermitKind(StrEnum):
    """What the permit or order is for (closed list)."""

    ROADWORKS = "roadworks"
    EVENT = "event"
    TRAFFIC_ORDER = "traffic_order"
    FILMING = "filming"
    MARKET = "market"
    OTHER = "other"


class Measure(StrEnum):
    """The traffic measure it imposes."""

    NONE = "none"
    CLOSURE = "closure"
    LANE_CLOSURE = "lane_closure"
    NO_PARKING = "no_parking"
    ONE_WAY = "one_way"
    SPEED_LIMIT = "speed_limit"
    DIVERSION = "diversion"


@dataclass(frozen=True, slots=True)
class Permit:
    """One permit or traffic order, as ``org.vigie.raw.v1.Permit``."""

    record_id: str
    source_uri: str
    source_index: int
    ingest_time: int
    kind: PermitKind
    title: str | None
    authority: str | None
    applicant: str | None
    issued_at: int | None
    valid_from: int
    valid_until: int
    measure: Measure
    noise_expected: bool
    area_wkt: str
    centroid_lon: float
    centroid_lat: float

    def kafka_key(self) -> str:
        """Keyed by permit id: a permit's amendments stay in order."""
        return self.record_id


class PermitsParser:
    """Parse a GeoJSON FeatureCollection into :class:`Permit` records or rejections."""

    feed: ClassVar[str] = "permits"

    def parse(self, payload: bytes, uri: str, ctx: ParseContext) -> Iterator[Permit | Rejection]:
        """One result per feature; an unreadable document is one rejection at index 0."""
        try:
            doc = json.loads(payload.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            detail = "payload is not valid UTF-8 JSON"
            yield Rejection(Reason.UNPARSABLE, SourcePosition(uri, 0), payload, detail)
            return
        features = doc.get("features") if isinstance(doc, dict) else None
        if not (isinstance(doc, dict) and doc.get("type") == "FeatureCollection") or not isinstance(
            features, list
        ):
            detail = "payload is not a GeoJSON FeatureCollection"
            yield Rejection(Reason.UNPARSABLE, SourcePosition(uri, 0), payload, detail)
            return
        for index, feature in enumerate(features, start=1):
            original = json.dumps(feature, ensure_ascii=False, separators=(",", ":")).encode()
            position = SourcePosition(uri, index)
            record_id: str | None = None
            try:
                if not isinstance(feature, dict) or not isinstance(feature.get("properties"), dict):
                    raise RecordRejected(Reason.UNPARSABLE, "feature has no properties object")
                props: dict[str, Any] = feature["properties"]
                record_id = require_text(props.get("permit_id"), "permit_id")
                yield _build(feature, props, record_id, position, ctx)
            except RecordRejected as rejected:
                yield Rejection(rejected.reason, position, original, rejected.detail, record_id)


def _text_or_none(value: Any, field: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise RecordRejected(Reason.INVALID_VALUE, f"{field} is not text")
    return optional_text(value)


def _build(
    feature: dict[str, Any],
    props: dict[str, Any],
    record_id: str,
    position: SourcePosition,
    ctx: ParseContext,
) -> Permit:
    kind = PermitKind(
        require_code(_text_or_none(props.get("kind"), "kind"), "kind", frozenset(PermitKind))
    )
    measure_text = _text_or_none(props.get("measure"), "measure")
    measure = (
        Measure.NONE
        if measure_text is None
        else Measure(require_code(measure_text, "measure", frozenset(Measure)))
    )
    noise = props.get("noise_expected", False)
    if noise is None:
        noise = False
    if not isinstance(noise, bool):
        raise RecordRejected(Reason.INVALID_VALUE, "noise_expected is not a boolean")
    for field in ("valid_from", "valid_until", "issued_at"):
        _text_or_none(props.get(field), field)
    # Permits are published ahead of their window: only issued_at is checked against ingest.
    valid_from = _future_instant(props.get("valid_from"), "valid_from", ctx)
    valid_until = _future_instant(props.get("valid_until"), "valid_until", ctx)
    issued = parse_optional_instant(props.get("issued_at"), "issued_at", ctx)
    check_order(valid_from, valid_until, "valid_from <= valid_until")
    geometry = feature.get("geometry")
    if geometry is None:
        raise RecordRejected(Reason.MISSING_COORDINATES, "feature has no geometry")
    if not isinstance(geometry, dict):
        raise RecordRejected(Reason.INVALID_COORDINATES, "geometry is not an object")
    kind_of_shape, coordinates = geometry.get("type"), geometry.get("coordinates")
    if kind_of_shape == "Polygon":
        polygons = [polygon_from_rings(coordinates, "geometry")]
    elif kind_of_shape == "MultiPolygon":
        if not isinstance(coordinates, list) or not coordinates:
            raise RecordRejected(Reason.INVALID_COORDINATES, "MultiPolygon has no polygon")
        polygons = [polygon_from_rings(part, "geometry") for part in coordinates]
    else:
        raise RecordRejected(Reason.INVALID_COORDINATES, "geometry is not a (Multi)Polygon")
    shape = area_in_city(polygons, "geometry", ctx)
    centroid = shape.centroid
    return Permit(
        record_id=record_id,
        source_uri=position.uri,
        source_index=position.index,
        ingest_time=ctx.ingest_time,
        kind=kind,
        title=_text_or_none(props.get("title"), "title"),
        authority=_text_or_none(props.get("authority"), "authority"),
        applicant=_text_or_none(props.get("applicant"), "applicant"),
        issued_at=issued,
        valid_from=valid_from,
        valid_until=valid_until,
        measure=measure,
        noise_expected=noise,
        area_wkt=shape.wkt,
        centroid_lon=float(centroid.x),
        centroid_lat=float(centroid.y),
    )


def _future_instant(text: Any, field: str, ctx: ParseContext) -> int:
    """An end of validity: any time from 2000 on, far future allowed (100 years)."""
    far = ParseContext(ctx.city, ctx.pseudonym_key, ctx.ingest_time + 100 * 365 * 86_400_000)
    return parse_instant(text, field, far)
