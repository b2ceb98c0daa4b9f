"""Context around an incident: weather, alerts, permits, transport nearby.

Context events never form incidents; they are kept in a small store for as long as they
can still apply to an incident in the state, and joined when an incident is assessed:

- the weather observation of the nearest station (within a radius) closest in time;
- weather alerts (CAP) whose area covers the incident while valid (no area: citywide);
- permits and traffic orders whose polygon covers one of the incident's events while valid;
- transport vehicles seen near the incident's events around its time: the affected lines.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

from vigie.core.events import IncidentContext, NormalizedEvent, Source
from vigie.core.geo import AreaIndex
from vigie.core.rules import Rules

_BUCKET_MS = 300_000


class ContextClass:
    """What a context event is used for (a plain namespace of strings)."""

    OBSERVATION = "observation"
    ALERT = "alert"
    PERMIT = "permit"
    VEHICLE = "vehicle"
    OTHER = "other"


def classify(event: NormalizedEvent) -> str:
    """Sort a context event into the joins above, from its source and kind."""
    if event.source == Source.WEATHER:
        if event.area_wkt is not None or "alert" in event.kind:
            return ContextClass.ALERT
        return ContextClass.OBSERVATION
    if event.source == Source.PERMITS:
        return ContextClass.PERMIT
    if event.source == Source.TRANSPORT:
        return ContextClass.VEHICLE
    return ContextClass.OTHER


@dataclass(frozen=True, slots=True)
class JoinedContext:
    """The context of one incident plus the context events behind it (for explanations)."""

    context: IncidentContext
    matched: tuple[NormalizedEvent, ...]


@dataclass(frozen=True, slots=True)
class _Areal:
    """An alert or permit, with what the join filters on worked out once, when it arrives.

    ``bounds`` is the lon/lat box of its area; ``None`` for one without an area (a citywide
    alert, or a permit at a point).
    """

    event: NormalizedEvent
    is_alert: bool
    start: int
    end: int
    bounds: tuple[float, float, float, float] | None


class ContextStore:
    """Context events still able to apply to an incident, with the joins over them.

    Every incident (re)build joins its context, so the join is the engine's hottest path:
    each event is classified once, on arrival, into the structure its join reads, and
    alerts and permits carry their validity and area box so most are turned down by a few
    comparisons before any geometry is touched.
    """

    def __init__(self, rules: Rules) -> None:
        self._rules = rules
        #: Weather observations: a few per station and window, scanned whole.
        self._observations: dict[str, NormalizedEvent] = {}
        #: Weather alerts and permits, with their validity and area box.
        self._areal: dict[str, _Areal] = {}
        #: Context events of no join (kept so duplicates are still recognised).
        self._other: dict[str, NormalizedEvent] = {}
        #: Vehicle positions: many, bucketed by 5 minutes of event time, then by grid cell.
        self._vehicles: dict[int, dict[tuple[int, int], list[NormalizedEvent]]] = {}
        self._cell = max(rules.spec.context.transport_radius_m, 1.0)
        self._vehicle_ids: set[str] = set()
        #: (relevance end, id) of everything but vehicles: eviction pops what ended, so a
        #: sweep costs what it drops, not what is held.
        self._expiry: list[tuple[int, str]] = []
        self._areas = AreaIndex()

    def __len__(self) -> int:
        return (
            len(self._observations) + len(self._areal) + len(self._other) + len(self._vehicle_ids)
        )

    def held_ids(self) -> set[str]:
        """Ids of every context event still held."""
        return set(self._observations) | set(self._areal) | set(self._other) | self._vehicle_ids

    def _known(self, event_id: str) -> bool:
        return (
            event_id in self._vehicle_ids
            or event_id in self._areal
            or event_id in self._observations
            or event_id in self._other
        )

    def add(self, event: NormalizedEvent) -> bool:
        """Keep a context event; False when it was already known (a duplicate)."""
        if self._known(event.event_id):
            return False
        cls = classify(event)
        if cls == ContextClass.VEHICLE:
            bucket = self._vehicles.setdefault(event.event_time // _BUCKET_MS, {})
            cell = (math.floor(event.x / self._cell), math.floor(event.y / self._cell))
            bucket.setdefault(cell, []).append(event)
            self._vehicle_ids.add(event.event_id)
        elif cls == ContextClass.OBSERVATION:
            self._observations[event.event_id] = event
        elif cls in (ContextClass.ALERT, ContextClass.PERMIT):
            start = event.valid_from if event.valid_from is not None else event.event_time
            end = event.valid_until if event.valid_until is not None else event.event_time
            bounds = None if event.area_wkt is None else self._areas.bounds(event.area_wkt)
            is_alert = cls == ContextClass.ALERT
            self._areal[event.event_id] = _Areal(event, is_alert, start, end, bounds)
        else:
            self._other[event.event_id] = event
        if cls != ContextClass.VEHICLE:
            heapq.heappush(self._expiry, (self.relevance_end(event), event.event_id))
        return True

    def _vehicles_near(
        self, start: int, end: int, box: tuple[float, float, float, float]
    ) -> list[NormalizedEvent]:
        """Vehicle positions between two times inside a box (min_x, min_y, max_x, max_y)."""
        i0, j0 = math.floor(box[0] / self._cell), math.floor(box[1] / self._cell)
        i1, j1 = math.floor(box[2] / self._cell), math.floor(box[3] / self._cell)
        found: list[NormalizedEvent] = []
        for minute in range(start // _BUCKET_MS, end // _BUCKET_MS + 1):
            bucket = self._vehicles.get(minute)
            if not bucket:
                continue
            for i in range(i0, i1 + 1):
                for j in range(j0, j1 + 1):
                    found.extend(bucket.get((i, j), ()))
        return found

    def relevance_end(self, event: NormalizedEvent) -> int:
        """Last event time at which this context event can still matter."""
        spec = self._rules.spec.context
        window = {
            ContextClass.OBSERVATION: spec.weather_observation_window_s,
            ContextClass.VEHICLE: spec.transport_window_s,
        }.get(classify(event), 0.0)
        end = event.valid_until if event.valid_until is not None else event.event_time
        return end + round(window * 1000)

    def evict_before(self, time_ms: int) -> list[str]:
        """Forget context that ended before ``time_ms``; returns the ids dropped."""
        dropped: list[str] = []
        while self._expiry and self._expiry[0][0] < time_ms:
            _, event_id = heapq.heappop(self._expiry)
            areal = self._areal.pop(event_id, None)
            if areal is not None and areal.event.area_wkt is not None:
                self._areas.forget(areal.event.area_wkt)
            self._observations.pop(event_id, None)
            self._other.pop(event_id, None)
            dropped.append(event_id)
        window = round(self._rules.spec.context.transport_window_s * 1000)
        for minute in [m for m in self._vehicles if (m + 1) * _BUCKET_MS + window < time_ms]:
            for cell_events in self._vehicles.pop(minute).values():
                ids = [e.event_id for e in cell_events]
                self._vehicle_ids.difference_update(ids)
                dropped.extend(ids)
        return dropped

    def join(self, members: Sequence[NormalizedEvent]) -> JoinedContext:
        """Context of an incident made of ``members`` (evidence events)."""
        spec = self._rules.spec.context
        tmin = min(m.event_time for m in members)
        tmax = max(m.event_time for m in members)
        cx = sum(m.x for m in members) / len(members)
        cy = sum(m.y for m in members) / len(members)
        clon = sum(m.lon for m in members) / len(members)
        clat = sum(m.lat for m in members) / len(members)
        obs_window = round(spec.weather_observation_window_s * 1000)
        veh_window = round(spec.transport_window_s * 1000)

        best_obs: tuple[float, int, str] | None = None
        obs_event: NormalizedEvent | None = None
        alerts: list[NormalizedEvent] = []
        permits: list[NormalizedEvent] = []
        lines: set[str] = set()
        reach = spec.transport_radius_m
        box = (
            min(m.x for m in members) - reach,
            min(m.y for m in members) - reach,
            max(m.x for m in members) + reach,
            max(m.y for m in members) + reach,
        )
        for event in self._observations.values():
            if abs(event.event_time - tmin) > obs_window:
                continue
            dist = math.hypot(event.x - cx, event.y - cy)
            if dist > spec.weather_station_radius_m:
                continue
            rank = (round(dist), abs(event.event_time - tmin), event.event_id)
            if best_obs is None or rank < best_obs:
                best_obs, obs_event = rank, event
        points = [(clon, clat), *((m.lon, m.lat) for m in members)]
        lon0, lon1 = min(p[0] for p in points), max(p[0] for p in points)
        lat0, lat1 = min(p[1] for p in points), max(p[1] for p in points)
        for areal in self._areal.values():
            if areal.end < tmin or areal.start > tmax:
                continue
            b = areal.bounds
            if b is not None and (b[0] > lon1 or b[2] < lon0 or b[1] > lat1 or b[3] < lat0):
                continue  # its area's box misses every point the incident is tested at
            if self._covers(areal, members, points):
                (alerts if areal.is_alert else permits).append(areal.event)
        nearby = self._vehicles_near(tmin - veh_window, tmax + veh_window, box)
        for event in nearby:
            line = event.attributes.get(spec.line_attribute) or event.attributes.get("route_id")
            if not line or line in lines:
                continue
            for m in members:
                if (
                    abs(event.event_time - m.event_time) <= veh_window
                    and math.hypot(event.x - m.x, event.y - m.y) <= spec.transport_radius_m
                ):
                    lines.add(line)
                    break
        for m in members:
            line = m.attributes.get(spec.line_attribute)
            if m.source == Source.TRANSPORT and line:
                lines.add(line)
        alerts.sort(key=lambda e: e.event_id)
        permits.sort(key=lambda e: e.event_id)
        matched = (*alerts, *permits, *([obs_event] if obs_event is not None else []))
        context = IncidentContext(
            weather_alerts=tuple(e.event_id for e in alerts),
            weather_observation=obs_event.event_id if obs_event is not None else None,
            permits=tuple(e.event_id for e in permits),
            affected_lines=tuple(sorted(lines)),
        )
        return JoinedContext(context=context, matched=matched)

    def _covers(
        self,
        areal: _Areal,
        members: Sequence[NormalizedEvent],
        points: Sequence[tuple[float, float]],
    ) -> bool:
        event = areal.event
        if event.area_wkt is None:
            if areal.is_alert:
                return True  # an alert without an area covers the whole city
            return any(
                math.hypot(event.x - m.x, event.y - m.y) <= m.uncertainty_m + 50 for m in members
            )
        b = areal.bounds
        assert b is not None
        return any(
            b[0] <= lon <= b[2]
            and b[1] <= lat <= b[3]
            and self._areas.covers(event.area_wkt, lon, lat)
            for lon, lat in points
        )
