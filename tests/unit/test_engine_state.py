"""A fusion engine restored from what Flink keeps (held events, published versions, clock)
carries on exactly as the engine that never stopped."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.base import to_avro
from connectors.feeds import RAW_SCHEMAS
from vigie.config import REPO_ROOT
from vigie.core.events import Incident, NormalizedEvent
from vigie.core.fusion.engine import FusionEngine
from vigie.core.geo import CityGeometry
from vigie.core.normalize import Normalizer, Rejection
from vigie.core.rules import Rules, rules_for_city
from vigie.sim.city import load_city
from vigie.sim.connect import parse_output
from vigie.sim.files import write_scenario
from vigie.sim.scenario import ScenarioConfig, generate

pytestmark = pytest.mark.unit
CITY = REPO_ROOT / "cities" / "marseille"


@pytest.fixture(scope="module")
def rules() -> Rules:
    return rules_for_city(CITY)


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory, rules: Rules) -> list[NormalizedEvent]:
    out: Path = tmp_path_factory.mktemp("sim")
    city = load_city(CITY)
    cfg = ScenarioConfig(seed=5, duration_s=3600, incidents=30, background_per_hour=30)
    write_scenario(generate(city, cfg), out, city.timezone)
    normalizer = Normalizer(CityGeometry.load(CITY), rules)
    found = []
    for parsed in parse_output(out, CITY, b"k", ingest_time=2_000_000_000_000):
        if not parsed.rejected:
            event = normalizer.normalize(RAW_SCHEMAS[parsed.feed], to_avro(parsed.result))
            assert not isinstance(event, Rejection)
            found.append(event)
    return sorted(found, key=lambda e: (e.ingest_time, e.event_time, e.event_id))


@pytest.mark.parametrize("cut", [0.25, 0.5, 0.8])
def test_restored_engine_continues_like_the_original(
    rules: Rules, events: list[NormalizedEvent], cut: float
) -> None:
    original = FusionEngine(rules)
    split = int(len(events) * cut)

    def feed(engine: FusionEngine, batch: list[NormalizedEvent]) -> list[Incident]:
        out: list[Incident] = []
        for i, event in enumerate(batch):
            watermark = event.event_time - 120_000
            out += engine.on_event(event, watermark)
            if i % 40 == 0:
                out += engine.on_watermark(watermark)
        return out

    feed(original, events[:split])
    held = original.held_event_ids()
    by_id = {e.event_id: e for e in events[:split]}
    restored = FusionEngine.restore(
        rules, [by_id[i] for i in held], original.published(), original.clock
    )
    assert restored.held_event_ids() == held
    after_original = feed(original, events[split:]) + original.flush()
    after_restored = feed(restored, events[split:]) + restored.flush()
    assert after_restored == after_original
    assert after_original, "the scenario must produce incident versions after the cut"


def test_events_waiting_at_a_checkpoint_wait_again_after_a_restore(
    rules: Rules, events: list[NormalizedEvent]
) -> None:
    """Reading a backlog: the watermark lags far behind what is read; a restore keeps the
    events that were waiting out of the engine until the watermark comes close."""
    ahead = 3_600_000
    lagging = events[0].event_time - 3 * ahead
    original = FusionEngine(rules, ahead_ms=ahead)
    for event in events:
        original.on_event(event, lagging)
    assert original.state_size()["waiting"] > 0
    held = original.held_event_ids()
    restored = FusionEngine.restore(
        rules,
        [e for e in events if e.event_id in held],
        original.published(),
        original.clock,
        ahead_ms=ahead,
    )
    assert restored.state_size() == original.state_size()
    assert restored.flush() == original.flush()
