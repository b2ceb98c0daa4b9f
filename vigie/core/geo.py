"""City geometry: WGS84 -> projected metres, sector lookup, area checks.

Every distance fusion computes is in metres of the city's projected CRS (Lambert-93 for
Marseille), so projection happens once, at normalisation. The transformer and the sector
STRtree are built once per city (per Flink worker, in ``open()``), never per record: both
are far more expensive to build than to use. Loading the sectors file is the only I/O.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pyproj import Transformer
from shapely import STRtree, wkt
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.prepared import PreparedGeometry, prep

from vigie.errors import VigieError


class GeometryError(VigieError):
    """The city's geometry files are missing or wrong; the message names the file."""


@dataclass(frozen=True)
class CityGeometry:
    """A city's projection and sectors, ready for per-record lookups."""

    name: str
    crs: str
    bbox: tuple[float, float, float, float]
    sector_ids: tuple[str, ...]
    sectors: tuple[BaseGeometry, ...]
    tree: STRtree
    to_metres: Transformer
    to_wgs84: Transformer

    @classmethod
    def load(cls, city_dir: Path) -> CityGeometry:
        """Read ``city.yaml`` and ``sectors.geojson`` from a city folder."""
        city_file = city_dir / "city.yaml"
        try:
            raw: Any = yaml.safe_load(city_file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            msg = f"{city_file}: cannot read the city file: {exc}"
            raise GeometryError(msg) from exc
        if not isinstance(raw, dict) or "crs" not in raw or "bbox" not in raw:
            msg = f"{city_file}: needs at least the keys 'crs' and 'bbox'"
            raise GeometryError(msg)
        bbox_raw = raw["bbox"]
        if not isinstance(bbox_raw, list) or len(bbox_raw) != 4:
            msg = f"{city_file}: bbox must be [min_lon, min_lat, max_lon, max_lat]"
            raise GeometryError(msg)
        bbox = (
            float(bbox_raw[0]),
            float(bbox_raw[1]),
            float(bbox_raw[2]),
            float(bbox_raw[3]),
        )
        ids, polys = _read_sectors(city_dir / "sectors.geojson")
        return cls.build(str(raw.get("name", city_dir.name)), str(raw["crs"]), bbox, ids, polys)

    @classmethod
    def build(
        cls,
        name: str,
        crs: str,
        bbox: tuple[float, float, float, float],
        sector_ids: tuple[str, ...],
        sectors: tuple[BaseGeometry, ...],
    ) -> CityGeometry:
        """Assemble from already-parsed parts (tests build small cities this way)."""
        try:
            to_metres = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
            to_wgs84 = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        except Exception as exc:  # pyproj raises its own CRSError
            msg = f"city {name}: unknown crs {crs!r}: {exc}"
            raise GeometryError(msg) from exc
        return cls(
            name=name,
            crs=crs,
            bbox=bbox,
            sector_ids=sector_ids,
            sectors=sectors,
            tree=STRtree(list(sectors)),
            to_metres=to_metres,
            to_wgs84=to_wgs84,
        )

    def project(self, lon: float, lat: float) -> tuple[float, float]:
        """WGS84 degrees to metres in the city's CRS."""
        x, y = self.to_metres.transform(lon, lat)
        return float(x), float(y)

    def unproject(self, x: float, y: float) -> tuple[float, float]:
        """Metres in the city's CRS back to WGS84 (lon, lat)."""
        lon, lat = self.to_wgs84.transform(x, y)
        return float(lon), float(lat)

    def sector_of(self, lon: float, lat: float) -> str | None:
        """Id of the sector containing the point; on a shared border, the smallest id."""
        point = Point(lon, lat)
        hits = self.tree.query(point, predicate="intersects")
        if len(hits) == 0:
            return None
        return min(self.sector_ids[int(i)] for i in hits)

    def contains_city(self, lon: float, lat: float) -> bool:
        """True when the point lies in the city's bounding box (the connectors' area check)."""
        min_lon, min_lat, max_lon, max_lat = self.bbox
        return min_lon <= lon <= max_lon and min_lat <= lat <= max_lat


def _read_sectors(path: Path) -> tuple[tuple[str, ...], tuple[BaseGeometry, ...]]:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"{path}: cannot read the sectors GeoJSON: {exc}"
        raise GeometryError(msg) from exc
    ids: list[str] = []
    polys: list[BaseGeometry] = []
    for i, feature in enumerate(data.get("features", [])):
        props = feature.get("properties") or {}
        sector_id = props.get("sector_id")
        if sector_id is None:
            msg = f"{path}: feature {i} has no properties.sector_id"
            raise GeometryError(msg)
        try:
            geom = shape(feature["geometry"])
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            msg = f"{path}: feature {i} ({sector_id}) has an invalid geometry: {exc}"
            raise GeometryError(msg) from exc
        ids.append(str(sector_id))
        polys.append(geom)
    if not ids:
        msg = f"{path}: no sector features"
        raise GeometryError(msg)
    return tuple(ids), tuple(polys)


class AreaIndex:
    """Point-in-polygon for context areas (permits, CAP alerts), parsed once per WKT.

    Areas are WGS84 WKT as carried on ``NormalizedEvent.area_wkt``; a cache keyed by the
    WKT string keeps each polygon parsed and prepared exactly once.
    """

    #: Bounds of an area that covers nothing (unparsable WKT).
    NOWHERE = (math.inf, math.inf, -math.inf, -math.inf)

    def __init__(self) -> None:
        self._cache: dict[str, tuple[PreparedGeometry | None, tuple[float, ...]]] = {}

    def _get(self, area_wkt: str) -> tuple[PreparedGeometry | None, tuple[float, ...]]:
        found = self._cache.get(area_wkt)
        if found is None:
            try:
                geom = wkt.loads(area_wkt)
                found = (prep(geom), tuple(float(v) for v in geom.bounds))
            except Exception:  # shapely raises GEOSException / ShapelyError subclasses
                found = (None, self.NOWHERE)
            self._cache[area_wkt] = found
        return found

    def bounds(self, area_wkt: str) -> tuple[float, float, float, float]:
        """(min_lon, min_lat, max_lon, max_lat) of the area: a cheap first filter."""
        b = self._get(area_wkt)[1]
        return (b[0], b[1], b[2], b[3])

    def covers(self, area_wkt: str, lon: float, lat: float) -> bool:
        """True when the area covers the point (an unparsable area covers nothing)."""
        prepared = self._get(area_wkt)[0]
        if prepared is None:
            return False
        return bool(prepared.covers(Point(lon, lat)))

    def forget(self, area_wkt: str) -> None:
        """Drop a parsed area when its event leaves the state."""
        self._cache.pop(area_wkt, None)
