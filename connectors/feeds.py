"""The six feeds by name: their parser, raw schema and topics, built from the city folder.

This is the one place that knows which reference data each parser needs (the camera
registry, the static GTFS), so the CLI and tests build connectors the same way.
"""

from __future__ import annotations

from pathlib import Path

from connectors.base import Parser
from connectors.camera import CameraParser, load_camera_registry
from connectors.fire import FireParser
from connectors.permits import PermitsParser
from connectors.police import PoliceParser
from connectors.transport import TransportParser, load_static_gtfs
from connectors.weather import WeatherParser

#: Feed name -> full name of its raw Avro schema (schemas/avro/raw/<feed>.avsc).
RAW_SCHEMAS: dict[str, str] = {
    "police": "org.vigie.raw.v1.PoliceCall",
    "fire": "org.vigie.raw.v1.FireDispatch",
    "transport": "org.vigie.raw.v1.TransportEntity",
    "weather": "org.vigie.raw.v1.WeatherRecord",
    "permits": "org.vigie.raw.v1.Permit",
    "camera": "org.vigie.raw.v1.CameraDetection",
}
FEEDS: tuple[str, ...] = tuple(RAW_SCHEMAS)


def raw_topic(feed: str) -> str:
    """The topic accepted records go to."""
    return f"raw.{feed}"


def dlq_topic(feed: str) -> str:
    """The dead-letter topic rejections go to."""
    return f"dlq.{feed}"


def build_parser(
    feed: str, city_dir: Path, cameras: Path | None = None, gtfs: Path | None = None
) -> Parser:
    """The parser of ``feed``, its reference data read from the city folder unless given."""
    if feed == "police":
        return PoliceParser()
    if feed == "fire":
        return FireParser()
    if feed == "weather":
        return WeatherParser()
    if feed == "permits":
        return PermitsParser()
    if feed == "camera":
        return CameraParser(load_camera_registry(cameras or city_dir / "cameras.csv"))
    if feed == "transport":
        return TransportParser(load_static_gtfs(gtfs or city_dir / "gtfs"))
    msg = f"unknown feed {feed!r}; one of {', '.join(FEEDS)}"
    raise ValueError(msg)
