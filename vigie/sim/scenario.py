"""Scenario generation: true incidents and the records each agency publishes about them.

Pure and deterministic: everything comes from one ``random.Random(seed)`` and the city data,
iteration orders never depend on hashing, no clock and no I/O. The same config gives the same
:class:`~vigie.sim.model.Scenario`, record for record.

Each incident category has a recipe (``_emit_<category>``) that decides which agencies hear of
it, when (report delays from seconds to minutes), where (position noise: a camera reports its
own position, a geocoded call ~100 m, a fire dispatch ~30 m) and how often (several calls,
one row per fire unit). Around them: background reports of unrelated things, vehicle
positions and weather observations (context), permits, one CAP flood alert, duplicates,
missing optional fields, and malformed records the connectors must reject. Hard cases for
fusion are planted on purpose: incidents on a sector border, late reports, two distinct
incidents close in space and time, and one incident whose first reports look like two.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from vigie.sim.city import Camera, SimCity
from vigie.sim.citybuild import STREETS
from vigie.sim.model import Feed, Scenario, SimRecord, TrueIncident, TruthRole

#: Default city time: a Saturday evening into the night, in the past so that connectors'
#: "not in the future" check accepts every record.
DEFAULT_START = datetime(2026, 11, 14, 18, 0, tzinfo=UTC)  # 19:00 in Marseille, until 01:00

_T = TypeVar("_T")

#: Late report: published this long (or more) after it happened.
LATE_MS = 15 * 60_000

CATEGORY_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("shooting", 7),
    ("structure_fire", 11),
    ("road_accident", 22),
    ("gathering", 10),
    ("flooding", 8),
    ("roadworks_noise", 8),
    ("fight", 14),
    ("robbery", 11),
    ("vehicle_fire", 9),
)

#: Pairs of categories planted as "twins": distinct incidents close in space and time.
TWIN_PAIRS: tuple[tuple[str, str], ...] = (
    ("road_accident", "robbery"),
    ("vehicle_fire", "fight"),
    ("structure_fire", "road_accident"),
)

POLICE_DESCRIPTIONS: dict[str, tuple[str, int]] = {
    "SHOTS": ("Shots fired", 1),
    "WEAPON": ("Person with a weapon", 1),
    "ASSAULT": ("Assault / fight", 2),
    "ROBBERY": ("Robbery", 2),
    "BURGLARY": ("Burglary", 3),
    "THEFT": ("Theft", 4),
    "VANDALISM": ("Vandalism", 4),
    "NOISE": ("Noise complaint", 4),
    "DISTURB": ("Disturbance / gathering", 3),
    "TRAFFIC": ("Road traffic collision", 2),
    "SUSPECT": ("Suspicious person or vehicle", 3),
    "FIRE": ("Fire reported to police", 2),
    "MISSING": ("Missing person", 3),
    "OTHER": ("Other", 5),
}

FIRE_UNIT_TYPES: dict[str, str] = {
    "FPT": "ENGINE",
    "EPA": "LADDER",
    "VSR": "RESCUE",
    "VSAV": "MEDIC",
    "VLCG": "CHIEF",
    "CMIC": "HAZMAT",
}

FIRST_NAMES = ("Jean", "Marie", "Karim", "Sophie", "Nadia", "Luc", "Fatima", "Paul", "Inès")
LAST_NAMES = ("Martin", "Bernard", "Benali", "Rossi", "Garcia", "Durand", "Haddad", "Costa")


@dataclass(frozen=True)
class ScenarioConfig:
    """Knobs of a scenario; every default gives the small standard scenario."""

    seed: int = 0
    start_ms: int = int(DEFAULT_START.timestamp() * 1000)
    duration_s: int = 6 * 3600
    incidents: int = 300
    background_per_hour: float = 90.0
    vehicle_interval_s: int = 60
    weather_interval_s: int = 1800
    background_permits: int = 20
    duplicate_share: float = 0.03
    missing_share: float = 0.10
    malformed_share: float = 0.01
    late_share: float = 0.03
    hard_border: int = 6
    hard_late: int = 6
    hard_twins: int = 3
    hard_merge: int = 3
    timezone: str = "Europe/Paris"

    @property
    def end_ms(self) -> int:
        """End of city time (exclusive)."""
        return self.start_ms + self.duration_s * 1000


class _Ids:
    """Agency-style record ids, offset by the seed so separate runs rarely collide."""

    def __init__(self, seed: int, year: int) -> None:
        self.year = year
        self.base = (seed % 1000) * 10_000
        self.n: dict[str, int] = {}

    def next(self, kind: str) -> int:
        self.n[kind] = self.n.get(kind, 0) + 1
        return self.base + self.n[kind]

    def police(self) -> str:
        return f"P{self.year}-{self.next('police'):07d}"

    def fire(self) -> str:
        return f"F{self.year}-{self.next('fire'):07d}"

    def camera(self) -> str:
        return f"cam-evt-{self.next('camera'):08d}"

    def alert(self) -> str:
        return f"alert-{self.next('alert'):06d}"

    def permit(self, prefix: str) -> str:
        return f"{prefix}-{self.year}-{self.next('permit'):06d}"

    def incident(self, seed: int) -> str:
        return f"sim-{seed}-{self.next('incident'):05d}"


class _Gen:
    """One generation run: the RNG, the city, the id counters and the output lists."""

    def __init__(self, city: SimCity, cfg: ScenarioConfig) -> None:
        self.city = city
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.tz = ZoneInfo(cfg.timezone)
        year = datetime.fromtimestamp(cfg.start_ms / 1000, tz=UTC).year
        self.ids = _Ids(cfg.seed, year)
        self.records: list[SimRecord] = []
        self.incidents: list[TrueIncident] = []
        self.acoustic = tuple(c for c in city.cameras if c.acoustic)
        self.alert_ref: str | None = None
        self.alert_window: tuple[int, int] = (0, 0)
        self.alert_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    # ---------------------------------------------------------------- small helpers
    def t_between(self, lo: int, hi: int) -> int:
        """A whole-second instant in [lo, hi) ms."""
        return (self.rng.randrange(lo, max(lo + 1, hi)) // 1000) * 1000

    def jitter(
        self, lon: float, lat: float, sigma_m: float, *, on_land: bool = False
    ) -> tuple[float, float]:
        """Position noise; ``on_land`` for geocoded addresses, which never fall in the sea."""
        for _ in range(20):
            lon2, lat2 = self.city.offset(
                lon, lat, self.rng.gauss(0, sigma_m), self.rng.gauss(0, sigma_m)
            )
            if not on_land or self.city.on_land(lon2, lat2):
                return round(lon2, 6), round(lat2, 6)
        return round(lon, 6), round(lat, 6)

    def land_point(self, downtown: float = 0.55) -> tuple[float, float]:
        """A point on land; ``downtown`` is the share drawn around the Vieux-Port."""
        minx, miny, maxx, maxy = self.city.land.bounds
        while True:
            if self.rng.random() < downtown:
                sigma = self.city.downtown_sigma_m
                lon, lat = self.city.offset(
                    *self.city.downtown, self.rng.gauss(0, sigma), self.rng.gauss(0, sigma)
                )
            else:
                lon, lat = self.rng.uniform(minx, maxx), self.rng.uniform(miny, maxy)
            if self.city.on_land(lon, lat):
                return lon, lat

    def border_point(self) -> tuple[float, float]:
        """A point on a border between two sectors (not on the coast); a plain point on land
        if the city has no such border (a single sector)."""
        geoms = self.city.geometry.sectors
        for _ in range(1000):
            g = geoms[self.rng.randrange(len(geoms))]
            ring = g.exterior
            p = ring.interpolate(self.rng.random(), normalized=True)
            a = self.city.sector_of(*self.city.offset(p.x, p.y, 40, 0))
            b = self.city.sector_of(*self.city.offset(p.x, p.y, -40, 0))
            c = self.city.sector_of(*self.city.offset(p.x, p.y, 0, 40))
            d = self.city.sector_of(*self.city.offset(p.x, p.y, 0, -40))
            if None not in (a, b, c, d) and len({a, b, c, d}) > 1:
                return p.x, p.y
        return self.land_point()

    def maybe(self, value: _T) -> _T | None:
        """Drop an optional field with the configured probability."""
        return None if self.rng.random() < self.cfg.missing_share else value

    def publish_delay(self, lo_s: float, hi_s: float, *, late: bool = False) -> int:
        if late:
            return int(self.rng.uniform(20 * 60, 45 * 60) * 1000)
        return int(self.rng.uniform(lo_s, hi_s) * 1000)

    def add(self, rec: SimRecord) -> None:
        self.records.append(rec)

    def address(self) -> str:
        return f"{self.rng.randint(1, 180)} {self.rng.choice(STREETS)}"

    def caller(self) -> tuple[str | None, str | None]:
        name = f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"
        phone = f"06 {self.rng.randint(10, 99)} {self.rng.randint(10, 99)} " + (
            f"{self.rng.randint(10, 99)} {self.rng.randint(10, 99)}"
        )
        return (
            name if self.rng.random() > 0.4 else None,
            phone if self.rng.random() > 0.2 else None,
        )

    # ---------------------------------------------------------------- record factories
    def police(
        self,
        code: str,
        t: int,
        lon: float,
        lat: float,
        *,
        incident: str | None,
        sigma_m: float = 70.0,
        late: bool = False,
        ref: str | None = None,
    ) -> SimRecord:
        desc, prio = POLICE_DESCRIPTIONS[code]
        plon, plat = self.jitter(lon, lat, sigma_m, on_land=True)
        name, phone = self.caller()
        dispatched = t + self.rng.randint(30, 600) * 1000
        rec = SimRecord(
            feed=Feed.POLICE,
            source_ref=ref or self.ids.police(),
            kind=code,
            event_time=t,
            publish_time=t + self.publish_delay(5, 90, late=late),
            lon=plon,
            lat=plat,
            attrs={
                "call_type_code": code,
                "call_type_description": self.maybe(desc),
                "priority": prio,
                "received_at": t,
                "dispatched_at": self.maybe(dispatched),
                "address": self.maybe(self.address()),
                "caller_name": name,
                "caller_phone": phone,
                "disposition": self.maybe(self.rng.choice(["", "RPT", "ARR", "GOA", "ADV"])),
            },
            role=TruthRole.EVIDENCE if incident else TruthRole.NOISE,
            incident=incident,
        )
        self.add(rec)
        return rec

    def fire(
        self,
        call_type: str,
        t: int,
        lon: float,
        lat: float,
        units: list[str],
        *,
        incident: str | None,
        priority: int = 2,
        alarm_level: int = 1,
        disposition: str | None = None,
        late: bool = False,
    ) -> list[SimRecord]:
        """One dispatch: one row per unit, all sharing the incident number."""
        ref = self.ids.fire()
        plon, plat = self.jitter(lon, lat, 30.0, on_land=True)
        address = self.maybe(self.address())
        rows: list[SimRecord] = []
        publish = t + self.publish_delay(10, 120, late=late)
        for k, unit_prefix in enumerate(units or [""]):
            dispatched = t + (45 + 60 * k + self.rng.randint(0, 60)) * 1000
            on_scene = dispatched + self.rng.randint(240, 900) * 1000
            unit_id = f"{unit_prefix}-{self.rng.randint(1, 40):02d}" if unit_prefix else None
            rows.append(
                SimRecord(
                    feed=Feed.FIRE,
                    source_ref=ref,
                    kind=call_type,
                    event_time=t,
                    publish_time=publish + k * 1000,
                    lon=plon,
                    lat=plat,
                    attrs={
                        "unit_id": unit_id,
                        "unit_type": FIRE_UNIT_TYPES[unit_prefix] if unit_prefix else None,
                        "call_type": call_type,
                        "priority": priority,
                        "alarm_level": alarm_level,
                        "received_at": t,
                        "dispatched_at": dispatched if unit_prefix else None,
                        "on_scene_at": self.maybe(on_scene) if unit_prefix else None,
                        "address": address,
                        "final_disposition": disposition,
                    },
                    role=TruthRole.EVIDENCE if incident else TruthRole.NOISE,
                    incident=incident,
                )
            )
        for r in rows:
            self.add(r)
        return rows

    def camera(
        self,
        kind: str,
        t: int,
        cam: Camera,
        *,
        incident: str | None,
        confidence: tuple[float, float] = (0.6, 0.98),
        duration_s: float | None = None,
        object_count: int | None = None,
    ) -> SimRecord:
        analytics = "acoustic-2.3" if kind in {"gunshot", "scream", "loud_music"} else "video-4.1"
        rec = SimRecord(
            feed=Feed.CAMERA,
            source_ref=self.ids.camera(),
            kind=kind,
            event_time=t,
            publish_time=t + self.publish_delay(0.5, 8),
            lon=cam.lon,
            lat=cam.lat,
            attrs={
                "camera_id": cam.camera_id,
                "type": kind,
                "confidence": round(self.rng.uniform(*confidence), 2),
                "duration_s": self.maybe(duration_s),
                "object_count": self.maybe(object_count),
                "analytics": self.maybe(analytics),
            },
            role=TruthRole.EVIDENCE if incident else TruthRole.NOISE,
            incident=incident,
        )
        self.add(rec)
        return rec

    def transport_alert(
        self, t: int, lon: float, lat: float, *, incident: str, cause: str, effect: str, text: str
    ) -> SimRecord | None:
        """An operator alert on the lines serving the stops near the incident, if any."""
        near = self.city.stops_near(lon, lat, 350.0)
        if not near:
            return None
        stops = [s for _, s in near[:2]]
        routes = sorted({r for s in stops for r in s.routes})
        if not routes:
            return None
        end = t + self.rng.randint(20, 90) * 60_000
        rec = SimRecord(
            feed=Feed.TRANSPORT,
            source_ref=self.ids.alert(),
            kind="alert",
            event_time=t,
            publish_time=t + self.publish_delay(5, 60),
            lon=stops[0].lon,
            lat=stops[0].lat,
            attrs={
                "route_ids": routes,
                "stop_ids": [s.stop_id for s in stops],
                "cause": cause,
                "effect": effect,
                "header": f"{text} - {stops[0].name}",
                "description": f"{text} à proximité de l'arrêt {stops[0].name}.",
                "active_start": t,
                "active_end": end,
            },
            role=TruthRole.EVIDENCE,
            incident=incident,
        )
        self.add(rec)
        return rec

    def cameras_for(
        self, lon: float, lat: float, acoustic: bool, radius_m: float, n: int
    ) -> list[Camera]:
        near = self.city.cameras_near(lon, lat, radius_m)
        pool = [c for _, c in near if c.acoustic or not acoustic]
        if not acoustic:  # video sees only within its range (x2 for crowds and smoke)
            pool = [c for d, c in near if d <= 2 * c.range_m and (c.acoustic or not acoustic)]
        return pool[:n]

    # ---------------------------------------------------------------- incident recipes
    def _emit_shooting(self, inc: str, t0: int, lon: float, lat: float, late: bool) -> None:
        for cam in self.cameras_for(lon, lat, True, 400.0, 2):
            self.camera(
                "gunshot",
                t0 + self.rng.randint(0, 2000),
                cam,
                incident=inc,
                duration_s=round(self.rng.uniform(0.5, 3), 1),
            )
            if self.rng.random() < 0.7:
                self.camera(
                    "scream",
                    t0 + self.rng.randint(2000, 20000),
                    cam,
                    incident=inc,
                    duration_s=round(self.rng.uniform(2, 15), 1),
                )
        calls = self.rng.randint(2, 5)
        for k in range(calls):
            code = "SHOTS" if k < calls - 1 or self.rng.random() < 0.5 else "WEAPON"
            self.police(
                code,
                t0 + self.rng.randint(20, 300) * 1000,
                lon,
                lat,
                incident=inc,
                late=late and k == calls - 1,
            )
        if self.rng.random() < 0.6:
            self.fire(
                "MEDICAL",
                t0 + self.rng.randint(120, 480) * 1000,
                lon,
                lat,
                ["VSAV"],
                incident=inc,
                priority=1,
                disposition="TRANSPORTED",
            )

    def _emit_structure_fire(self, inc: str, t0: int, lon: float, lat: float, late: bool) -> None:
        units = ["FPT", "FPT", "EPA", "VLCG"][: self.rng.randint(2, 4)]
        self.fire(
            "STRUCTURE_FIRE",
            t0 + self.rng.randint(60, 240) * 1000,
            lon,
            lat,
            units,
            incident=inc,
            priority=1,
            alarm_level=self.rng.randint(1, 3),
        )
        for _ in range(self.rng.randint(0, 2)):
            self.police(
                "FIRE", t0 + self.rng.randint(60, 600) * 1000, lon, lat, incident=inc, late=late
            )
            late = False
        for cam in self.cameras_for(lon, lat, False, 300.0, 1):
            self.camera(
                "smoke",
                t0 + self.rng.randint(0, 120) * 1000,
                cam,
                incident=inc,
                duration_s=float(self.rng.randint(30, 300)),
            )
        if late:
            self.police(
                "FIRE", t0 + self.rng.randint(60, 600) * 1000, lon, lat, incident=inc, late=True
            )
        if self.rng.random() < 0.8:
            self.transport_alert(
                t0 + self.rng.randint(300, 900) * 1000,
                lon,
                lat,
                incident=inc,
                cause="OTHER_CAUSE",
                effect="DETOUR",
                text="Incendie, ligne déviée",
            )

    def _emit_road_accident(self, inc: str, t0: int, lon: float, lat: float, late: bool) -> None:
        calls = self.rng.randint(1, 3)
        for k in range(calls):
            self.police(
                "TRAFFIC",
                t0 + self.rng.randint(15, 240) * 1000,
                lon,
                lat,
                incident=inc,
                late=late and k == 0,
            )
        units = ["VSR", "VSAV"][: self.rng.randint(1, 2)]
        self.fire(
            "TRAFFIC_COLLISION",
            t0 + self.rng.randint(60, 300) * 1000,
            lon,
            lat,
            units,
            incident=inc,
            priority=2,
        )
        if self.rng.random() < 0.7:
            self.transport_alert(
                t0 + self.rng.randint(240, 900) * 1000,
                lon,
                lat,
                incident=inc,
                cause="ACCIDENT",
                effect="SIGNIFICANT_DELAYS",
                text="Accident de la circulation, retards",
            )

    def _emit_gathering(self, inc: str, t0: int, lon: float, lat: float, late: bool) -> None:
        dur = float(self.rng.randint(600, 3600))
        for cam in self.cameras_for(lon, lat, False, 250.0, 2):
            self.camera(
                "crowd",
                t0 + self.rng.randint(0, 300) * 1000,
                cam,
                incident=inc,
                duration_s=dur,
                object_count=self.rng.randint(15, 80),
            )
        for cam in self.cameras_for(lon, lat, True, 250.0, 1):
            self.camera(
                "loud_music",
                t0 + self.rng.randint(0, 600) * 1000,
                cam,
                incident=inc,
                duration_s=dur,
            )
        calls = self.rng.randint(1, 4)
        for k in range(calls):
            code = "NOISE" if self.rng.random() < 0.7 else "DISTURB"
            self.police(
                code,
                t0 + self.rng.randint(300, 1800) * 1000,
                lon,
                lat,
                incident=inc,
                late=late and k == 0,
                sigma_m=90.0,
            )

    def _emit_flooding(self, inc: str, t0: int, lon: float, lat: float, late: bool) -> None:
        for k in range(self.rng.randint(1, 2)):
            self.fire(
                "FLOODING",
                t0 + self.rng.randint(60, 900) * 1000,
                lon,
                lat,
                ["FPT"] if self.rng.random() < 0.7 else ["VSR", "FPT"],
                incident=inc,
                priority=3,
                late=late and k == 0,
            )
        if self.rng.random() < 0.5:
            self.police("OTHER", t0 + self.rng.randint(60, 900) * 1000, lon, lat, incident=inc)
        self.transport_alert(
            t0 + self.rng.randint(300, 1200) * 1000,
            lon,
            lat,
            incident=inc,
            cause="WEATHER",
            effect="REDUCED_SERVICE",
            text="Voirie inondée, service perturbé",
        )

    def _emit_roadworks_noise(
        self, inc: str, t0: int, lon: float, lat: float, late: bool
    ) -> tuple[str, str]:
        permit = self.permit(
            lon,
            lat,
            t0 - 3600_000,
            t0 + 6 * 3600_000,
            kind="roadworks",
            noise=True,
            title="Travaux de nuit, réfection de chaussée",
        )
        # the complaints name the street being dug up: geocoded inside the permit's area
        ring = permit.attrs["ring"]
        x0, x1 = min(p[0] for p in ring), max(p[0] for p in ring)
        y0, y1 = min(p[1] for p in ring), max(p[1] for p in ring)
        for k in range(self.rng.randint(1, 3)):
            at = (lon, lat)  # the permit's centre, if its box is mostly sea
            for _ in range(20):
                cand = (
                    self.rng.uniform(x0 + (x1 - x0) * 0.1, x1 - (x1 - x0) * 0.1),
                    self.rng.uniform(y0 + (y1 - y0) * 0.1, y1 - (y1 - y0) * 0.1),
                )
                if self.city.on_land(*cand):
                    at = cand
                    break
            self.police(
                "NOISE",
                t0 + self.rng.randint(120, 1800) * 1000,
                *at,
                incident=inc,
                sigma_m=0.5,
                late=late and k == 0,
            )
        return ("permits", permit.source_ref)

    def _emit_fight(self, inc: str, t0: int, lon: float, lat: float, late: bool) -> None:
        for cam in self.cameras_for(lon, lat, False, 200.0, 1):
            self.camera(
                "fight",
                t0 + self.rng.randint(0, 60) * 1000,
                cam,
                incident=inc,
                object_count=self.rng.randint(2, 8),
            )
        for cam in self.cameras_for(lon, lat, True, 200.0, 1):
            if self.rng.random() < 0.6:
                self.camera("scream", t0 + self.rng.randint(0, 90) * 1000, cam, incident=inc)
        calls = self.rng.randint(1, 3)
        for k in range(calls):
            self.police(
                "ASSAULT",
                t0 + self.rng.randint(30, 400) * 1000,
                lon,
                lat,
                incident=inc,
                late=late and k == 0,
            )
        if self.rng.random() < 0.4:
            self.fire(
                "MEDICAL",
                t0 + self.rng.randint(300, 900) * 1000,
                lon,
                lat,
                ["VSAV"],
                incident=inc,
                priority=2,
            )

    def _emit_robbery(self, inc: str, t0: int, lon: float, lat: float, late: bool) -> None:
        for cam in self.cameras_for(lon, lat, False, 200.0, 1):
            self.camera("running", t0 + self.rng.randint(0, 60) * 1000, cam, incident=inc)
        if self.rng.random() < 0.3:
            for cam in self.cameras_for(lon, lat, True, 200.0, 1):
                self.camera("glass_break", t0 + self.rng.randint(0, 10) * 1000, cam, incident=inc)
        for k in range(self.rng.randint(1, 2)):
            self.police(
                "ROBBERY",
                t0 + self.rng.randint(60, 900) * 1000,
                lon,
                lat,
                incident=inc,
                late=late and k == 0,
            )

    def _emit_vehicle_fire(self, inc: str, t0: int, lon: float, lat: float, late: bool) -> None:
        for cam in self.cameras_for(lon, lat, False, 250.0, 1):
            self.camera("fire", t0 + self.rng.randint(0, 60) * 1000, cam, incident=inc)
        self.fire(
            "VEHICLE_FIRE",
            t0 + self.rng.randint(60, 300) * 1000,
            lon,
            lat,
            ["FPT"],
            incident=inc,
            priority=2,
            disposition=self.maybe("EXTINGUISHED"),
        )
        if self.rng.random() < 0.6:
            self.police(
                "FIRE", t0 + self.rng.randint(60, 600) * 1000, lon, lat, incident=inc, late=late
            )
        elif late:
            self.police(
                "SUSPECT", t0 + self.rng.randint(60, 600) * 1000, lon, lat, incident=inc, late=True
            )

    def _emit_merge(self, inc: str, t0: int, lon: float, lat: float) -> None:
        """A fire first seen from two streets ~350 m apart, joined by the dispatch later."""
        a = self.city.offset(lon, lat, 0, 175)
        b = self.city.offset(lon, lat, 0, -175)
        self.police("FIRE", t0 + 60_000, *a, incident=inc, sigma_m=15.0)
        self.police("FIRE", t0 + 100_000, *a, incident=inc, sigma_m=15.0)
        self.police("FIRE", t0 + 80_000, *b, incident=inc, sigma_m=15.0)
        self.police("SUSPECT", t0 + 130_000, *b, incident=inc, sigma_m=15.0)
        # the fire brigade locates the building between the two: the bridge, a few minutes on
        self.fire(
            "STRUCTURE_FIRE",
            t0 + 420_000,
            lon,
            lat,
            ["FPT", "EPA", "VLCG"],
            incident=inc,
            priority=1,
            alarm_level=3,
        )

    # ---------------------------------------------------------------- context and background
    def permit(
        self,
        lon: float,
        lat: float,
        valid_from: int,
        valid_until: int,
        *,
        kind: str,
        noise: bool,
        title: str,
    ) -> SimRecord:
        half_w, half_h = self.rng.uniform(60, 160), self.rng.uniform(40, 120)
        sw = self.city.offset(lon, lat, -half_w, -half_h)
        ne = self.city.offset(lon, lat, half_w, half_h)
        ring = [
            (round(sw[0], 6), round(sw[1], 6)),
            (round(ne[0], 6), round(sw[1], 6)),
            (round(ne[0], 6), round(ne[1], 6)),
            (round(sw[0], 6), round(ne[1], 6)),
            (round(sw[0], 6), round(sw[1], 6)),
        ]
        prefix = {"roadworks": "AR", "event": "EV", "traffic_order": "TO"}.get(kind, "OT")
        issued = valid_from - self.rng.randint(2, 20) * 86_400_000
        rec = SimRecord(
            feed=Feed.PERMIT,
            source_ref=self.ids.permit(prefix),
            kind=kind,
            event_time=valid_from,
            publish_time=self.cfg.start_ms,  # the day's open-data export
            lon=round(lon, 6),
            lat=round(lat, 6),
            attrs={
                "kind": kind,
                "title": title,
                "authority": "Métropole Aix-Marseille-Provence",
                "applicant": self.maybe("Entreprise Exemple SAS"),
                "issued_at": issued,
                "valid_from": valid_from,
                "valid_until": valid_until,
                "measure": "lane_closure" if kind != "event" else "none",
                "noise_expected": noise,
                "ring": ring,
            },
            role=TruthRole.CONTEXT,
        )
        self.add(rec)
        return rec

    def weather_alert(self) -> None:
        """One orange rain-flood alert over the centre and east, mid-scenario."""
        cfg = self.cfg
        onset = cfg.start_ms + cfg.duration_s * 1000 * 3 // 10
        expires = onset + min(3 * 3600_000, cfg.duration_s * 1000 // 2)
        sent = onset - 30 * 60_000
        box = self.city.weather_alert_box
        self.alert_window = (onset, expires)
        self.alert_box = box
        when = datetime.fromtimestamp(sent / 1000, tz=UTC)
        ident = f"urn:oid:2.49.0.1.250.0.{when:%Y.%m.%d.%H%M}.rain.13.s{cfg.seed}"
        self.alert_ref = ident
        self.add(
            SimRecord(
                feed=Feed.WEATHER_ALERT,
                source_ref=ident,
                kind="Pluie-inondation",
                event_time=onset,
                publish_time=sent,
                lon=(box[0] + box[2]) / 2,
                lat=(box[1] + box[3]) / 2,
                attrs={
                    "sent": sent,
                    "onset": onset,
                    "expires": expires,
                    "event": "Pluie-inondation",
                    "severity": "Severe",
                    "urgency": "Expected",
                    "certainty": "Likely",
                    "headline": "Vigilance orange pluie-inondation",
                    "description": "Fortes pluies orageuses, cumuls de 60 à 80 mm.",
                    "area_desc": "Marseille centre et est",
                    "box": box,
                },
                role=TruthRole.CONTEXT,
            )
        )

    def weather_observations(self) -> None:
        cfg = self.cfg
        step = cfg.weather_interval_s * 1000
        t = -(-cfg.start_ms // step) * step
        onset, expires = self.alert_window
        while t < cfg.end_ms:
            for st in self.city.stations:
                raining = onset <= t <= expires
                rain = round(self.rng.uniform(12, 45), 1) if raining else 0.0
                obs_ref = f"{st.station_id}@{iso_utc(t)}"
                self.add(
                    SimRecord(
                        feed=Feed.WEATHER_OBS,
                        source_ref=obs_ref,
                        kind="observation",
                        event_time=t,
                        publish_time=t + self.rng.randint(120, 600) * 1000,
                        lon=st.lon,
                        lat=st.lat,
                        attrs={
                            "station_id": st.station_id,
                            "station_name": st.name,
                            "temperature_c": round(self.rng.uniform(9, 14), 1),
                            "humidity_pct": self.maybe(self.rng.randint(65, 98)),
                            "wind_speed_ms": round(self.rng.uniform(1, 9), 1),
                            "wind_gust_ms": self.maybe(round(self.rng.uniform(8, 20), 1)),
                            "wind_direction_deg": self.rng.randrange(0, 360, 10),
                            "precip_1h_mm": rain,
                            "pressure_hpa": round(self.rng.uniform(1005, 1018), 1),
                        },
                        role=TruthRole.CONTEXT,
                    )
                )
            t += step

    def vehicles(self) -> None:
        """Vehicles shuttling along their lines, reporting every ``vehicle_interval_s``."""
        cfg = self.cfg
        step = cfg.vehicle_interval_s * 1000
        for route in self.city.routes:
            pts = [(self.city.stops[s].lon, self.city.stops[s].lat) for s in route.stop_ids]
            legs = [self.city.distance_m(pts[i], pts[i + 1]) for i in range(len(pts) - 1)]
            length = sum(legs)
            speed = 9.0 if route.route_type in (0, 1) else 6.0
            count = 4 if route.route_type == 1 else 3
            for v in range(count):
                fleet = f"{route.route_id}-{v + 1:02d}"
                phase = self.rng.uniform(0, 2 * length)
                plate = (
                    f"{self.rng.choice('ABCDEFGH')}{self.rng.choice('JKLMN')}-"
                    f"{self.rng.randint(100, 999)}-"
                    f"{self.rng.choice('PQRST')}{self.rng.choice('VWXYZ')}"
                    if route.route_type == 3
                    else None
                )
                t = cfg.start_ms + self.rng.randint(0, step - 1000) // 1000 * 1000
                while t < cfg.end_ms:
                    s = (phase + speed * (t - cfg.start_ms) / 1000) % (2 * length)
                    forward = s < length
                    d = s if forward else 2 * length - s
                    lon, lat, seg = _along(pts, legs, d)
                    bearing = (
                        _bearing(pts[seg], pts[seg + 1])
                        if forward
                        else ((_bearing(pts[seg], pts[seg + 1]) + 180) % 360)
                    )
                    next_stop = route.stop_ids[seg + 1] if forward else route.stop_ids[seg]
                    glon, glat = self.jitter(lon, lat, 12.0)
                    self.add(
                        SimRecord(
                            feed=Feed.TRANSPORT,
                            source_ref=f"veh-{fleet}@{t // 1000}",
                            kind="vehicle_position",
                            event_time=t,
                            publish_time=t + self.rng.randint(1, 15) * 1000,
                            lon=glon,
                            lat=glat,
                            attrs={
                                "entity_id": f"veh-{fleet}",
                                "vehicle_id": fleet,
                                "label": f"{route.short_name} {route.long_name}",
                                "license_plate": plate,
                                "trip_id": f"{route.route_id}-{0 if forward else 1}",
                                "route_id": route.route_id,
                                "stop_id": next_stop,
                                "bearing": round(bearing, 1),
                                "speed": round(speed + self.rng.uniform(-2, 2), 1),
                            },
                            role=TruthRole.CONTEXT,
                        )
                    )
                    t += step

    def background(self) -> None:
        """Unrelated reports across the city: singletons for the scorer."""
        cfg = self.cfg
        n = round(cfg.background_per_hour * cfg.duration_s / 3600)
        police_codes = (
            "NOISE",
            "THEFT",
            "BURGLARY",
            "VANDALISM",
            "SUSPECT",
            "OTHER",
            "MISSING",
            "DISTURB",
            "THEFT",
            "NOISE",
        )
        for _ in range(n):
            t = self.t_between(cfg.start_ms, cfg.end_ms)
            lon, lat = self.land_point(downtown=0.4)
            u = self.rng.random()
            if u < 0.6:
                self.police(self.rng.choice(police_codes), t, lon, lat, incident=None)
            elif u < 0.8:
                kind = self.rng.choice(("MEDICAL", "MEDICAL", "ALARM", "GAS_LEAK", "OUTDOOR_FIRE"))
                unit = "VSAV" if kind == "MEDICAL" else "FPT"
                self.fire(kind, t, lon, lat, [unit], incident=None, priority=3)
            else:
                cam = self.city.cameras[self.rng.randrange(len(self.city.cameras))]
                kind = self.rng.choice(
                    (
                        "loitering",
                        "running",
                        "abandoned_object",
                        "crowd",
                        "glass_break",
                        "loud_music",
                        "intrusion",
                        "vehicle_wrong_way",
                    )
                )
                if kind in {"glass_break", "loud_music"} and not cam.acoustic:
                    kind = "loitering"
                self.camera(kind, t, cam, incident=None, confidence=(0.5, 0.8))

    def background_permits(self) -> None:
        cfg = self.cfg
        titles = {
            "roadworks": "Réfection de chaussée",
            "event": "Manifestation de plein air",
            "traffic_order": "Interdiction de stationner, déménagement",
        }
        for _ in range(cfg.background_permits):
            lon, lat = self.land_point()
            kind = self.rng.choice(("roadworks", "event", "traffic_order"))
            vf = cfg.start_ms - self.rng.randint(0, 48) * 3600_000
            vu = cfg.end_ms + self.rng.randint(1, 72) * 3600_000
            self.permit(
                lon, lat, vf, vu, kind=kind, noise=kind != "traffic_order", title=titles[kind]
            )

    # ---------------------------------------------------------------- incidents
    def incident(
        self,
        category: str,
        t0: int,
        lon: float,
        lat: float,
        *,
        tags: tuple[str, ...] = (),
        late: bool = False,
        related: tuple[str, ...] = (),
        inc_id: str | None = None,
    ) -> TrueIncident:
        inc = inc_id or self.ids.incident(self.cfg.seed)
        context: tuple[tuple[str, str], ...] = ()
        if "merge" in tags:
            self._emit_merge(inc, t0, lon, lat)
        elif category == "roadworks_noise":
            context = (self._emit_roadworks_noise(inc, t0, lon, lat, late),)
        else:
            recipe: Callable[[str, int, float, float, bool], None] = getattr(
                self, f"_emit_{category}"
            )
            recipe(inc, t0, lon, lat, late)
            if category == "flooding" and self.alert_ref:
                context = (("weather", self.alert_ref),)
        ti = TrueIncident(
            incident_id=inc,
            category=category,
            start=t0,
            lon=round(lon, 6),
            lat=round(lat, 6),
            sector=self.city.sector_of(lon, lat),
            tags=tags + (("late",) if late else ()),
            context_refs=context,
            related=related,
        )
        self.incidents.append(ti)
        return ti

    def when_and_where(self, category: str) -> tuple[int, float, float]:
        cfg = self.cfg
        lo, hi = cfg.start_ms, cfg.end_ms - 20 * 60_000
        if category == "gathering":  # late-night only, when the scenario has a night
            night = _next_local_hour(cfg.start_ms, 22, self.tz)
            if night < hi:
                lo = night
        if category == "flooding":
            lo, hi = self.alert_window[0], min(self.alert_window[1], hi)
            x0, y0, x1, y1 = self.alert_box
            while True:
                lon, lat = self.rng.uniform(x0, x1), self.rng.uniform(y0, y1)
                if self.city.on_land(lon, lat):
                    return self.t_between(lo, hi), lon, lat
        # late-night gatherings happen in every neighbourhood, not only around the port
        lon, lat = self.land_point(downtown=0.3 if category == "gathering" else 0.55)
        return self.t_between(lo, hi), lon, lat

    def run(self) -> Scenario:
        cfg = self.cfg
        self.weather_alert()
        self.weather_observations()
        self.vehicles()
        self.background_permits()
        cats = [c for c, _ in CATEGORY_WEIGHTS]
        weights = [w for _, w in CATEGORY_WEIGHTS]
        # hard cases are planted in full from 50 incidents on, proportionally below, so the
        # scenario always holds exactly cfg.incidents true incidents
        scale = min(1.0, cfg.incidents / 50)
        n_border = int(cfg.hard_border * scale + 0.5)
        n_twins = int(cfg.hard_twins * scale + 0.5)
        n_merge = int(cfg.hard_merge * scale + 0.5)
        special = n_border + n_twins * 2 + n_merge
        while special > cfg.incidents:  # only when hard_* are set above the defaults
            n_border, n_twins, n_merge = n_border // 2, n_twins // 2, n_merge // 2
            special = n_border + n_twins * 2 + n_merge
        regular = cfg.incidents - special
        late_left = cfg.hard_late
        for _ in range(regular):
            cat = self.rng.choices(cats, weights)[0]
            t0, lon, lat = self.when_and_where(cat)
            late = late_left > 0 or self.rng.random() < cfg.late_share
            late_left -= 1
            self.incident(cat, t0, lon, lat, late=late)
        for _ in range(n_border):
            cat = self.rng.choice(("road_accident", "fight", "structure_fire", "shooting"))
            t0, _, _ = self.when_and_where(cat)
            lon, lat = self.border_point()
            self.incident(cat, t0, lon, lat, tags=("border",))
        for k in range(n_twins):
            ca, cb = TWIN_PAIRS[k % len(TWIN_PAIRS)]
            t0, lon, lat = self.when_and_where(ca)
            for _ in range(50):  # the twin is on land too
                ang = self.rng.uniform(0, 2 * math.pi)
                dist = self.rng.uniform(150, 250)
                lon_b, lat_b = self.city.offset(
                    lon, lat, dist * math.cos(ang), dist * math.sin(ang)
                )
                if self.city.on_land(lon_b, lat_b):
                    break
            id_a = self.ids.incident(cfg.seed)
            id_b = self.ids.incident(cfg.seed)
            self.incident(ca, t0, lon, lat, tags=("twin",), related=(id_b,), inc_id=id_a)
            self.incident(
                cb,
                t0 + self.rng.randint(-120, 120) * 1000,
                lon_b,
                lat_b,
                tags=("twin",),
                related=(id_a,),
                inc_id=id_b,
            )
        for _ in range(n_merge):
            for _ in range(50):  # both streets the first reports come from are on land
                t0, lon, lat = self.when_and_where("structure_fire")
                north = self.city.offset(lon, lat, 0, 175)
                south = self.city.offset(lon, lat, 0, -175)
                if self.city.on_land(*north) and self.city.on_land(*south):
                    break
            self.incident("structure_fire", t0, lon, lat, tags=("merge",))
        self.background()
        self.duplicates()
        self.malformed()
        return self.finish()

    # ---------------------------------------------------------------- defects
    def duplicates(self) -> None:
        cfg = self.cfg
        for rec in list(self.records):
            if (
                rec.feed in (Feed.POLICE, Feed.CAMERA, Feed.TRANSPORT)
                and rec.kind != ("vehicle_position")
                and self.rng.random() < cfg.duplicate_share
            ):
                delay = self.rng.randint(5, 180) * 1000
                self.add(replace(rec, publish_time=rec.publish_time + delay, duplicate=True))

    def malformed(self) -> None:
        cfg = self.cfg
        reportable = sum(1 for r in self.records if r.feed in (Feed.POLICE, Feed.FIRE, Feed.CAMERA))
        n = round(reportable * cfg.malformed_share)
        makers: list[Callable[[], None]] = [
            self._bad_police_coords,
            self._bad_police_outside,
            self._bad_police_code,
            self._bad_police_time,
            self._bad_police_line,
            self._bad_fire_unit,
            self._bad_camera_unknown,
            self._bad_camera_confidence,
            self._bad_camera_json,
            self._bad_weather_humidity,
            self._bad_permit_window,
            self._bad_vehicle_position,
        ]
        for k in range(n):
            makers[k % len(makers)]()

    def _bad(self, rec: SimRecord, reason: str, **attrs: object) -> None:
        new_attrs = dict(rec.attrs)
        new_attrs.update(attrs)
        k = next(i for i in range(len(self.records) - 1, -1, -1) if self.records[i] is rec)
        self.records[k] = replace(
            rec, attrs=new_attrs, defect=reason, role=TruthRole.NOISE, incident=None
        )

    def _bg_time_place(self) -> tuple[int, float, float]:
        t = self.t_between(self.cfg.start_ms, self.cfg.end_ms)
        lon, lat = self.land_point()
        return t, lon, lat

    def _bad_police_coords(self) -> None:
        rec = self.police("THEFT", *self._bg_time_place(), incident=None)
        self._bad(rec, "missing_coordinates", missing_position=True)

    def _bad_police_outside(self) -> None:
        t, _, _ = self._bg_time_place()
        x0, y0, _, y1 = self.city.bbox  # a tenth of a degree west of the city's box
        rec = self.police("OTHER", t, x0 - 0.1, (y0 + y1) / 2, incident=None, sigma_m=1.0)
        self._bad(rec, "outside_city")

    def _bad_police_code(self) -> None:
        rec = self.police("OTHER", *self._bg_time_place(), incident=None)
        self._bad(rec, "unknown_code", call_type_code="UFO")

    def _bad_police_time(self) -> None:
        rec = self.police("NOISE", *self._bg_time_place(), incident=None)
        self._bad(rec, "impossible_timestamp", dispatched_at=rec.event_time - 600_000)

    def _bad_police_line(self) -> None:
        rec = self.police("THEFT", *self._bg_time_place(), incident=None)
        self._bad(rec, "unparsable", broken_line=True)

    def _bad_fire_unit(self) -> None:
        t, lon, lat = self._bg_time_place()
        rows = self.fire("ALARM", t, lon, lat, ["FPT"], incident=None, priority=4)
        self._bad(rows[0], "unknown_code", unit_type="SUBMARINE")

    def _bad_camera_unknown(self) -> None:
        t, _, _ = self._bg_time_place()
        rec = self.camera("loitering", t, self.city.cameras[0], incident=None)
        self._bad(rec, "unknown_camera", camera_id="CAM-9999")

    def _bad_camera_confidence(self) -> None:
        t, _, _ = self._bg_time_place()
        rec = self.camera("running", t, self.city.cameras[1], incident=None)
        self._bad(rec, "invalid_value", confidence=1.7)

    def _bad_camera_json(self) -> None:
        t, _, _ = self._bg_time_place()
        rec = self.camera("crowd", t, self.city.cameras[2], incident=None)
        self._bad(rec, "unparsable", broken_line=True)

    def _bad_weather_humidity(self) -> None:
        obs = [r for r in self.records if r.feed is Feed.WEATHER_OBS and r.defect is None]
        if obs:
            rec = obs[self.rng.randrange(len(obs))]
            self._bad(rec, "invalid_value", humidity_pct=140)

    def _bad_permit_window(self) -> None:
        lon, lat = self.land_point()
        rec = self.permit(
            lon,
            lat,
            self.cfg.end_ms,
            self.cfg.start_ms,
            kind="roadworks",
            noise=False,
            title="Permis mal saisi",
        )
        self._bad(rec, "impossible_timestamp")

    def _bad_vehicle_position(self) -> None:
        veh = [r for r in self.records if r.kind == "vehicle_position" and r.defect is None]
        if veh:
            rec = veh[self.rng.randrange(len(veh))]
            self._bad(rec, "missing_coordinates", missing_position=True)

    # ---------------------------------------------------------------- finish
    def finish(self) -> Scenario:
        order = {id(r): k for k, r in enumerate(self.records)}
        records = sorted(self.records, key=lambda r: (r.publish_time, order[id(r)]))
        incidents = tuple(_tag(self.city, i, records) for i in self.incidents)
        cfg = self.cfg
        return Scenario(
            seed=cfg.seed,
            city=self.city.name,
            start=cfg.start_ms,
            end=cfg.end_ms,
            incidents=tuple(sorted(incidents, key=lambda i: i.incident_id)),
            records=tuple(records),
            options={k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
        )


def _tag(city: SimCity, inc: TrueIncident, records: list[SimRecord]) -> TrueIncident:
    """Tags from what was emitted: ``border`` when the reports fall in more than one sector,
    ``late`` when one was published at least :data:`LATE_MS` after it happened."""
    mine = [r for r in records if r.incident == inc.incident_id and r.defect is None]
    sectors = {
        city.sector_of(r.lon, r.lat) for r in mine if r.lon is not None and r.lat is not None
    }
    sectors.discard(None)
    tags = [t for t in inc.tags if t not in ("border", "late")]
    if len(sectors) > 1:
        tags.append("border")
    if any(r.publish_time - r.event_time >= LATE_MS for r in mine):
        tags.append("late")
    return replace(inc, tags=tuple(sorted(tags)))


def _along(pts: list[tuple[float, float]], legs: list[float], d: float) -> tuple[float, float, int]:
    for i, leg in enumerate(legs):
        if d <= leg or i == len(legs) - 1:
            f = min(1.0, d / leg) if leg > 0 else 0.0
            a, b = pts[i], pts[i + 1]
            return a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, i
        d -= leg
    return pts[-1][0], pts[-1][1], len(legs) - 1


def _bearing(a: tuple[float, float], b: tuple[float, float]) -> float:
    dx = (b[0] - a[0]) * math.cos(math.radians(a[1]))
    dy = b[1] - a[1]
    return math.degrees(math.atan2(dx, dy)) % 360


def _next_local_hour(ms: int, hour: int, tz: ZoneInfo) -> int:
    local = datetime.fromtimestamp(ms / 1000, tz=tz)
    target = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if target < local:
        target += timedelta(days=1)
    return int(target.timestamp() * 1000)


def iso_utc(ms: int) -> str:
    """``2026-11-28T21:00:00Z``: the UTC ISO form used in ids and UTC timestamps."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate(city: SimCity, cfg: ScenarioConfig) -> Scenario:
    """Generate the scenario for ``cfg`` over ``city`` (pure, deterministic by seed)."""
    return _Gen(city, cfg).run()
