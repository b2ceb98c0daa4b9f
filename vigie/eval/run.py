"""Score fusion and the tuned ST-DBSCAN baseline on the same events and truth."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from vigie.core.events import NormalizedEvent, Role, Source
from vigie.core.fusion import fuse
from vigie.core.fusion.assess import categorise
from vigie.core.rules import Rules
from vigie.eval.metrics import Item, Scores, Truth, bcubed, score
from vigie.eval.stdbscan import StParams, grid_search


@dataclass(frozen=True, slots=True)
class Report:
    """Both methods' scores, and what it took."""

    fusion: Scores
    fusion_incidents: int
    fusion_seconds: float
    baseline: Scores | None
    baseline_params: StParams | None
    events: int
    evidence_events: int


def _item(event: NormalizedEvent) -> Item:
    return (event.source.value, event.source_ref)


def evaluate(
    events: Sequence[NormalizedEvent],
    truth: Truth,
    rules: Rules,
    *,
    baseline: bool = True,
    grid: Sequence[StParams] | None = None,
) -> Report:
    """Run fusion offline (event-time order) and the baseline grid search; score both."""
    started = time.perf_counter()
    incidents = fuse(events, rules)
    elapsed = time.perf_counter() - started
    by_id = {e.event_id: e for e in events}
    predicted: dict[Item, str] = {}
    categories: dict[str, str] = {}
    for incident in incidents:
        categories[incident.incident_id] = incident.category
        for event_id in incident.event_ids:
            predicted[_item(by_id[event_id])] = incident.incident_id
    fusion_scores = score(truth, predicted, categories)

    evidence = [e for e in events if (rules.role_of(e.kind) or e.role) == Role.EVIDENCE]
    base_scores: Scores | None = None
    base_params: StParams | None = None
    if baseline:
        labels_truth = truth.labels()

        def as_items(labels: dict[str, int]) -> dict[Item, str]:
            return {_item(by_id[eid]): f"st{label}" for eid, label in labels.items()}

        def objective(labels: dict[str, int]) -> float:
            return bcubed(labels_truth, as_items(labels))[2]

        base_params, labels, _ = grid_search(evidence, objective, grid)
        members: dict[int, list[NormalizedEvent]] = defaultdict(list)
        for eid, label in labels.items():
            members[label].append(by_id[eid])
        base_categories: dict[str, str] = {}
        for label, group in members.items():
            kinds = {e.kind for e in group}
            sources: set[Source] = {e.source for e in group}
            base_categories[f"st{label}"] = categorise(kinds, sources, rules)[0]
        base_scores = score(truth, as_items(labels), base_categories)
    return Report(
        fusion=fusion_scores,
        fusion_incidents=len(incidents),
        fusion_seconds=elapsed,
        baseline=base_scores,
        baseline_params=base_params,
        events=len(events),
        evidence_events=len(evidence),
    )
