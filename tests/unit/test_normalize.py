"""Raw feed records become normalised events, with the rules file deciding each kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.base import to_avro
from connectors.feeds import RAW_SCHEMAS
from vigie.config import REPO_ROOT
from vigie.core.events import Role, Source
from vigie.core.geo import CityGeometry
from vigie.core.normalize import (
    STAMPED_AT_PUBLICATION,
    Normalizer,
    Rejection,
    event_id_for,
    event_time_of,
)
from vigie.core.rules import rules_for_city
from vigie.sim.city import load_city
from vigie.sim.connect import parse_output
from vigie.sim.files import write_scenario
from vigie.sim.scenario import ScenarioConfig, generate

pytestmark = pytest.mark.unit

CITY = REPO_ROOT / "cities" / "marseille"
KEY = b"test-key"


@pytest.fixture(scope="module")
def normalizer() -> Normalizer:
    return Normalizer(CityGeometry.load(CITY), rules_for_city(CITY))


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    city = load_city(CITY)
    cfg = ScenarioConfig(seed=3, duration_s=2 * 3600, incidents=60, background_per_hour=40)
    write_scenario(generate(city, cfg), out, city.timezone)
    return out


def test_every_accepted_simulated_record_normalises(
    normalizer: Normalizer, simulated: Path
) -> None:
    refs: set[tuple[str, str]] = set()
    in_sector = 0
    for parsed in parse_output(simulated, CITY, KEY, ingest_time=2_000_000_000_000):
        if parsed.rejected:
            continue
        record = to_avro(parsed.result)
        event = normalizer.normalize(RAW_SCHEMAS[parsed.feed], record)
        assert not isinstance(event, Rejection), (parsed.feed, event)
        assert event.event_id == event_id_for(event.source, parsed.result.record_id)
        in_sector += event.sector is not None
        refs.add((event.source.value, event.source_ref))
    truth = [
        json.loads(line) for line in (simulated / "ground_truth.jsonl").read_text().splitlines()
    ]
    expected = {(s, r) for inc in truth for s, r in inc["source_refs"]}
    assert expected <= refs
    # Points on the coast or in the harbour may fall outside every sector polygon.
    assert in_sector >= 0.9 * len(refs)


def _police(**overrides: object) -> dict[str, object]:
    record: dict[str, object] = {
        "record_id": "P1",
        "source_uri": "calls.csv",
        "source_index": 1,
        "ingest_time": 1_800_000_000_000,
        "call_type": "SHOTS",
        "call_type_description": None,
        "priority": 1,
        "received_at": 1_799_999_990_000,
        "dispatched_at": None,
        "lon": 5.3698,
        "lat": 43.2965,
        "address": None,
        "caller_name_pseudonym": None,
        "caller_phone_pseudonym": None,
        "disposition": "OPEN",
    }
    record.update(overrides)
    return record


def test_police_call_maps_through_the_rules(normalizer: Normalizer) -> None:
    event = normalizer.normalize(RAW_SCHEMAS["police"], _police())
    assert not isinstance(event, Rejection)
    assert (event.source, event.kind, event.role) == (Source.POLICE, "shots_fired", Role.EVIDENCE)
    assert event.event_time == 1_799_999_990_000
    assert event.ingest_time == 1_800_000_000_000
    # Lambert-93 metres of central Marseille.
    assert 890_000 < event.x < 900_000 and 6_240_000 < event.y < 6_250_000


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"lon": 2.35, "lat": 48.85}, "outside_city"),
        ({"received_at": 1_800_000_000_000 + 3_600_000}, "impossible_timestamp"),
        ({"call_type": "UNHEARD_OF"}, "unknown_code"),
        ({"received_at": "not a time"}, "invalid_record"),
    ],
)
def test_unusable_records_are_rejected_with_a_reason(
    normalizer: Normalizer, overrides: dict[str, object], reason: str
) -> None:
    result = normalizer.normalize(RAW_SCHEMAS["police"], _police(**overrides))
    assert isinstance(result, Rejection)
    assert result.reason == reason


def test_unknown_schema_is_rejected(normalizer: Normalizer) -> None:
    result = normalizer.normalize("org.example.Other", {})
    assert isinstance(result, Rejection) and result.reason == "unknown_schema"


def test_event_ids_are_stable_and_distinct_per_source() -> None:
    assert event_id_for(Source.POLICE, "X1") == event_id_for(Source.POLICE, "X1")
    assert event_id_for(Source.POLICE, "X1") != event_id_for(Source.FIRE, "X1")


def test_kafka_timestamp_is_the_event_time_except_for_permits_publication(
    simulated: Path, normalizer: Normalizer
) -> None:
    """A permit's issue date may lie weeks back: as a watermark it would stall event time."""
    ingest = 2_000_000_000_000
    seen: set[str] = set()
    for parsed in parse_output(simulated, CITY, KEY, ingest_time=ingest):
        if parsed.rejected:
            continue
        schema, record = RAW_SCHEMAS[parsed.feed], to_avro(parsed.result)
        event = normalizer.normalize(schema, record)
        assert not isinstance(event, Rejection)
        stamp = event_time_of(schema, record)
        if event.source in STAMPED_AT_PUBLICATION:
            assert stamp == ingest
        else:
            assert stamp == event.event_time
        seen.add(parsed.feed)
    assert "permits" in seen and len(seen) == len(RAW_SCHEMAS)
