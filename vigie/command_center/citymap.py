"""The city outline the page draws: sector polygons and the box they span.

The page has no tile server; it draws the sectors of ``cities/<city>/sectors.geojson`` as
SVG. When that file is missing the map falls back to the city's ``bbox`` from ``city.yaml``
(and, with neither, the page fits itself to the incidents it receives).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from vigie.errors import VigieError

Ring = list[list[float]]


class CityMapError(VigieError):
    """The city's sector file is unreadable."""


def load_city_map(city_dir: Path) -> dict[str, Any]:
    """``{"name", "bounds": [min_lon, min_lat, max_lon, max_lat] | None, "sectors": [...]}``."""
    name = city_dir.name
    bounds: list[float] | None = None
    city_yaml = city_dir / "city.yaml"
    if city_yaml.exists():
        meta = yaml.safe_load(city_yaml.read_text(encoding="utf-8")) or {}
        name = str(meta.get("name", name))
        box = meta.get("bbox")
        if isinstance(box, list) and len(box) == 4:
            bounds = [float(v) for v in box]
    sectors: list[dict[str, Any]] = []
    path = city_dir / "sectors.geojson"
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            msg = f"cannot read {path}: {exc}"
            raise CityMapError(msg) from exc
        sectors = sectors_from_geojson(data)
        if sectors:
            bounds = rings_bounds([r for s in sectors for r in s["rings"]])
    return {"name": name, "bounds": bounds, "sectors": sectors}


def sectors_from_geojson(data: Any) -> list[dict[str, Any]]:
    """Sector id, name and outer rings of each Polygon/MultiPolygon feature."""
    out: list[dict[str, Any]] = []
    for i, feature in enumerate((data or {}).get("features", [])):
        geometry = feature.get("geometry") or {}
        props = feature.get("properties") or {}
        kind = geometry.get("type")
        coords = geometry.get("coordinates") or []
        if kind == "Polygon":
            polygons = [coords]
        elif kind == "MultiPolygon":
            polygons = coords
        else:
            continue
        rings: list[Ring] = [
            [[float(p[0]), float(p[1])] for p in poly[0]] for poly in polygons if poly
        ]
        sector_id = str(props.get("sector_id") or props.get("id") or i)
        out.append({"id": sector_id, "name": str(props.get("name") or sector_id), "rings": rings})
    return out


def rings_bounds(rings: list[Ring]) -> list[float] | None:
    """The box around every point of ``rings``; None when there is none."""
    points = [p for ring in rings for p in ring]
    if not points:
        return None
    lons = [p[0] for p in points]
    lats = [p[1] for p in points]
    return [min(lons), min(lats), max(lons), max(lats)]
