"""Category, severity, confidence and explanation of an incident, from the rules.

Category: the first rule (priority order) whose conditions hold over the incident's kinds
and sources. Confidence: a noisy-or over independent agencies (each agency counts once,
with its most reliable report), plus a little per extra report, so three agencies agreeing
beat ten calls to the same one. Explanations: context that covers the incident may lower or
raise its severity and says why, in words an operator reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vigie.core.events import NormalizedEvent, Source
from vigie.core.rules import Rules


@dataclass(frozen=True, slots=True)
class Assessment:
    """What the rules say about a group of evidence events in their context."""

    category: str
    severity: int
    confidence: float
    explanation: str | None


def categorise(kinds: set[str], sources: set[Source], rules: Rules) -> tuple[str, int]:
    """The category and base severity of the first matching category rule."""
    for cat in rules.spec.categories:
        if cat.any_kinds and not kinds.intersection(cat.any_kinds):
            continue
        if not kinds.issuperset(cat.all_kinds):
            continue
        if len(sources) < cat.min_sources:
            continue
        return cat.name, cat.severity
    return rules.spec.default_category, rules.spec.default_severity


def confidence(members: Sequence[NormalizedEvent], rules: Rules) -> float:
    """Noisy-or over agencies plus a small bonus per extra report, capped below 1."""
    best: dict[Source, float] = {}
    for m in members:
        best[m.source] = max(best.get(m.source, 0.0), rules.reliability_of(m.kind))
    doubt = 1.0
    for value in best.values():
        doubt *= 1.0 - value
    extra = (len(members) - len(best)) * rules.spec.confidence.per_extra_report
    return round(min(0.99, 1.0 - doubt + extra), 3)


def assess(
    members: Sequence[NormalizedEvent], matched_context: Sequence[NormalizedEvent], rules: Rules
) -> Assessment:
    """Assess an incident made of ``members`` with the context events that cover it."""
    kinds = {m.kind for m in members}
    sources = {m.source for m in members}
    category, severity = categorise(kinds, sources, rules)
    context_kinds = {c.kind for c in matched_context}
    texts: list[str] = []
    for exp in rules.spec.explanations:
        if not context_kinds.intersection(exp.context_kinds):
            continue
        by_category = bool(exp.categories) and category in exp.categories
        by_kinds = bool(exp.only_kinds) and kinds.issubset(exp.only_kinds)
        if not (by_category or by_kinds):
            continue
        severity += exp.severity_delta
        if exp.category is not None:
            category = exp.category
        texts.append(exp.text)
    severity = max(1, min(5, severity))
    return Assessment(
        category=category,
        severity=severity,
        confidence=confidence(members, rules),
        explanation="; ".join(texts) or None,
    )
