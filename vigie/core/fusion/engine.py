"""The streaming fusion state machine, in event time, with no framework attached.

Definition (what the incidents *are*): take the evidence events in the total order
(event time, event id) and let each one, in turn, join the incidents it links to: every
incident holding an event it links to is a candidate; a candidate is feasible when adding
the event keeps it inside the anti-chaining bounds (extent and span); with no feasible
candidate the event opens a new incident; when all feasible candidates together with the
event still fit, they merge; otherwise the event joins the feasible candidate it is closest
to. The result depends only on the *set* of events, never on their arrival order.

How the engine computes it while events arrive out of order: every applied event keeps an
undo record (its incident's size and bounds before it, and any incidents it absorbed). An
event that arrives after later ones rolls the state back to just before its place in the
order by undoing those later events, newest first, and decides again for itself and for
every later event; the cost follows the events after it, not all events held. State
is evicted once no event within the allowed lateness can link to it, so it grows with the
open incidents, not with the events seen. Events later than that are still linked against
whatever state remains and never dropped.

Each change of an incident is a new version of the same id; the id derives from the
incident's first event, so a replay gives the same ids. When a late event becomes the
first event of an incident, or when an event joins two incidents, the incident whose id no
longer names a group is published once more as ``merged`` into the one that absorbed it.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace

from vigie.core.events import Incident, LinkEvidence, NormalizedEvent, Role, Status
from vigie.core.fusion.assess import assess
from vigie.core.fusion.context import ContextClass, ContextStore, classify
from vigie.core.fusion.linking import event_key, link
from vigie.core.rules import Rules

Key = tuple[int, str]
#: Ids sort after this one within a millisecond: a bisect sentinel.
_MAX_ID = "\U0010ffff"


def _owns_everything(_anchor: NormalizedEvent) -> bool:
    return True


def incident_id_for(event_id: str) -> str:
    """Deterministic incident id derived from its first event's id."""
    return "inc-" + hashlib.blake2b(event_id.encode(), digest_size=8).hexdigest()


@dataclass
class _Cluster:
    """Mutable working state of one incident (internal to the engine)."""

    anchor: NormalizedEvent
    members: list[NormalizedEvent]
    links: list[LinkEvidence] = field(default_factory=list)
    minx: float = math.inf
    maxx: float = -math.inf
    miny: float = math.inf
    maxy: float = -math.inf
    tmin: int = 2**62
    tmax: int = -(2**62)

    def add(self, event: NormalizedEvent) -> None:
        self.members.append(event)
        self.minx, self.maxx = min(self.minx, event.x), max(self.maxx, event.x)
        self.miny, self.maxy = min(self.miny, event.y), max(self.maxy, event.y)
        self.tmin, self.tmax = min(self.tmin, event.event_time), max(self.tmax, event.event_time)


@dataclass(frozen=True, slots=True)
class _Decision:
    """What an event did when its turn came: the members it joined through, its links."""

    reps: tuple[str, ...]
    links: tuple[LinkEvidence, ...]


@dataclass(frozen=True, slots=True)
class _Undo:
    """How to take one applied event back out: its cluster as it was before, and what it
    absorbed (the absorbed clusters are left intact when merged, so they can be put back).
    """

    target: str
    created: bool
    absorbed: tuple[_Cluster, ...]
    members: int
    links: int
    bounds: tuple[float, float, float, float, int, int]


def _fits(clusters: Iterable[_Cluster], event: NormalizedEvent, rules: Rules) -> bool:
    minx, maxx, miny, maxy = event.x, event.x, event.y, event.y
    tmin = tmax = event.event_time
    for c in clusters:
        minx, maxx = min(minx, c.minx), max(maxx, c.maxx)
        miny, maxy = min(miny, c.miny), max(maxy, c.maxy)
        tmin, tmax = min(tmin, c.tmin), max(tmax, c.tmax)
    return (
        math.hypot(maxx - minx, maxy - miny) <= rules.max_extent_m
        and tmax - tmin <= rules.max_span_ms
    )


class FusionEngine:
    """Links evidence into incidents and follows their lifecycle, one key's worth of state.

    In Flink, one engine per key (spatial cell) lives in keyed state; ``owns`` tells it which
    incidents this key publishes (see :class:`vigie.core.fusion.keying.CellGrid`). Offline
    and in tests, one engine owning everything does the whole city.
    """

    def __init__(
        self,
        rules: Rules,
        *,
        owns: Callable[[NormalizedEvent], bool] | None = None,
        ahead_ms: int | None = None,
    ) -> None:
        self.rules = rules
        self._owns = owns or _owns_everything
        # Never below the longest link gap: a waiting event then cannot link to an incident
        # that closes or is evicted meanwhile, so waiting never changes what incidents are.
        self._ahead_ms = None if ahead_ms is None else max(ahead_ms, rules.max_span_ms)
        #: Events too far ahead of the watermark, by id, and their keys as a min-heap.
        self._waiting: dict[str, NormalizedEvent] = {}
        self._waiting_keys: list[Key] = []
        self._watermark = -(2**62)
        self._now = 0
        self._events: dict[str, NormalizedEvent] = {}
        self._order: list[Key] = []
        self._undo: dict[str, _Undo] = {}  # event id -> how to take it back out
        self._cluster_of: dict[str, str] = {}  # event id -> anchor event id
        self._clusters: dict[str, _Cluster] = {}  # anchor event id -> cluster
        self._context = ContextStore(rules)
        self._published: dict[str, Incident] = {}
        self._id_anchor: dict[str, str] = {}  # incident id -> its anchor event id
        #: Ids of events and incidents evicted since the last take_forgotten().
        self._forgotten_events: list[str] = []
        self._forgotten_incidents: list[str] = []

    # ------------------------------------------------------------------ keyed state

    def held_event_ids(self) -> set[str]:
        """Every event (evidence and context) the engine still holds.

        With :meth:`published` this is all a checkpoint needs: the engine is a function of
        the events it holds, so :meth:`restore` rebuilds the rest.
        """
        return set(self._events) | self._context.held_ids() | set(self._waiting)

    def holds_nothing(self) -> bool:
        """True when every event has been evicted: the key's state can be dropped."""
        return not self._events and not self._waiting and len(self._context) == 0

    def take_forgotten(self) -> tuple[list[str], list[str]]:
        """Event ids and incident ids evicted since the last call.

        Keyed state deletes exactly these after a watermark, so a sweep costs what it
        removes, not what the engine holds.
        """
        events, incidents = self._forgotten_events, self._forgotten_incidents
        self._forgotten_events, self._forgotten_incidents = [], []
        return events, incidents

    def published(self) -> dict[str, Incident]:
        """The last published version of every incident still held."""
        return dict(self._published)

    @property
    def clock(self) -> tuple[int, int]:
        """(watermark, now) as the engine last saw them."""
        return self._watermark, self._now

    @classmethod
    def restore(
        cls,
        rules: Rules,
        events: Iterable[NormalizedEvent],
        published: dict[str, Incident],
        clock: tuple[int, int],
        *,
        owns: Callable[[NormalizedEvent], bool] | None = None,
        ahead_ms: int | None = None,
    ) -> FusionEngine:
        """Rebuild an engine from the events it held and the versions it had published.

        The events are replayed as if none were late (incidents do not depend on arrival
        order), then the published versions and the clock are put back, so the next
        change continues the same version sequence. Events that were waiting go back to
        waiting: the watermark of the clock decides again.
        """
        engine = cls(rules, owns=owns, ahead_ms=ahead_ms)
        watermark = clock[0]
        for event in sorted(events, key=event_key):
            engine._now = max(engine._now, event.ingest_time)
            if engine._too_far_ahead(event.event_time, watermark):
                engine._wait(event)
            else:
                engine._take(event)
        engine._published = dict(published)
        engine._watermark, engine._now = clock
        return engine

    # ------------------------------------------------------------------ public API

    @property
    def watermark(self) -> int:
        """Highest watermark seen (event time, ms)."""
        return self._watermark

    def state_size(self) -> dict[str, int]:
        """How much the engine holds, for metrics and the eviction tests."""
        return {
            "evidence_events": len(self._events),
            "context_events": len(self._context),
            "incidents": len(self._clusters),
            "published": len(self._published),
            "waiting": len(self._waiting),
        }

    def current(self) -> list[Incident]:
        """Latest published version of every incident still in the state."""
        return sorted(self._published.values(), key=lambda i: i.incident_id)

    def on_event(
        self, event: NormalizedEvent, watermark: int, now: int | None = None
    ) -> list[Incident]:
        """Take one event; return the new incident versions it causes (may be empty)."""
        self._watermark = max(self._watermark, watermark)
        self._now = max(self._now, event.ingest_time if now is None else now)
        out = self._release()
        if self._too_far_ahead(event.event_time, self._watermark):
            self._wait(event)
            return out
        return out + self._take(event)

    def _too_far_ahead(self, event_time: int, watermark: int) -> bool:
        """Whether an event waits: further ahead of a known watermark than ``ahead_ms``."""
        return (
            self._ahead_ms is not None
            and watermark > -(2**62)
            and event_time > watermark + self._ahead_ms
        )

    def _wait(self, event: NormalizedEvent) -> None:
        if event.event_id in self._waiting:
            return  # a duplicate delivery
        self._waiting[event.event_id] = event
        heapq.heappush(self._waiting_keys, event_key(event))

    def _release(self) -> list[Incident]:
        """Take in, oldest first, the waiting events the watermark has come close enough to.

        Every event taken in so far lies at or before ``watermark + ahead_ms``, and these lie
        after it, so none of them rolls anything back.
        """
        out: list[Incident] = []
        keys = self._waiting_keys
        while keys and not self._too_far_ahead(keys[0][0], self._watermark):
            out.extend(self._take(self._waiting.pop(heapq.heappop(keys)[1])))
        return out

    def _take(self, event: NormalizedEvent) -> list[Incident]:
        role = self.rules.role_of(event.kind) or event.role
        if role == Role.CONTEXT:
            if not self._context.add(event):
                return []
            return self._emit(self._touched_by_context(event), structure_changed=False)
        if event.event_id in self._events:
            return []  # a duplicate delivery: incidents are a function of the set
        key = event_key(event)
        self._events[event.event_id] = event
        pos = bisect.bisect_left(self._order, key)
        self._order.insert(pos, key)
        if pos == len(self._order) - 1:
            anchor, merged = self._decide_and_apply(event)
            return self._emit({anchor}, structure_changed=merged)
        # Take the later events back out, newest first, then decide again from the late one
        # on. Only the incidents this touched can say something new.
        touched: set[str] = set()
        for k in reversed(self._order[pos + 1 :]):
            touched.update(self._unapply(k[1]))
        for k in self._order[pos:]:
            touched.add(self._decide_and_apply(self._events[k[1]])[0])
        return self._emit(touched, structure_changed=True)

    def on_watermark(self, watermark: int, now: int | None = None) -> list[Incident]:
        """Advance event time: close idle incidents, then evict state nothing can reach."""
        self._watermark = max(self._watermark, watermark)
        self._now = max(self._now, watermark if now is None else now)
        out = self._release()
        timeout = self.rules.inactivity_timeout_ms
        idle = [a for a, c in self._clusters.items() if c.tmax + timeout < self._watermark]
        for anchor_id in sorted(idle):
            last = self._published.get(incident_id_for(anchor_id))
            if last is None or last.status in (Status.CLOSED, Status.MERGED):
                continue
            out.append(self._publish(replace(last, status=Status.CLOSED)))
        self._evict()
        return out

    def flush(self, now: int | None = None) -> list[Incident]:
        """End of input (offline runs, tests): close everything still open."""
        return self.on_watermark(2**62, now=self._now if now is None else now)

    # ------------------------------------------------------------------ clustering

    def _candidates(self, event: NormalizedEvent) -> dict[str, list[LinkEvidence]]:
        """Links from ``event`` to already-clustered events, grouped by cluster anchor."""
        lo = bisect.bisect_left(self._order, (event.event_time - self.rules.max_gap_ms, ""))
        hi = bisect.bisect_right(self._order, (event.event_time + self.rules.max_gap_ms, _MAX_ID))
        found: dict[str, list[LinkEvidence]] = {}
        for _, other_id in self._order[lo:hi]:
            anchor = self._cluster_of.get(other_id)
            if anchor is None or other_id == event.event_id:
                continue
            evidence = link(event, self._events[other_id], self.rules)
            if evidence is not None:
                found.setdefault(anchor, []).append(evidence)
        return found

    def _decide_and_apply(self, event: NormalizedEvent) -> tuple[str, bool]:
        found = self._candidates(event)
        feasible = sorted(
            (a for a in found if _fits([self._clusters[a]], event, self.rules)),
            key=lambda a: event_key(self._clusters[a].anchor),
        )
        if not feasible:
            chosen: list[str] = []
        elif _fits([self._clusters[a] for a in feasible], event, self.rules):
            chosen = feasible
        else:
            chosen = [
                min(
                    feasible,
                    key=lambda a: (
                        min(ev.distance_m for ev in found[a]),
                        event_key(self._clusters[a].anchor),
                    ),
                )
            ]
        reps = tuple(
            found[a][0].event_a if found[a][0].event_a != event.event_id else found[a][0].event_b
            for a in chosen
        )
        links = tuple(ev for a in chosen for ev in found[a])
        return self._apply(event, _Decision(reps=reps, links=links)), len(chosen) > 1

    def _apply(self, event: NormalizedEvent, decision: _Decision) -> str:
        anchors = sorted(
            {self._cluster_of[r] for r in decision.reps},
            key=lambda a: event_key(self._clusters[a].anchor),
        )
        absorbed: list[_Cluster] = []
        if not anchors:
            cluster = _Cluster(anchor=event, members=[])
            self._clusters[event.event_id] = cluster
            target = event.event_id
        else:
            target = anchors[0]
            cluster = self._clusters[target]
        self._undo[event.event_id] = _Undo(
            target=target,
            created=not anchors,
            absorbed=tuple(self._clusters[a] for a in anchors[1:]),
            members=len(cluster.members),
            links=len(cluster.links),
            bounds=(
                cluster.minx,
                cluster.maxx,
                cluster.miny,
                cluster.maxy,
                cluster.tmin,
                cluster.tmax,
            ),
        )
        for other in anchors[1:]:
            absorbed.append(self._clusters.pop(other))
            for m in absorbed[-1].members:
                cluster.add(m)
                self._cluster_of[m.event_id] = target
            cluster.links.extend(absorbed[-1].links)
        cluster.add(event)
        cluster.links.extend(decision.links)
        self._cluster_of[event.event_id] = target
        return target

    def _unapply(self, event_id: str) -> list[str]:
        """Take the newest applied event back out; returns the anchors it touched.

        Undoing newest first restores every cluster exactly as it was, so rolling back to a
        late event's place costs the events after it, not every event held.
        """
        undo = self._undo.pop(event_id)
        del self._cluster_of[event_id]
        if undo.created:
            del self._clusters[undo.target]
            return [undo.target]
        cluster = self._clusters[undo.target]
        del cluster.members[undo.members :]
        del cluster.links[undo.links :]
        cluster.minx, cluster.maxx, cluster.miny, cluster.maxy, cluster.tmin, cluster.tmax = (
            undo.bounds
        )
        for other in undo.absorbed:
            anchor = other.anchor.event_id
            self._clusters[anchor] = other
            for m in other.members:
                self._cluster_of[m.event_id] = anchor
        return [undo.target, *(c.anchor.event_id for c in undo.absorbed)]

    # ------------------------------------------------------------------ publishing

    def _touched_by_context(self, event: NormalizedEvent) -> set[str]:
        spec = self.rules.spec.context
        cls = classify(event)
        start = event.valid_from if event.valid_from is not None else event.event_time
        end = self._context.relevance_end(event)
        if cls == ContextClass.OBSERVATION:
            start -= round(spec.weather_observation_window_s * 1000)
        if cls == ContextClass.VEHICLE:
            start -= round(spec.transport_window_s * 1000)
        touched = set()
        line = event.attributes.get(spec.line_attribute) or event.attributes.get("route_id")
        window = round(spec.transport_window_s * 1000)
        for anchor, c in self._clusters.items():
            if c.tmax < start or c.tmin > end:
                continue
            if cls == ContextClass.VEHICLE:
                # a vehicle only matters if it brings a line the incident does not have yet
                reach = spec.transport_radius_m
                if not line or not (
                    c.minx - reach <= event.x <= c.maxx + reach
                    and c.miny - reach <= event.y <= c.maxy + reach
                ):
                    continue
                last = self._published.get(incident_id_for(anchor))
                if last is not None and line in last.context.affected_lines:
                    continue
                if not any(
                    abs(event.event_time - m.event_time) <= window
                    and math.hypot(event.x - m.x, event.y - m.y) <= reach
                    for m in c.members
                ):
                    continue
            touched.add(anchor)
        return touched

    def _build(self, cluster: _Cluster) -> Incident:
        members = sorted(cluster.members, key=event_key)
        joined = self._context.join(members)
        assessment = assess(members, joined.matched, self.rules)
        sectors = Counter(m.sector for m in members if m.sector is not None)
        sector = min(sectors, key=lambda s: (-sectors[s], s)) if sectors else None
        n = len(members)
        return Incident(
            incident_id=incident_id_for(cluster.anchor.event_id),
            version=0,
            status=Status.OPEN,
            category=assessment.category,
            severity=assessment.severity,
            confidence=assessment.confidence,
            first_event_time=cluster.tmin,
            last_event_time=cluster.tmax,
            created_at=0,
            updated_at=0,
            lon=round(sum(m.lon for m in members) / n, 6),
            lat=round(sum(m.lat for m in members) / n, 6),
            sector=sector,
            sources=tuple(sorted({m.source for m in members})),
            kinds=tuple(sorted({m.kind for m in members})),
            event_ids=tuple(m.event_id for m in members),
            links=tuple(sorted(cluster.links, key=lambda ev: (ev.event_a, ev.event_b, ev.rule))),
            context=joined.context,
            explanation=assessment.explanation,
        )

    def _publish(self, incident: Incident) -> Incident:
        last = self._published.get(incident.incident_id)
        version = 1 if last is None else last.version + 1
        created = self._now if last is None else last.created_at
        out = replace(incident, version=version, created_at=created, updated_at=self._now)
        self._published[incident.incident_id] = out
        return out

    def _emit(self, dirty: set[str], *, structure_changed: bool) -> list[Incident]:
        out: list[Incident] = []
        timeout = self.rules.inactivity_timeout_ms
        for anchor_id in sorted(dirty):
            cluster = self._clusters.get(anchor_id)
            if cluster is None or not self._owns(cluster.anchor):
                continue
            fresh = self._build(cluster)
            iid = fresh.incident_id
            self._id_anchor[iid] = anchor_id
            last = self._published.get(iid)
            if cluster.tmax + timeout < self._watermark:
                status = Status.CLOSED
            else:
                status = Status.OPEN if last is None else Status.UPDATED
            if last is not None and _same_content(last, fresh) and last.status == status:
                continue
            if (
                last is not None
                and _same_content(last, fresh)
                and last.status in (Status.OPEN, Status.UPDATED)
                and status in (Status.OPEN, Status.UPDATED)
            ):
                continue
            out.append(self._publish(replace(fresh, status=status)))
        if structure_changed:
            for iid, anchor_id in sorted(self._id_anchor.items()):
                last = self._published.get(iid)
                if last is None or last.status == Status.MERGED or anchor_id in self._clusters:
                    continue
                survivor = incident_id_for(self._cluster_of[anchor_id])
                out.append(self._publish(replace(last, status=Status.MERGED, merged_into=survivor)))
        return out

    # ------------------------------------------------------------------ eviction

    def _evict(self) -> None:
        rules = self.rules
        horizon = self._watermark - rules.allowed_lateness_ms - rules.max_gap_ms
        dead = [
            a
            for a, c in self._clusters.items()
            if c.tmax < horizon and c.tmax + rules.inactivity_timeout_ms < self._watermark
        ]
        for anchor_id in dead:
            cluster = self._clusters.pop(anchor_id)
            for m in cluster.members:
                self._events.pop(m.event_id, None)
                self._undo.pop(m.event_id, None)
                self._cluster_of.pop(m.event_id, None)
                self._forgotten_events.append(m.event_id)
                iid = incident_id_for(m.event_id)
                self._id_anchor.pop(iid, None)
                if self._published.pop(iid, None) is not None:
                    self._forgotten_incidents.append(iid)
        if dead:
            self._order = [k for k in self._order if k[1] in self._events]
        self._forgotten_events.extend(self._context.evict_before(horizon - rules.max_span_ms))


def content_of(incident: Incident) -> Incident:
    """The incident with its bookkeeping (version, status, times) blanked: what it says."""
    return replace(
        incident,
        version=0,
        status=Status.OPEN,
        created_at=0,
        updated_at=0,
        merged_into=None,
    )


#: The fields that say what an incident is, as opposed to its bookkeeping (see content_of).
_BOOKKEEPING = frozenset({"version", "status", "created_at", "updated_at", "merged_into"})
_CONTENT_FIELDS = tuple(f.name for f in fields(Incident) if f.name not in _BOOKKEEPING)


def _same_content(a: Incident, b: Incident) -> bool:
    """``content_of(a) == content_of(b)`` without building two copies (a hot path)."""
    return all(getattr(a, name) == getattr(b, name) for name in _CONTENT_FIELDS)
