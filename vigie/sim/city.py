"""The simulated city as plain data: sectors, cameras, weather stations, lines and stops.

:func:`load_city` is the only I/O; the scenario generator takes a :class:`SimCity` and never
touches the disk. Distances inside the simulator use a local equirectangular approximation
(metres per degree at the city's latitude): exact enough over a city, and fast.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from vigie.core.geo import CityGeometry
from vigie.errors import VigieError


class CityDataError(VigieError):
    """A file of the simulated city is missing or malformed."""


@dataclass(frozen=True, slots=True)
class Camera:
    """One camera of the registry."""

    camera_id: str
    lon: float
    lat: float
    name: str
    kind: str
    range_m: float

    @property
    def acoustic(self) -> bool:
        """Whether the camera has a microphone (gunshot, scream, loud music detection)."""
        return "acoustic" in self.kind


@dataclass(frozen=True, slots=True)
class Station:
    """A weather station."""

    station_id: str
    name: str
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class Stop:
    """A transport stop and the routes serving it."""

    stop_id: str
    name: str
    lon: float
    lat: float
    routes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Route:
    """A line with its ordered stops (one direction) and its vehicles' label."""

    route_id: str
    short_name: str
    long_name: str
    route_type: int
    stop_ids: tuple[str, ...]


@dataclass(frozen=True)
class SimCity:
    """Everything the scenario generator needs to know about the city."""

    name: str
    bbox: tuple[float, float, float, float]
    timezone: str
    geometry: CityGeometry
    land: BaseGeometry
    cameras: tuple[Camera, ...]
    stations: tuple[Station, ...]
    stops: dict[str, Stop]
    routes: tuple[Route, ...]
    #: Centre of the busiest area and the spread (metres, per axis) of activity around it.
    downtown: tuple[float, float] = (0.0, 0.0)
    downtown_sigma_m: float = 1000.0
    #: Area of the scenario's weather alert (WGS84 box).
    weather_alert_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    @property
    def metres_per_deg(self) -> tuple[float, float]:
        """Metres per degree of longitude and of latitude at the city's centre."""
        lat0 = (self.bbox[1] + self.bbox[3]) / 2
        return 111_320.0 * math.cos(math.radians(lat0)), 110_540.0

    def distance_m(self, a: tuple[float, float], b: tuple[float, float]) -> float:
        """Approximate distance in metres between two (lon, lat) points."""
        kx, ky = self.metres_per_deg
        return math.hypot((a[0] - b[0]) * kx, (a[1] - b[1]) * ky)

    def offset(self, lon: float, lat: float, dx_m: float, dy_m: float) -> tuple[float, float]:
        """The point ``dx_m`` east and ``dy_m`` north of (lon, lat)."""
        kx, ky = self.metres_per_deg
        return lon + dx_m / kx, lat + dy_m / ky

    def sector_of(self, lon: float, lat: float) -> str | None:
        """Sector id containing the point, if any."""
        return self.geometry.sector_of(lon, lat)

    def on_land(self, lon: float, lat: float) -> bool:
        """Whether the point lies inside the city's sectors."""
        return bool(self.land.covers(Point(lon, lat)))

    def cameras_near(self, lon: float, lat: float, radius_m: float) -> list[tuple[float, Camera]]:
        """Cameras within ``radius_m``, nearest first, with their distance."""
        found = [
            (d, c)
            for c in self.cameras
            if (d := self.distance_m((lon, lat), (c.lon, c.lat))) <= radius_m
        ]
        found.sort(key=lambda t: (t[0], t[1].camera_id))
        return found

    def stops_near(self, lon: float, lat: float, radius_m: float) -> list[tuple[float, Stop]]:
        """Stops within ``radius_m``, nearest first."""
        found = [
            (d, s)
            for s in self.stops.values()
            if (d := self.distance_m((lon, lat), (s.lon, s.lat))) <= radius_m
        ]
        found.sort(key=lambda t: (t[0], t[1].stop_id))
        return found


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))
    except OSError as exc:
        msg = f"{path}: cannot read: {exc}"
        raise CityDataError(msg) from exc


def load_city(city_dir: Path) -> SimCity:
    """Read a city folder (city.yaml, sectors, cameras, stations, static GTFS)."""
    geometry = CityGeometry.load(city_dir)
    land = unary_union(list(geometry.sectors))
    try:
        cameras = tuple(
            Camera(
                r["camera_id"],
                float(r["lon"]),
                float(r["lat"]),
                r.get("name", ""),
                r.get("kind", "fixed"),
                float(r.get("range_m") or 50),
            )
            for r in _read_csv(city_dir / "cameras.csv")
        )
        stations = tuple(
            Station(r["station_id"], r["name"], float(r["lon"]), float(r["lat"]))
            for r in _read_csv(city_dir / "weather_stations.csv")
        )
        gtfs = city_dir / "gtfs"
        trips = _read_csv(gtfs / "trips.txt")
        times = _read_csv(gtfs / "stop_times.txt")
        by_trip: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for r in times:
            by_trip[r["trip_id"]].append((int(r["stop_sequence"]), r["stop_id"]))
        serving: dict[str, set[str]] = defaultdict(set)
        routes: list[Route] = []
        for r in _read_csv(gtfs / "routes.txt"):
            trip = next(
                (t for t in trips if t["route_id"] == r["route_id"] and t["direction_id"] == "0"),
                None,
            )
            if trip is None:
                msg = f"{gtfs}/trips.txt: route {r['route_id']} has no trip in direction 0"
                raise CityDataError(msg)
            stop_ids = tuple(s for _, s in sorted(by_trip[trip["trip_id"]]))
            for s in stop_ids:
                serving[s].add(r["route_id"])
            routes.append(
                Route(
                    r["route_id"],
                    r["route_short_name"],
                    r["route_long_name"],
                    int(r["route_type"]),
                    stop_ids,
                )
            )
        stops = {
            r["stop_id"]: Stop(
                r["stop_id"],
                r["stop_name"],
                float(r["stop_lon"]),
                float(r["stop_lat"]),
                tuple(sorted(serving[r["stop_id"]])),
            )
            for r in _read_csv(gtfs / "stops.txt")
        }
    except (KeyError, ValueError) as exc:
        msg = f"{city_dir}: malformed city data: {exc!r}"
        raise CityDataError(msg) from exc
    meta = yaml.safe_load((city_dir / "city.yaml").read_text(encoding="utf-8"))
    sim = meta.get("simulation") or {}
    x0, y0, x1, y1 = geometry.bbox
    try:
        downtown = tuple(float(v) for v in sim.get("downtown", ((x0 + x1) / 2, (y0 + y1) / 2)))
        sigma = float(sim.get("downtown_sigma_m", 1000))
        box = tuple(
            float(v)
            for v in sim.get(
                "weather_alert_box",
                (x0 + (x1 - x0) / 4, y0 + (y1 - y0) / 4, x1 - (x1 - x0) / 4, y1 - (y1 - y0) / 4),
            )
        )
    except (TypeError, ValueError) as exc:
        msg = f"{city_dir}/city.yaml: malformed 'simulation' block: {exc}"
        raise CityDataError(msg) from exc
    if len(downtown) != 2 or len(box) != 4:
        msg = (
            f"{city_dir}/city.yaml: simulation.downtown is [lon, lat], weather_alert_box 4 numbers"
        )
        raise CityDataError(msg)
    return SimCity(
        name=str(meta.get("name", city_dir.name)),
        bbox=geometry.bbox,
        timezone=str(meta.get("timezone", "UTC")),
        geometry=geometry,
        land=land,
        cameras=cameras,
        stations=stations,
        stops=stops,
        routes=tuple(routes),
        downtown=(downtown[0], downtown[1]),
        downtown_sigma_m=sigma,
        weather_alert_box=(box[0], box[1], box[2], box[3]),
    )
