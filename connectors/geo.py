"""Polygon checks shared by the area-shaped feeds (permits, CAP weather alerts).

Agencies hand-draw these shapes, so every ring is checked before shapely sees it: at least
four positions, closed, finite WGS84 numbers, and a valid (non self-intersecting) polygon.
The result is WKT in lon/lat order, which is what the normalised event carries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from connectors.base import ParseContext, Reason, RecordRejected

Ring = list[tuple[float, float]]


def check_ring(raw: Any, what: str) -> Ring:
    """A closed ring of at least four finite (lon, lat) positions."""
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise RecordRejected(Reason.INVALID_COORDINATES, f"{what} is not a list of positions")
    ring: Ring = []
    for position in raw:
        if (
            not isinstance(position, Sequence)
            or isinstance(position, str)
            or len(position) < 2
            or any(isinstance(v, bool) or not isinstance(v, int | float) for v in position[:2])
        ):
            raise RecordRejected(Reason.INVALID_COORDINATES, f"{what} has a malformed position")
        lon, lat = float(position[0]), float(position[1])
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise RecordRejected(Reason.INVALID_COORDINATES, f"{what} has a non-finite position")
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            raise RecordRejected(Reason.INVALID_COORDINATES, f"{what} is out of lon/lat range")
        ring.append((lon, lat))
    if len(ring) < 4:
        raise RecordRejected(Reason.INVALID_COORDINATES, f"{what} has fewer than 4 positions")
    if ring[0] != ring[-1]:
        raise RecordRejected(Reason.INVALID_COORDINATES, f"{what} is not closed")
    return ring


def polygon_from_rings(rings: Any, what: str) -> Polygon:
    """A valid polygon from GeoJSON-style rings (exterior first, then holes)."""
    if not isinstance(rings, Sequence) or isinstance(rings, str) or not rings:
        raise RecordRejected(Reason.INVALID_COORDINATES, f"{what} has no ring")
    checked = [check_ring(ring, what) for ring in rings]
    polygon = Polygon(checked[0], checked[1:])
    if not polygon.is_valid or polygon.area == 0.0:
        raise RecordRejected(Reason.INVALID_COORDINATES, f"{what} is not a valid polygon")
    return polygon


def area_in_city(polygons: list[Polygon], what: str, ctx: ParseContext) -> BaseGeometry:
    """Union of the polygons as one geometry, rejected when entirely outside the city."""
    if not polygons:
        raise RecordRejected(Reason.MISSING_COORDINATES, f"{what} has no polygon")
    shape: BaseGeometry = polygons[0] if len(polygons) == 1 else MultiPolygon(polygons)
    if not ctx.city.intersects_bounds(shape.bounds):
        raise RecordRejected(Reason.OUTSIDE_CITY, f"{what} is outside {ctx.city.name}")
    return shape
