"""The pure vocabulary every connector shares: rejections, source positions, city area, time.

A connector's parser turns bytes into typed raw records or :class:`Rejection` values and does
no I/O, so it can be tested and fuzzed without a broker. The runtime (``connectors.runtime``)
moves the results to Kafka. Every record of the input ends as exactly one of the two: that
accounting is what "bad input loses nothing" means, and the fuzz tests check it.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, datetime
from enum import Enum, StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pyproj import Transformer
from pyproj.exceptions import CRSError

from vigie.errors import VigieError

#: Agency times before this are typos or epoch zeros, not real events.
EARLIEST_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
#: How far in the future (after ingest) a timestamp may be: agency clocks drift a little.
MAX_FUTURE_SKEW_MS = 5 * 60 * 1000


class Reason(StrEnum):
    """Why a record went to the dead-letter topic; a closed set, documented in docs/feeds.md."""

    UNPARSABLE = "unparsable"
    MISSING_FIELD = "missing_field"
    MISSING_COORDINATES = "missing_coordinates"
    INVALID_COORDINATES = "invalid_coordinates"
    OUTSIDE_CITY = "outside_city"
    IMPOSSIBLE_TIMESTAMP = "impossible_timestamp"
    UNKNOWN_CODE = "unknown_code"
    UNKNOWN_CAMERA = "unknown_camera"
    INVALID_VALUE = "invalid_value"


@dataclass(frozen=True, slots=True)
class SourcePosition:
    """Where a record came from: the file or URL, and its 1-based data record index.

    Index 0 stands for the whole payload, when it could not be split into records.
    """

    uri: str
    index: int

    def __str__(self) -> str:
        return f"{self.uri}#{self.index}"


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record the connector refused, with everything the DLQ needs to keep it.

    ``detail`` names the field at fault, never a personal value, so it is safe to log.
    """

    reason: Reason
    position: SourcePosition
    original: bytes
    detail: str
    record_id: str | None = None


class RawRecord(Protocol):
    """A typed, validated, pseudonymised raw record, ready for its ``raw.<feed>`` schema."""

    record_id: str

    def kafka_key(self) -> str:
        """The key it is produced with (decides its partition and ordering)."""
        ...


class RecordRejected(Exception):
    """Raised inside a parser for one record; the parser loop turns it into a Rejection."""

    def __init__(self, reason: Reason, detail: str, record_id: str | None = None) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
        self.record_id = record_id


class CityConfigError(VigieError):
    """The city folder's ``city.yaml`` is missing or wrong."""


@dataclass(frozen=True, slots=True)
class CityArea:
    """The city's WGS84 box and time zone, from ``cities/<city>/city.yaml``."""

    name: str
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float
    timezone: ZoneInfo
    #: Projected CRS of the city (``crs`` in city.yaml), for agencies that export metres.
    crs: str = "EPSG:2154"

    def to_wgs84(self, x: float, y: float) -> tuple[float, float]:
        """Projected ``x``/``y`` in the city's CRS to WGS84 ``(lon, lat)``."""
        lon, lat = _transformer(self.crs).transform(x, y)
        return float(lon), float(lat)

    def contains(self, lon: float, lat: float) -> bool:
        """Whether a point lies inside the box (borders included)."""
        return self.min_lon <= lon <= self.max_lon and self.min_lat <= lat <= self.max_lat

    def intersects_bounds(self, bounds: tuple[float, float, float, float]) -> bool:
        """Whether a shape's bounding box (min_lon, min_lat, max_lon, max_lat) meets the box."""
        lo_lon, lo_lat, hi_lon, hi_lat = bounds
        return not (
            hi_lon < self.min_lon
            or lo_lon > self.max_lon
            or hi_lat < self.min_lat
            or lo_lat > self.max_lat
        )


def load_city(city_dir: Path) -> CityArea:
    """Read ``city.yaml`` (keys ``name``, ``bbox``, ``timezone``) from the city folder."""
    path = city_dir / "city.yaml"
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        msg = f"cannot read the city description {path}: {exc}"
        raise CityConfigError(msg) from exc
    try:
        min_lon, min_lat, max_lon, max_lat = (float(v) for v in doc["bbox"])
        zone = ZoneInfo(str(doc.get("timezone", "UTC")))
        name = str(doc.get("name", city_dir.name))
        crs = str(doc.get("crs", "EPSG:2154"))
        _transformer(crs)
    except (KeyError, TypeError, ValueError, ZoneInfoNotFoundError, CRSError) as exc:
        msg = f"{path}: needs bbox [min_lon, min_lat, max_lon, max_lat] and a timezone ({exc})"
        raise CityConfigError(msg) from exc
    if not (min_lon < max_lon and min_lat < max_lat):
        msg = f"{path}: bbox must be [min_lon, min_lat, max_lon, max_lat] with min < max"
        raise CityConfigError(msg)
    return CityArea(name, min_lon, min_lat, max_lon, max_lat, zone, crs)


@lru_cache(maxsize=8)
def _transformer(crs: str) -> Transformer:
    """Built once per CRS: building a transformer costs far more than using it."""
    return Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


@dataclass(frozen=True, slots=True)
class ParseContext:
    """What a parser needs besides the bytes: the city, the key, and the ingest clock."""

    city: CityArea
    pseudonym_key: bytes
    ingest_time: int  # ms since epoch, UTC, when the payload was read


class Parser(Protocol):
    """One feed's pure parser."""

    feed: ClassVar[str]

    def parse(self, payload: bytes, uri: str, ctx: ParseContext) -> Iterator[Any]:
        """Yield one raw record or :class:`Rejection` per input record."""
        ...


# --- field readers: each raises RecordRejected with a reason -----------------------------


def parse_instant(text: str | None, field: str, ctx: ParseContext) -> int:
    """An ISO 8601 time as ms since epoch; without an offset it is the city's local time."""
    if text is None or not text.strip():
        raise RecordRejected(Reason.MISSING_FIELD, f"{field} is empty")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise RecordRejected(Reason.IMPOSSIBLE_TIMESTAMP, f"{field} is not ISO 8601") from exc
    if moment.tzinfo is None:
        local = moment.replace(tzinfo=ctx.city.timezone)
        back = local.astimezone(UTC).astimezone(ctx.city.timezone)
        if back.replace(tzinfo=None) != moment:
            detail = f"{field} is a local time that does not exist (DST gap)"
            raise RecordRejected(Reason.IMPOSSIBLE_TIMESTAMP, detail)
        moment = local
    try:
        millis = int(moment.timestamp() * 1000)
    except (OverflowError, ValueError, OSError) as exc:
        raise RecordRejected(Reason.IMPOSSIBLE_TIMESTAMP, f"{field} is out of range") from exc
    return check_instant(millis, field, ctx)


def parse_optional_instant(text: str | None, field: str, ctx: ParseContext) -> int | None:
    """Like :func:`parse_instant`, but an empty value is ``None``."""
    if text is None or not text.strip():
        return None
    return parse_instant(text, field, ctx)


def check_instant(millis: int, field: str, ctx: ParseContext) -> int:
    """Reject times before 2000 or more than the allowed skew after ingest."""
    if millis < EARLIEST_MS:
        raise RecordRejected(Reason.IMPOSSIBLE_TIMESTAMP, f"{field} is before 2000")
    if millis > ctx.ingest_time + MAX_FUTURE_SKEW_MS:
        raise RecordRejected(Reason.IMPOSSIBLE_TIMESTAMP, f"{field} is in the future")
    return millis


def check_order(earlier: int | None, later: int | None, names: str) -> None:
    """Reject two instants in the wrong order (``names`` like ``received_at <= dispatched_at``)."""
    if earlier is not None and later is not None and later < earlier:
        raise RecordRejected(Reason.IMPOSSIBLE_TIMESTAMP, f"expected {names}")


def parse_float(text: Any, field: str) -> float:
    """A finite number, else ``invalid_value``."""
    try:
        value = float(text)
    except (TypeError, ValueError, OverflowError) as exc:
        raise RecordRejected(Reason.INVALID_VALUE, f"{field} is not a number") from exc
    if not math.isfinite(value):
        raise RecordRejected(Reason.INVALID_VALUE, f"{field} is not finite")
    return value


def parse_optional_float(
    text: Any, field: str, low: float = -math.inf, high: float = math.inf
) -> float | None:
    """An optional number in ``[low, high]``; empty or ``None`` is ``None``."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if isinstance(text, bool):
        raise RecordRejected(Reason.INVALID_VALUE, f"{field} is not a number")
    value = parse_float(text, field)
    if not low <= value <= high:
        raise RecordRejected(Reason.INVALID_VALUE, f"{field} is outside [{low}, {high}]")
    return value


def parse_int_in(text: Any, field: str, low: int, high: int) -> int:
    """A required integer in ``[low, high]``."""
    if text is None or (isinstance(text, str) and not text.strip()):
        raise RecordRejected(Reason.MISSING_FIELD, f"{field} is empty")
    try:
        value = int(str(text).strip())
    except ValueError as exc:
        raise RecordRejected(Reason.INVALID_VALUE, f"{field} is not an integer") from exc
    if not low <= value <= high:
        raise RecordRejected(Reason.INVALID_VALUE, f"{field} is outside [{low}, {high}]")
    return value


def check_lon_lat(lon: float, lat: float, ctx: ParseContext) -> tuple[float, float]:
    """Validate a WGS84 point and check it lies in the city."""
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise RecordRejected(Reason.INVALID_COORDINATES, "coordinates are not finite")
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise RecordRejected(Reason.INVALID_COORDINATES, "longitude/latitude out of range")
    if not ctx.city.contains(lon, lat):
        raise RecordRejected(Reason.OUTSIDE_CITY, f"position is outside {ctx.city.name}")
    return lon, lat


def parse_lon_lat(lon_text: Any, lat_text: Any, ctx: ParseContext) -> tuple[float, float]:
    """Longitude and latitude from two text fields."""
    empty = [t is None or (isinstance(t, str) and not t.strip()) for t in (lon_text, lat_text)]
    if all(empty):
        raise RecordRejected(Reason.MISSING_COORDINATES, "longitude and latitude are empty")
    if any(empty):
        raise RecordRejected(Reason.MISSING_COORDINATES, "longitude or latitude is empty")
    try:
        lon, lat = float(lon_text), float(lat_text)
    except (TypeError, ValueError, OverflowError) as exc:
        detail = "longitude/latitude are not numbers"
        raise RecordRejected(Reason.INVALID_COORDINATES, detail) from exc
    return check_lon_lat(lon, lat, ctx)


def parse_position(row: Mapping[str, str], ctx: ParseContext) -> tuple[float, float]:
    """WGS84 ``longitude``/``latitude`` columns, else projected ``x``/``y`` in the city's CRS.

    CAD systems often export projected map coordinates rather than degrees; both are
    accepted, degrees first when a row has both.
    """

    def blank(name: str) -> bool:
        return not (row.get(name) or "").strip()

    if blank("longitude") and blank("latitude") and not (blank("x") and blank("y")):
        if blank("x") or blank("y"):
            raise RecordRejected(Reason.MISSING_COORDINATES, "x or y is empty")
        try:
            x, y = float(row["x"]), float(row["y"])
        except (TypeError, ValueError, OverflowError) as exc:
            raise RecordRejected(Reason.INVALID_COORDINATES, "x/y are not numbers") from exc
        if not (math.isfinite(x) and math.isfinite(y)):
            raise RecordRejected(Reason.INVALID_COORDINATES, "x/y are not finite")
        lon, lat = ctx.city.to_wgs84(x, y)
        return check_lon_lat(lon, lat, ctx)
    return parse_lon_lat(row.get("longitude"), row.get("latitude"), ctx)


def require_code(value: str | None, field: str, allowed: frozenset[str]) -> str:
    """A required code from a closed list."""
    if value is None or not value.strip():
        raise RecordRejected(Reason.MISSING_FIELD, f"{field} is empty")
    code = value.strip()
    if code not in allowed:
        # The value is not echoed: a shifted or mistyped column could hold a name or a number.
        raise RecordRejected(Reason.UNKNOWN_CODE, f"{field} is not a known code")
    return code


def require_text(value: Any, field: str) -> str:
    """A required, non-blank text field."""
    if value is None or not str(value).strip():
        raise RecordRejected(Reason.MISSING_FIELD, f"{field} is empty")
    if not isinstance(value, str):
        raise RecordRejected(Reason.INVALID_VALUE, f"{field} is not text")
    return value.strip()


def optional_text(value: Any) -> str | None:
    """A stripped text, or ``None`` when blank or absent."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


# --- record splitting ----------------------------------------------------------------------


def split_lines(payload: bytes) -> Iterator[tuple[int, bytes]]:
    """Non-blank physical lines (without their line break), with their 1-based index."""
    index = 0
    for line in payload.removeprefix(b"\xef\xbb\xbf").split(b"\n"):
        stripped = line.removesuffix(b"\r")
        if not stripped.strip():
            continue
        index += 1
        yield index, stripped


def iter_csv(
    payload: bytes,
    uri: str,
    required: frozenset[str],
    build: Callable[[Mapping[str, str], int], Any],
) -> Iterator[Any]:
    """Parse a header-first CSV, one record per physical line, through ``build``.

    ``build`` gets the row as a column -> value mapping and its record index, and returns a
    raw record or raises :class:`RecordRejected`. Yields one result per non-blank data line.
    """
    lines = split_lines(payload)
    header_line = next(lines, None)
    if header_line is None:
        return
    header: list[str] | None = None
    problem = ""
    try:
        header = [h.strip() for h in next(csv.reader([header_line[1].decode("utf-8")]))]
        missing = sorted(required - set(header))
        if missing:
            problem = f"header lacks column(s) {', '.join(missing)}"
            header = None
    except (UnicodeDecodeError, csv.Error, StopIteration):
        problem = "header is not readable CSV"
        header = None
    for number, line in lines:
        index = number - 1  # the header is not a record
        position = SourcePosition(uri, index)
        if header is None:
            yield Rejection(Reason.UNPARSABLE, position, line, problem)
            continue
        try:
            row = _csv_row(line, len(header))
            yield build(dict(zip(header, row, strict=True)), index)
        except RecordRejected as rejected:
            yield Rejection(rejected.reason, position, line, rejected.detail, rejected.record_id)


def _csv_row(line: bytes, width: int) -> list[str]:
    try:
        rows = list(csv.reader([line.decode("utf-8")], strict=True))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise RecordRejected(Reason.UNPARSABLE, "line is not valid UTF-8 CSV") from exc
    if len(rows) != 1 or len(rows[0]) != width:
        detail = f"expected {width} columns, found {len(rows[0]) if rows else 0}"
        raise RecordRejected(Reason.UNPARSABLE, detail)
    return rows[0]


def with_record_id(record_id: str | None, action: Callable[[], Any]) -> Any:
    """Run ``action``; a rejection it raises is tagged with the record id read so far."""
    try:
        return action()
    except RecordRejected as rejected:
        if rejected.record_id is None:
            rejected.record_id = record_id
        raise


# --- Avro mapping --------------------------------------------------------------------------


def to_avro(value: Any) -> Any:
    """A raw record (nested frozen dataclasses, enums, tuples) as the dict fastavro writes."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_avro(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [to_avro(v) for v in value]
    if isinstance(value, dict):
        return {k: to_avro(v) for k, v in value.items()}
    return value


def now_ms() -> int:
    """The current time as ms since epoch, UTC (the ingest clock of the runtime)."""
    return int(datetime.now(UTC).timestamp() * 1000)
