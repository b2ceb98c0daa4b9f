"""Retention per data class on a current engine (chdb), and the policy's legal limit."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from store_helpers import (  # noqa: F401  (fixtures)
    ANCHOR_MS,
    chdb_engine_fixture,
    databases_fixture,
    load,
    migrated_fixture,
    sample_fixture,
    store_fixture,
)

from vigie.config import ConfigError, Settings, load_settings
from vigie.errors import VigieError
from vigie.store.engine import ChdbExecutor
from vigie.store.incident_store import IncidentStore
from vigie.store.retention import RULES, RetentionPolicy, _expired, _span, apply_retention
from vigie.store.sample_data import SampleCity

pytestmark = pytest.mark.unit

NOW = datetime.fromtimestamp(ANCHOR_MS / 1000, UTC)


def test_camera_retention_above_thirty_days_is_refused() -> None:
    with pytest.raises(VigieError, match="L252-5"):
        RetentionPolicy(camera=31)
    with pytest.raises(ValueError, match="L252-5"):
        Settings(retention_camera_days=45)
    assert Settings(retention_camera_days=7).retention_camera_days == 7


def test_camera_retention_refused_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIE_RETENTION_CAMERA_DAYS", "60")
    load_settings.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"VIGIE_RETENTION_CAMERA_DAYS.*one month at most"):
            load_settings()
    finally:
        load_settings.cache_clear()


def test_partition_spans_and_expiry_rules() -> None:
    cls, start, end = _span("('camera',20250131)", by_day=True)  # type: ignore[misc]
    assert (cls, start, end) == (
        "camera",
        datetime(2025, 1, 31, tzinfo=UTC),
        datetime(2025, 2, 1, tzinfo=UTC),
    )
    assert _span("202412", by_day=False) == (
        None,
        datetime(2024, 12, 1, tzinfo=UTC),
        datetime(2025, 1, 1, tzinfo=UTC),
    )
    assert _span("garbage", by_day=True) is None
    now = datetime(2025, 3, 2, 12, tzinfo=UTC)  # 30 days after 2025-01-31 12:00
    # Strict (camera): the day goes as soon as any row in it may be older than 30 days.
    assert _expired(start, end, 30, True, now)
    assert not _expired(start, end, 30, True, now - timedelta(hours=13))
    # Others: the day goes once its newest row is older than the retention.
    assert not _expired(start, end, 30, False, now)
    assert _expired(start, end, 30, False, now + timedelta(hours=12))


def test_every_table_has_a_rule(chdb_engine: ChdbExecutor, migrated) -> None:  # type: ignore[no-untyped-def]
    tables = {
        str(t)
        for (t,) in chdb_engine.query(
            "SELECT name FROM system.tables WHERE database IN (%(m)s, %(p)s)"
            " AND engine LIKE '%%MergeTree'",
            {"m": migrated.main, "p": migrated.private},
        ).rows
    }
    assert tables - {"schema_migrations", "smoke_readings"} == {rule.table for rule in RULES}


def test_retention_drops_expired_camera_data_only(store: IncidentStore, sample: SampleCity) -> None:
    load(store, sample)
    db = store.databases
    q = store.executor.query
    policy = RetentionPolicy()
    before = dict(q(f"SELECT data_class, count() FROM {db.main}.events GROUP BY data_class").rows)

    today = apply_retention(store.executor, db, policy, now=NOW)
    assert {a.what for a in today} == {"set ttl"}  # nothing expired; TTLs set from config
    assert apply_retention(store.executor, db, policy, now=NOW) == []  # TTLs already right

    later = NOW + timedelta(days=31)
    planned = apply_retention(store.executor, db, policy, now=later, dry_run=True)
    assert planned and not any(a.done for a in planned)
    assert (
        dict(q(f"SELECT data_class, count() FROM {db.main}.events GROUP BY data_class").rows)
        == before
    )

    done = apply_retention(store.executor, db, policy, now=later)
    dropped = [a for a in done if a.what == "drop partition"]
    assert dropped and {a.data_class for a in dropped} == {"camera"}
    assert sum(a.rows for a in dropped if a.table == "events") == before["camera"]
    assert [a.target for a in planned] == [a.target for a in done]
    after = dict(q(f"SELECT data_class, count() FROM {db.main}.events GROUP BY data_class").rows)
    assert after == {"event": before["event"]}
    assert _eventually_zero(
        store, f"SELECT count() FROM {db.main}.incidents WHERE data_class = 'camera'"
    )
    assert q(f"SELECT count() FROM {db.main}.incidents_latest").scalar() > 0
    lines = [a.line() for a in done]
    assert any(line.startswith("events: dropped ('camera',") for line in lines)


def _eventually_zero(store: IncidentStore, sql: str, timeout_s: float = 20) -> bool:
    """Mutations (ALTER ... DELETE) run in the background; wait for this one."""
    deadline = time.monotonic() + timeout_s
    while store.executor.query(sql).scalar() != 0:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_other_classes_expire_after_their_own_retention(
    store: IncidentStore, sample: SampleCity
) -> None:
    load(store, sample)
    db = store.databases
    policy = RetentionPolicy(camera=30, event=60, incident=400, rollup=1000)
    done = apply_retention(store.executor, db, policy, now=NOW + timedelta(days=65))
    tables = {a.table for a in done if a.what == "drop partition"}
    assert tables == {"events", "event_personal"}
    assert store.count_events() == 0
    assert store.count_incidents() > 0
    done = apply_retention(store.executor, db, policy, now=NOW + timedelta(days=1100))
    tables = {a.table for a in done if a.what == "drop partition"}
    assert {"incidents", "incident_links", "incident_acks", "ack_people"} <= tables
    assert {"events_hourly", "incidents_hourly"} <= tables
