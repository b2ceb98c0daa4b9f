"""Which incidents an operator wants to see: minimum severity, categories, sectors, a box.

Closed and merged incidents are hidden unless asked for: a merged incident lives on in the
one it was merged into, and a closed one needs no action.

One pure predicate shared by ``vigie watch`` and the page's server, so both filter alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vigie.core.events import Incident, Status
from vigie.errors import VigieError


class FilterError(VigieError):
    """A filter given on the command line or in a request is malformed."""


@dataclass(frozen=True, slots=True)
class BBox:
    """A WGS84 box, ``min_lon, min_lat, max_lon, max_lat``, edges included."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    def contains(self, lon: float, lat: float) -> bool:
        """Whether the point lies inside the box or on its edge."""
        return self.min_lon <= lon <= self.max_lon and self.min_lat <= lat <= self.max_lat


def parse_bbox(text: str) -> BBox:
    """``"min_lon,min_lat,max_lon,max_lat"`` as a :class:`BBox`, checked."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4:
        msg = f"a bounding box is min_lon,min_lat,max_lon,max_lat; got {text!r}"
        raise FilterError(msg)
    try:
        min_lon, min_lat, max_lon, max_lat = (float(p) for p in parts)
    except ValueError as exc:
        msg = f"a bounding box holds four numbers; got {text!r}"
        raise FilterError(msg) from exc
    if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180):
        msg = f"longitudes must be within -180..180; got {text!r}"
        raise FilterError(msg)
    if not (-90 <= min_lat <= 90 and -90 <= max_lat <= 90):
        msg = f"latitudes must be within -90..90; got {text!r}"
        raise FilterError(msg)
    if min_lon > max_lon or min_lat > max_lat:
        msg = f"a bounding box needs min <= max on both axes; got {text!r}"
        raise FilterError(msg)
    return BBox(min_lon, min_lat, max_lon, max_lat)


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    """What to show; an empty set of categories or sectors means all of them."""

    min_severity: int = 1
    categories: frozenset[str] = frozenset()
    sectors: frozenset[str] = frozenset()
    bbox: BBox | None = None
    include_closed: bool = False

    @classmethod
    def build(
        cls,
        *,
        min_severity: int = 1,
        categories: Iterable[str] = (),
        sectors: Iterable[str] = (),
        bbox: str | None = None,
        include_closed: bool = False,
    ) -> IncidentFilter:
        """A filter from user input (comma lists allowed), checked."""
        if not 1 <= min_severity <= 5:
            msg = f"minimum severity is 1..5; got {min_severity}"
            raise FilterError(msg)
        return cls(
            min_severity=min_severity,
            categories=_split(categories),
            sectors=_split(sectors),
            bbox=parse_bbox(bbox) if bbox else None,
            include_closed=include_closed,
        )

    def matches(self, incident: Incident) -> bool:
        """Whether the incident passes every criterion."""
        if not self.include_closed and incident.status in (Status.CLOSED, Status.MERGED):
            return False
        if incident.severity < self.min_severity:
            return False
        if self.categories and incident.category not in self.categories:
            return False
        if self.sectors and (incident.sector is None or incident.sector not in self.sectors):
            return False
        return self.bbox is None or self.bbox.contains(incident.lon, incident.lat)


def _split(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.strip() for value in values for v in value.split(",") if v.strip())
