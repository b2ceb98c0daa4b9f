"""The main job end to end on the real stack: simulator → connectors → Kafka → normalise +
fuse on the MiniCluster → incidents topic + ClickHouse, scored against the ground truth."""

from __future__ import annotations

import json

import pytest

from vigie.config import Settings
from vigie.live import LiveRun
from vigie.store.incident_store import IncidentStore

pytestmark = pytest.mark.integration


def test_live_pipeline_meets_the_quality_targets_and_lands_in_clickhouse(stack: Settings) -> None:
    run = LiveRun(stack, seed=11, duration="3h", say=lambda line: None)
    result = run.watch(timeout_s=1200)

    scores = result.scores
    assert scores.f1 >= 0.95, scores
    assert scores.category_accuracy >= 0.90, scores

    # Every malformed record the simulator planted ended in a dead-letter topic.
    manifest = json.loads((result.out / "manifest.json").read_text())
    assert sum(result.last.dlq.values()) >= manifest["rejected"] > 0

    # ClickHouse holds the latest version of every incident the topic carried.
    store = IncidentStore.from_settings(stack, "admin")
    try:
        stored = store.latest_versions()
    finally:
        store.close()
    for incident in result.incidents:
        assert stored.get(incident.incident_id) == incident.version, incident.incident_id
