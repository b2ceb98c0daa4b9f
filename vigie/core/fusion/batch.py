"""Offline fusion: the streaming engine fed a finished set of events in event-time order.

Used by ``vigie evaluate`` and by the property tests as the reference: incidents are a
function of the set of events, so feeding them sorted gives the same incidents the
streaming job converges to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from vigie.core.events import Incident, NormalizedEvent, Status
from vigie.core.fusion.engine import FusionEngine
from vigie.core.fusion.linking import event_key
from vigie.core.rules import Rules


def run_stream(
    engine: FusionEngine,
    arrivals: Iterable[tuple[NormalizedEvent, int]],
    *,
    watermark_every_ms: int = 60_000,
) -> list[Incident]:
    """Feed ``(event, watermark)`` arrivals, then flush; return every version emitted."""
    out: list[Incident] = []
    last_tick = -(2**62)
    for event, watermark in arrivals:
        out.extend(engine.on_event(event, watermark))
        if watermark - last_tick >= watermark_every_ms:
            out.extend(engine.on_watermark(watermark))
            last_tick = watermark
    out.extend(engine.flush())
    return out


def latest_versions(versions: Iterable[Incident]) -> list[Incident]:
    """The last version of each incident id, in id order."""
    latest: dict[str, Incident] = {}
    for incident in versions:
        seen = latest.get(incident.incident_id)
        if seen is None or incident.version > seen.version:
            latest[incident.incident_id] = incident
    return [latest[k] for k in sorted(latest)]


def fuse(
    events: Iterable[NormalizedEvent],
    rules: Rules,
    *,
    owns: Callable[[NormalizedEvent], bool] | None = None,
    include_merged: bool = False,
) -> list[Incident]:
    """Final incidents of a finished set of events (merged ones left out by default)."""
    ordered = sorted(events, key=event_key)
    engine = FusionEngine(rules, owns=owns)
    lateness = rules.allowed_lateness_ms
    arrivals = [(e, e.event_time - lateness) for e in ordered]
    final = latest_versions(run_stream(engine, arrivals))
    if include_merged:
        return final
    return [i for i in final if i.status != Status.MERGED]
