"""Pairwise linking: may two evidence events describe the same situation?

A link needs a rule naming both kinds, a time gap within the rule's bound and a distance
within the rule's bound widened by both events' position uncertainty (a phone call placed
"somewhere on the boulevard" may be 150 m off). The test is symmetric by construction: the
evidence always names the earlier event first (event time, then id).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from vigie.core.events import LinkEvidence, NormalizedEvent
from vigie.core.rules import Rules


def event_key(event: NormalizedEvent) -> tuple[int, str]:
    """Total order of events used everywhere fusion must be deterministic."""
    return (event.event_time, event.event_id)


def uncertainty(event: NormalizedEvent, rules: Rules) -> float:
    """The event's own uncertainty, never below its kind's (an acoustic sensor hears far
    beyond the video range a camera record carries) nor above the rules' cap (which bounds
    a link's reach, and so the halo cells replicate events over)."""
    return min(max(event.uncertainty_m, rules.uncertainty_of(event.kind)), rules.max_uncertainty_m)


def link(a: NormalizedEvent, b: NormalizedEvent, rules: Rules) -> LinkEvidence | None:
    """The evidence linking two events, or None when no rule links them."""
    if a.event_id == b.event_id:
        return None
    first, second = (a, b) if event_key(a) <= event_key(b) else (b, a)
    candidates = rules.pair_rules(first.kind, second.kind)
    if not candidates:
        return None
    gap = second.event_time - first.event_time
    distance = math.hypot(first.x - second.x, first.y - second.y)
    slack = uncertainty(first, rules) + uncertainty(second, rules)
    for rule in candidates:
        if gap <= rule.max_gap_ms and distance <= rule.max_distance_m + slack:
            return LinkEvidence(
                event_a=first.event_id,
                event_b=second.event_id,
                rule=rule.name,
                distance_m=round(distance, 1),
                time_gap_ms=gap,
            )
    return None


def link_events(events: Sequence[NormalizedEvent], rules: Rules) -> list[LinkEvidence]:
    """Every link among a set of events (sweep over event time, so not all n^2 pairs)."""
    ordered = sorted(events, key=event_key)
    found: list[LinkEvidence] = []
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if b.event_time - a.event_time > rules.max_gap_ms:
                break
            evidence = link(a, b, rules)
            if evidence is not None:
                found.append(evidence)
    return found
