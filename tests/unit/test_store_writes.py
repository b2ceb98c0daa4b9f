"""IncidentStore on a current engine (chdb): idempotent writes, privacy split, round trip."""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_helpers import (  # noqa: F401  (fixtures)
    chdb_engine_fixture,
    databases_fixture,
    load,
    migrated_fixture,
    sample_fixture,
    store_fixture,
)

from vigie.core.events import Source
from vigie.store.engine import ChdbExecutor
from vigie.store.incident_store import IncidentStore, incident_data_class
from vigie.store.sample_data import SampleCity, build_sample
from vigie.store.schema import Databases

pytestmark = pytest.mark.unit


def _snapshot(store: IncidentStore) -> dict[str, object]:
    db = store.databases.main
    q = store.executor.query
    return {
        "events": store.count_events(),
        "incidents": store.count_incidents(),
        "versions": store.latest_versions(),
        "links": q(f"SELECT count() FROM {db}.incident_evidence").scalar(),
        "acks": q(f"SELECT count() FROM {db}.incident_acks FINAL").scalar(),
        "events_rollup": q(f"SELECT sum(events) FROM {db}.events_per_hour").scalar(),
        "incidents_rollup": q(f"SELECT sum(incidents) FROM {db}.incidents_per_hour").scalar(),
        "status": q(
            f"SELECT incident_id, last_action, acks FROM {db}.incident_status ORDER BY incident_id"
        ).rows,
    }


def test_a_replayed_batch_changes_nothing(store: IncidentStore, sample: SampleCity) -> None:
    load(store, sample)
    once = _snapshot(store)
    load(store, sample)
    load(store, sample)
    assert _snapshot(store) == once
    latest = sample.latest()
    assert once["events"] == len({e.event_id for e in sample.events})
    assert once["incidents"] == len(latest)
    assert once["versions"] == {i: inc.version for i, inc in latest.items()}
    assert once["acks"] == len(sample.acks)
    # Rollups count distinct ids: every event once, every incident once (as first reported).
    assert once["events_rollup"] == once["events"]
    assert once["incidents_rollup"] == len(latest)
    assert once["links"] == sum(len(i.links) for i in latest.values())


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000), repeats=st.integers(1, 3))
def test_any_order_and_duplication_of_versions_gives_the_latest(
    chdb_engine: ChdbExecutor, migrated: Databases, seed: int, repeats: int
) -> None:
    city = build_sample(1_800_000_000_000, hours=4, seed=seed % 50)
    store = IncidentStore(chdb_engine, migrated)
    for table in ("incidents", "incident_links"):
        chdb_engine.command(f"TRUNCATE TABLE {migrated.main}.{table}")
    versions = list(city.incidents) * repeats
    random.Random(seed).shuffle(versions)
    for start in range(0, len(versions), 7):  # many small batches, out of order
        store.insert_incidents(versions[start : start + 7])
    expected = {i: inc.version for i, inc in city.latest().items()}
    assert store.latest_versions() == expected
    assert store.count_incidents() == len(expected)


def test_personal_fields_are_stored_apart(store: IncidentStore, sample: SampleCity) -> None:
    load(store, sample)
    main, private = store.databases.main, store.databases.private
    q = store.executor.query
    leaked = q(
        f"SELECT count() FROM {main}.events"
        " WHERE arrayExists(k -> k LIKE '%%_pseudonym', attr_keys)"
    ).scalar()
    assert leaked == 0
    police = [e for e in sample.events if e.source == Source.POLICE]
    kept = q(
        f"SELECT count() FROM {private}.event_personal FINAL"
        " WHERE has(keys, 'caller_phone_pseudonym')"
    ).scalar()
    assert kept == len(police)
    assert q(f"SELECT count() FROM {main}.events WHERE has(attr_keys, 'call_id')").scalar() == len(
        police
    )
    people = q(f"SELECT count() FROM {private}.ack_people WHERE operator LIKE 'op-%%'").scalar()
    assert people == len(sample.acks)
    columns = {
        str(c)
        for (c,) in q("SELECT name FROM system.columns WHERE database = %(db)s", {"db": main}).rows
    }
    assert not columns & {"operator", "assignee", "note", "keys", "values"}


def test_configured_personal_keys_are_kept_apart_too(
    chdb_engine: ChdbExecutor, migrated: Databases, sample: SampleCity
) -> None:
    store = IncidentStore(chdb_engine, migrated, personal_keys={"camera_id"})
    cameras = [e for e in sample.events if e.source == Source.CAMERA][:20]
    store.insert_events(cameras)
    q = chdb_engine.query
    assert (
        q(f"SELECT count() FROM {migrated.main}.events WHERE has(attr_keys, 'camera_id')").scalar()
        == 0
    )
    assert q(f"SELECT count() FROM {migrated.private}.event_personal").scalar() == 20


def test_round_trip_of_an_incident(store: IncidentStore, sample: SampleCity) -> None:
    load(store, sample)
    for incident in list(sample.latest().values())[:25]:
        stored = store.get_incident(incident.incident_id)
        expected = dataclasses.replace(
            incident,
            links=tuple(
                sorted(
                    (
                        dataclasses.replace(
                            link,
                            event_a=min(link.event_a, link.event_b),
                            event_b=max(link.event_a, link.event_b),
                        )
                        for link in incident.links
                    ),
                    key=lambda link: (link.event_a, link.event_b),
                )
            ),
        )
        assert stored == expected
    assert store.get_incident("no-such-incident") is None


def test_incident_status_shows_the_latest_action(store: IncidentStore, sample: SampleCity) -> None:
    load(store, sample)
    by_incident: dict[str, list[tuple[int, str]]] = {}
    for ack in sample.acks:
        by_incident.setdefault(ack.incident_id, []).append((ack.at, str(ack.action)))
    incident_id, actions = next((i, a) for i, a in by_incident.items() if len(a) > 1)
    status = store.incident_status(incident_id)
    assert status is not None
    assert status["acks"] == len(actions)
    assert status["last_action"] == max(actions)[1]
    never = next(i for i in sample.latest() if i not in by_incident)
    assert store.incident_status(never)["acks"] == 0  # type: ignore[index]


def test_data_classes() -> None:
    assert incident_data_class(["camera"]) == "camera"
    assert incident_data_class(["camera", "weather"]) == "camera"
    assert incident_data_class(["camera", "police"]) == "incident"
    assert incident_data_class(["fire"]) == "incident"


def test_camera_rows_are_tagged(store: IncidentStore, sample: SampleCity) -> None:
    load(store, sample)
    q = store.executor.query
    db = store.databases.main
    by_class = dict(
        q(f"SELECT data_class, count() FROM {db}.events FINAL GROUP BY data_class").rows
    )
    cameras = len([e for e in sample.events if e.source == Source.CAMERA])
    assert by_class == {"camera": cameras, "event": len(sample.events) - cameras}
    camera_only = [
        i
        for i in sample.latest().values()
        if incident_data_class(s.value for s in i.sources) == "camera"
    ]
    assert camera_only, "the sample has camera-only incidents"
    stored = q(f"SELECT count() FROM {db}.incidents_latest WHERE data_class = 'camera'").scalar()
    assert stored == len(camera_only)
