"""Hand-made events for the fusion tests: metres around a local origin, times in seconds."""

from __future__ import annotations

from vigie.core.events import NormalizedEvent, Role, Source

#: A point in central Marseille (Lambert-93 metres) and its WGS84 twin.
X0, Y0 = 893_000.0, 6_247_000.0
LON0, LAT0 = 5.3775, 43.2966
T0 = 1_795_881_600_000  # 2026-11-28T16:00:00Z

SOURCE_OF = {
    "shots_fired": Source.POLICE,
    "noise_complaint": Source.POLICE,
    "assault": Source.POLICE,
    "traffic_collision": Source.POLICE,
    "police_other": Source.POLICE,
    "fire_report": Source.POLICE,
    "structure_fire": Source.FIRE,
    "road_accident": Source.FIRE,
    "medical": Source.FIRE,
    "flooding": Source.FIRE,
    "gunshot": Source.CAMERA,
    "scream": Source.CAMERA,
    "smoke": Source.CAMERA,
    "loud_music": Source.CAMERA,
    "fight": Source.CAMERA,
    "crowd": Source.CAMERA,
    "service_alert": Source.TRANSPORT,
    "transit_weather_alert": Source.TRANSPORT,
    "vehicle_position": Source.TRANSPORT,
    "weather_alert": Source.WEATHER,
    "weather_observation": Source.WEATHER,
    "roadworks": Source.PERMITS,
    "permit": Source.PERMITS,
}

CONTEXT_KINDS = {"vehicle_position", "weather_alert", "weather_observation", "roadworks", "permit"}


def ev(
    event_id: str,
    kind: str,
    dx: float,
    dy: float,
    dt_s: float,
    *,
    uncertainty_m: float = 0.0,
    **extra: object,
) -> NormalizedEvent:
    """An event ``dx``/``dy`` metres and ``dt_s`` seconds from the origin."""
    return NormalizedEvent(
        event_id=event_id,
        source=SOURCE_OF.get(kind, Source.POLICE),
        kind=kind,
        role=Role.CONTEXT if kind in CONTEXT_KINDS else Role.EVIDENCE,
        event_time=T0 + round(dt_s * 1000),
        ingest_time=T0 + round(dt_s * 1000) + 5000,
        lon=LON0 + dx / 81_000,
        lat=LAT0 + dy / 111_000,
        x=X0 + dx,
        y=Y0 + dy,
        uncertainty_m=uncertainty_m,
        sector="13201" if dx < 0 else "13202",
        source_ref=event_id,
        **extra,  # type: ignore[arg-type]
    )


def square_wkt(dx0: float, dy0: float, dx1: float, dy1: float) -> str:
    """A WGS84 rectangle between two offsets from the origin, as ``ev`` places points."""
    a, b = LON0 + dx0 / 81_000, LAT0 + dy0 / 111_000
    c, d = LON0 + dx1 / 81_000, LAT0 + dy1 / 111_000
    return f"POLYGON(({a} {b}, {c} {b}, {c} {d}, {a} {d}, {a} {b}))"
