"""Builds the static data of the simulated Marseille (sectors, cameras, stations, GTFS).

The files under ``cities/marseille/`` are committed, so nothing at run time depends on this
module; it exists so the city can be rebuilt, reviewed and changed reproducibly
(``python -m vigie.sim.citybuild cities/marseille``). The geography is approximate: a rough
land outline, a jittered 4x4 grid of sectors named after the 16 arrondissements (INSEE
codes 13201..13216), real station names on the metro and tram lines placed near their real
positions. Good enough to make distances, borders and "near a line" meaningful.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from shapely.geometry import Point, Polygon, mapping
from shapely.ops import unary_union

#: Rough land outline of Marseille (lon, lat), clockwise from L'Estaque.
OUTLINE: tuple[tuple[float, float], ...] = (
    (5.300, 43.362),
    (5.330, 43.340),
    (5.352, 43.318),
    (5.358, 43.300),
    (5.345, 43.287),
    (5.354, 43.271),
    (5.368, 43.256),
    (5.362, 43.236),
    (5.346, 43.216),
    (5.358, 43.200),
    (5.450, 43.198),
    (5.530, 43.228),
    (5.560, 43.282),
    (5.542, 43.330),
    (5.482, 43.372),
    (5.420, 43.396),
    (5.340, 43.396),
    (5.300, 43.380),
)

LON_BREAKS = (5.29, 5.365, 5.40, 5.45, 5.57)
LAT_BREAKS = (43.19, 43.265, 43.295, 43.33, 43.40)
#: INSEE code per grid cell, rows north to south, columns west to east.
SECTOR_GRID: tuple[tuple[int, ...], ...] = (
    (16, 15, 14, 13),
    (2, 3, 4, 12),
    (7, 1, 5, 11),
    (8, 6, 9, 10),
)

#: Lines with their stops (name, lon, lat); stops between anchors are interpolated.
LINES: tuple[tuple[str, str, int, str, tuple[tuple[str, float, float], ...]], ...] = (
    (
        "M1",
        "La Rose - La Fourragère",
        1,
        "0055A4",
        (
            ("La Rose", 5.4265, 43.3400),
            ("Frais Vallon", 5.4105, 43.3268),
            ("Malpassé", 5.4140, 43.3180),
            ("Saint-Just", 5.4045, 43.3150),
            ("Chartreux", 5.3985, 43.3110),
            ("Cinq Avenues - Longchamp", 5.3970, 43.3035),
            ("Réformés - Canebière", 5.3855, 43.2995),
            ("Gare Saint-Charles", 5.3806, 43.3027),
            ("Colbert", 5.3750, 43.2985),
            ("Vieux-Port", 5.3740, 43.2951),
            ("Estrangin - Préfecture", 5.3770, 43.2890),
            ("Castellane", 5.3835, 43.2860),
            ("Baille", 5.3910, 43.2870),
            ("La Timone", 5.4010, 43.2880),
            ("La Blancarde", 5.4065, 43.2955),
            ("Louis Armand", 5.4130, 43.2990),
            ("Saint-Barnabé", 5.4185, 43.3030),
            ("La Fourragère", 5.4335, 43.3040),
        ),
    ),
    (
        "M2",
        "Bougainville - Sainte-Marguerite Dromel",
        1,
        "E3051B",
        (
            ("Bougainville", 5.3590, 43.3270),
            ("National", 5.3690, 43.3130),
            ("Désirée Clary", 5.3660, 43.3100),
            ("Joliette", 5.3665, 43.3050),
            ("Jules Guesde", 5.3760, 43.3030),
            ("Gare Saint-Charles", 5.3806, 43.3027),
            ("Noailles", 5.3815, 43.2975),
            ("Notre-Dame du Mont", 5.3855, 43.2915),
            ("Castellane", 5.3835, 43.2860),
            ("Périer", 5.3875, 43.2805),
            ("Rond-Point du Prado", 5.3957, 43.2716),
            ("Sainte-Marguerite Dromel", 5.4030, 43.2590),
        ),
    ),
    (
        "T1",
        "Noailles - Les Caillols",
        0,
        "F39200",
        (
            ("Noailles", 5.3815, 43.2975),
            ("Eugène Pierre", 5.3950, 43.2960),
            ("La Blancarde", 5.4065, 43.2955),
            ("Saint-Pierre", 5.4200, 43.2940),
            ("La Grognarde", 5.4330, 43.2960),
            ("Les Caillols", 5.4430, 43.3000),
        ),
    ),
    (
        "T2",
        "Arenc Le Silo - La Blancarde",
        0,
        "009640",
        (
            ("Arenc Le Silo", 5.3665, 43.3125),
            ("Joliette", 5.3665, 43.3050),
            ("Sadi Carnot", 5.3725, 43.2990),
            ("Belsunce Alcazar", 5.3775, 43.2990),
            ("Canebière Capucins", 5.3800, 43.2970),
            ("Réformés - Canebière", 5.3855, 43.2995),
            ("Cinq Avenues - Longchamp", 5.3970, 43.3035),
            ("La Blancarde", 5.4065, 43.2955),
        ),
    ),
    (
        "T3",
        "Arenc Le Silo - Castellane",
        0,
        "A50F79",
        (
            ("Arenc Le Silo", 5.3665, 43.3125),
            ("Joliette", 5.3665, 43.3050),
            ("République Dames", 5.3700, 43.3000),
            ("Sadi Carnot", 5.3725, 43.2990),
            ("Rome Davso", 5.3790, 43.2930),
            ("Castellane", 5.3835, 43.2860),
        ),
    ),
    (
        "B83",
        "83 Vieux-Port - Rond-Point du Prado (Corniche)",
        3,
        "6C6C6C",
        (
            ("Vieux-Port", 5.3740, 43.2951),
            ("Catalans", 5.3600, 43.2900),
            ("Vallon des Auffes", 5.3505, 43.2860),
            ("Corniche Fontaine", 5.3600, 43.2740),
            ("David", 5.3735, 43.2610),
            ("Rond-Point du Prado", 5.3957, 43.2716),
        ),
    ),
    (
        "B19",
        "19 Castellane - Madrague de Montredon",
        3,
        "6C6C6C",
        (
            ("Castellane", 5.3835, 43.2860),
            ("Rond-Point du Prado", 5.3957, 43.2716),
            ("David", 5.3735, 43.2610),
            ("Pointe Rouge", 5.3700, 43.2430),
            ("Madrague de Montredon", 5.3580, 43.2250),
        ),
    ),
    (
        "B35",
        "35 Joliette - L'Estaque",
        3,
        "6C6C6C",
        (
            ("Joliette", 5.3665, 43.3050),
            ("Arenc Le Silo", 5.3665, 43.3125),
            ("Mourepiane", 5.3390, 43.3460),
            ("L'Estaque Gare", 5.3230, 43.3610),
        ),
    ),
    (
        "B15",
        "15 Saint-Barnabé - Saint-Menet",
        3,
        "6C6C6C",
        (
            ("Saint-Barnabé", 5.4185, 43.3030),
            ("La Valentine", 5.4850, 43.2950),
            ("Saint-Marcel", 5.4630, 43.2870),
            ("Saint-Menet", 5.5000, 43.2880),
        ),
    ),
)

#: Weather stations (Météo-France-style numeric ids: department 13, commune 055).
STATIONS: tuple[tuple[str, str, float, float], ...] = (
    ("13055001", "Marseille-Longchamp", 5.3947, 43.3050),
    ("13055029", "Marseille-Saint-Loup", 5.4330, 43.2785),
    ("13055031", "Marseille-L'Estaque", 5.3260, 43.3620),
    ("13055032", "Marseille-Pointe-Rouge", 5.3720, 43.2440),
    ("13055033", "Marseille-Château-Gombert", 5.4380, 43.3600),
    ("13055034", "Marseille-La-Valentine", 5.4840, 43.2960),
)


#: Street names for camera labels and geocoded addresses.
STREETS: tuple[str, ...] = (
    "La Canebière",
    "Rue de la République",
    "Boulevard National",
    "Cours Julien",
    "Rue Paradis",
    "Avenue du Prado",
    "Boulevard Baille",
    "Rue de Rome",
    "Cours Belsunce",
    "Boulevard de la Libération",
    "Avenue de la Capelette",
    "Boulevard Michelet",
    "Chemin du Littoral",
    "Avenue de Saint-Barnabé",
    "Boulevard Chave",
    "Rue d'Aubagne",
    "Quai du Port",
    "Quai de Rive-Neuve",
    "Place Jean Jaurès",
    "Avenue de Mazargues",
    "Boulevard des Dames",
    "Rue Saint-Ferréol",
    "Corniche Président John Fitzgerald Kennedy",
    "Avenue des Chartreux",
    "Boulevard de Plombières",
    "Avenue de la Rose",
    "Chemin de Château-Gombert",
    "Route des Goudes",
    "Avenue de Montolivet",
    "Boulevard Sakakini",
)


@dataclass(frozen=True)
class Sector:
    """One sector polygon of the tiling."""

    sector_id: str
    name: str
    polygon: Polygon


def outline() -> Polygon:
    """The city's land outline."""
    return Polygon(OUTLINE)


def build_sectors(seed: int = 13) -> list[Sector]:
    """Tile the outline with a jittered 4x4 grid; shared vertices keep the tiling exact."""
    rng = random.Random(seed)
    nx, ny = len(LON_BREAKS), len(LAT_BREAKS)
    verts: dict[tuple[int, int], tuple[float, float]] = {}
    for i in range(nx):
        for j in range(ny):
            lon, lat = LON_BREAKS[i], LAT_BREAKS[j]
            if 0 < i < nx - 1 and 0 < j < ny - 1:
                lon += rng.uniform(-0.006, 0.006)
                lat += rng.uniform(-0.004, 0.004)
            verts[(i, j)] = (round(lon, 5), round(lat, 5))
    land = outline()
    sectors: list[Sector] = []
    for row, codes in enumerate(SECTOR_GRID):
        j = ny - 2 - row  # row 0 is the northernmost band
        for i, code in enumerate(codes):
            cell = Polygon(
                [verts[(i, j)], verts[(i + 1, j)], verts[(i + 1, j + 1)], verts[(i, j + 1)]]
            )
            part = cell.intersection(land)
            if part.geom_type != "Polygon":
                part = max(getattr(part, "geoms", [part]), key=lambda g: g.area)
            suffix = "er" if code == 1 else "e"
            sectors.append(
                Sector(f"132{code:02d}", f"Marseille {code}{suffix} arrondissement", part)
            )
    sectors.sort(key=lambda s: s.sector_id)
    return sectors


def sectors_geojson(sectors: list[Sector]) -> dict[str, object]:
    """GeoJSON FeatureCollection of the sectors (WGS84)."""
    return {
        "type": "FeatureCollection",
        "name": "marseille_sectors",
        "features": [
            {
                "type": "Feature",
                "properties": {"sector_id": s.sector_id, "name": s.name},
                "geometry": mapping(s.polygon.simplify(0)),
            }
            for s in sectors
        ],
    }


def _sector_of(sectors: list[Sector], lon: float, lat: float) -> str | None:
    p = Point(lon, lat)
    for s in sectors:
        if s.polygon.covers(p):
            return s.sector_id
    return None


def build_cameras(sectors: list[Sector], count: int = 400, seed: int = 2017) -> str:
    """Camera registry CSV: denser downtown, every camera inside a sector."""
    rng = random.Random(seed)
    land = unary_union([s.polygon for s in sectors])
    minx, miny, maxx, maxy = land.bounds
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["camera_id", "lon", "lat", "name", "kind", "range_m", "sector"])
    n = 0
    while n < count:
        if rng.random() < 0.6:  # downtown cluster around the Vieux-Port / Canebière
            lon = rng.gauss(5.381, 0.014)
            lat = rng.gauss(43.297, 0.010)
        else:
            lon = rng.uniform(minx, maxx)
            lat = rng.uniform(miny, maxy)
        sector = _sector_of(sectors, lon, lat)
        if sector is None:
            continue
        n += 1
        place = rng.choice(STREETS)
        kind = rng.choice(["fixed", "ptz", "fixed+acoustic", "ptz+acoustic"])
        range_m = {"fixed": 60, "ptz": 120}[kind.split("+")[0]]
        w.writerow([f"CAM-{n:04d}", f"{lon:.6f}", f"{lat:.6f}", place, kind, range_m, sector])
    return out.getvalue()


def build_stations(sectors: list[Sector]) -> str:
    """Weather station list CSV."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["station_id", "name", "lon", "lat", "sector"])
    for sid, name, lon, lat in STATIONS:
        w.writerow([sid, name, f"{lon:.4f}", f"{lat:.4f}", _sector_of(sectors, lon, lat) or ""])
    return out.getvalue()


def _slug(name: str) -> str:
    keep = "".join(c if c.isalnum() else "_" for c in name.upper())
    for a, b in (("É", "E"), ("È", "E"), ("Ê", "E"), ("É", "E")):
        keep = keep.replace(a, b)
    return "_".join(p for p in keep.split("_") if p)


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    dx = (b[0] - a[0]) * 111_320 * math.cos(math.radians(43.3))
    dy = (b[1] - a[1]) * 110_540
    return math.hypot(dx, dy)


def build_gtfs() -> dict[str, str]:
    """Static GTFS (agency, routes, stops, trips, stop_times, shapes, calendar) as CSV text."""
    stops: dict[str, tuple[str, float, float]] = {}  # stop_id -> (name, lon, lat)
    routes: list[list[str]] = []
    trips: list[list[str]] = []
    stop_times: list[list[str]] = []
    shapes: list[list[str]] = []
    for route_id, long_name, route_type, color, anchors in LINES:
        routes.append([route_id, "RTM", route_id.lstrip("B"), long_name, str(route_type), color])
        seq: list[tuple[str, float, float]] = []
        for k, (name, lon, lat) in enumerate(anchors):
            if k > 0 and route_type == 3:  # buses: interpolate intermediate stops every ~500 m
                plon, plat = anchors[k - 1][1], anchors[k - 1][2]
                extra = int(_metres((plon, plat), (lon, lat)) // 500)
                for e in range(1, extra + 1):
                    f = e / (extra + 1)
                    seq.append(
                        (
                            f"{anchors[k - 1][0]} / {name} {e}",
                            plon + (lon - plon) * f,
                            plat + (lat - plat) * f,
                        )
                    )
            seq.append((name, lon, lat))
        stop_ids: list[str] = []
        for name, lon, lat in seq:
            existing = next(
                (sid for sid, (n, _, _) in stops.items() if n == name and "/" not in n), None
            )
            if existing is None:
                sid = f"{route_id}_{_slug(name)}" if "/" in name else _slug(name)
                stops[sid] = (name, lon, lat)
                existing = sid
            stop_ids.append(existing)
        for direction in (0, 1):
            ids = stop_ids if direction == 0 else list(reversed(stop_ids))
            trip_id = f"{route_id}-{direction}"
            shape_id = f"SH-{route_id}-{direction}"
            trips.append([route_id, "DAILY", trip_id, stops[ids[-1]][0], str(direction), shape_id])
            t = 6 * 3600
            prev: tuple[float, float] | None = None
            dist = 0.0
            for k, sid in enumerate(ids):
                _, lon, lat = stops[sid]
                if prev is not None:
                    d = _metres(prev, (lon, lat))
                    dist += d
                    t += max(60, int(d / 8))
                prev = (lon, lat)
                hms = f"{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}"
                stop_times.append([trip_id, hms, hms, sid, str(k + 1)])
                shapes.append([shape_id, f"{lat:.6f}", f"{lon:.6f}", str(k + 1), f"{dist:.1f}"])

    def table(header: list[str], rows: list[list[str]]) -> str:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
        return out.getvalue()

    return {
        "agency.txt": table(
            ["agency_id", "agency_name", "agency_url", "agency_timezone", "agency_lang"],
            [
                [
                    "RTM",
                    "Régie des Transports Métropolitains",
                    "https://www.rtm.fr",
                    "Europe/Paris",
                    "fr",
                ]
            ],
        ),
        "routes.txt": table(
            [
                "route_id",
                "agency_id",
                "route_short_name",
                "route_long_name",
                "route_type",
                "route_color",
            ],
            routes,
        ),
        "stops.txt": table(
            [
                "stop_id",
                "stop_code",
                "stop_name",
                "stop_lat",
                "stop_lon",
                "location_type",
                "parent_station",
            ],
            [
                [sid, str(1001 + k), n, f"{lat:.6f}", f"{lon:.6f}", "0", ""]
                for k, (sid, (n, lon, lat)) in enumerate(stops.items())
            ],
        ),
        "trips.txt": table(
            ["route_id", "service_id", "trip_id", "trip_headsign", "direction_id", "shape_id"],
            trips,
        ),
        "stop_times.txt": table(
            ["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"],
            stop_times,
        ),
        "shapes.txt": table(
            [
                "shape_id",
                "shape_pt_lat",
                "shape_pt_lon",
                "shape_pt_sequence",
                "shape_dist_traveled",
            ],
            shapes,
        ),
        "calendar.txt": table(
            [
                "service_id",
                "monday",
                "tuesday",
                "wednesday",
                "thursday",
                "friday",
                "saturday",
                "sunday",
                "start_date",
                "end_date",
            ],
            [["DAILY", "1", "1", "1", "1", "1", "1", "1", "20260101", "20271231"]],
        ),
    }


def write_city(directory: Path) -> None:
    """Write every generated file of the city into ``directory`` (city.yaml is hand-kept)."""
    sectors = build_sectors()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sectors.geojson").write_text(
        json.dumps(sectors_geojson(sectors), ensure_ascii=False, indent=1) + "\n",
        encoding="utf-8",
    )
    (directory / "cameras.csv").write_text(build_cameras(sectors), encoding="utf-8")
    (directory / "weather_stations.csv").write_text(build_stations(sectors), encoding="utf-8")
    gtfs = directory / "gtfs"
    gtfs.mkdir(exist_ok=True)
    for name, text in build_gtfs().items():
        (gtfs / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    write_city(Path(sys.argv[1] if len(sys.argv) > 1 else "cities/marseille"))
