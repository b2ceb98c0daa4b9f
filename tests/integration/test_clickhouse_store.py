"""The analytics store on the real server (Debian's ClickHouse 18.16, from `vigie stack up`).

Migrations from scratch and again, idempotent writes, the cookbook on both engines (this
server and chdb 26.x in-process), retention, and the writer's and analyst's permissions,
checked by trying what each may not do.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from cookbook_checks import CHECKS

from vigie.config import REPO_ROOT, Settings
from vigie.core.events import AckAction, IncidentAck
from vigie.store.cookbook import CookbookQuery, load_cookbook
from vigie.store.engine import (
    ChdbExecutor,
    Executor,
    NativeExecutor,
    QueryRejected,
    StoreError,
    connect,
)
from vigie.store.incident_store import IncidentStore
from vigie.store.retention import RetentionPolicy, apply_retention
from vigie.store.sample_data import SampleCity, build_sample
from vigie.store.schema import (
    Databases,
    drop_databases,
    existing_objects,
    load_migrations,
    migrate,
)

pytestmark = pytest.mark.integration

MIGRATIONS = load_migrations(REPO_ROOT / "schemas" / "clickhouse")
COOKBOOK = load_cookbook(REPO_ROOT / "schemas" / "clickhouse" / "queries")
NOW = datetime.now(UTC)
SAMPLE = build_sample(int(NOW.timestamp() * 1000))


@pytest.fixture(name="admin")
def admin_fixture(stack: Settings) -> Iterator[NativeExecutor]:
    executor = connect(stack, "admin")
    yield executor
    executor.close()


@pytest.fixture(name="scratch")
def scratch_fixture(admin: NativeExecutor) -> Iterator[Databases]:
    """Databases of this test alone (the stack's own `vigie` stays untouched)."""
    suffix = uuid.uuid4().hex[:8]
    dbs = Databases(f"vigie_it{suffix}", f"vigie_it{suffix}_private")
    yield dbs
    drop_databases(admin, dbs)


def _load(store: IncidentStore, city: SampleCity) -> None:
    store.insert_events(city.events)
    store.insert_incidents(city.incidents)
    store.insert_acks(city.acks)


def test_migrations_from_scratch_then_again(admin: NativeExecutor, scratch: Databases) -> None:
    assert admin.version().major == 18  # the legacy engine this suite exists for
    first = migrate(admin, scratch, MIGRATIONS)
    assert first.flavour == "legacy"
    assert len(first.applied) == len(MIGRATIONS)
    objects = existing_objects(admin, scratch)
    ddl = admin.query(f"SHOW CREATE TABLE {scratch.main}.events").scalar()
    assert "LowCardinality" not in ddl and "DateTime('UTC')" in ddl
    again = migrate(admin, scratch, MIGRATIONS)
    assert again.applied == () and existing_objects(admin, scratch) == objects


def test_replays_never_double_count(admin: NativeExecutor, scratch: Databases) -> None:
    migrate(admin, scratch, MIGRATIONS)
    store = IncidentStore(admin, scratch)
    assert store.time_scale == 1  # DateTime, seconds, on 18.16
    _load(store, SAMPLE)
    latest = SAMPLE.latest()
    counts = (store.count_events(), store.count_incidents(), store.latest_versions())
    _load(store, SAMPLE)
    assert (store.count_events(), store.count_incidents(), store.latest_versions()) == counts
    assert counts[1] == len(latest)
    rollup = admin.query(f"SELECT sum(incidents) FROM {scratch.main}.incidents_per_hour").scalar()
    assert rollup == len(latest)
    incident = next(i for i in latest.values() if i.links)
    stored = store.get_incident(incident.incident_id)
    assert stored is not None
    assert stored.first_event_time == incident.first_event_time // 1000 * 1000
    assert {(link.rule, link.time_gap_ms) for link in stored.links} == {
        (link.rule, link.time_gap_ms) for link in incident.links
    }


@pytest.fixture(name="both_engines", scope="module")
def both_engines_fixture(stack: Settings) -> Iterator[dict[str, Executor]]:
    """The sample city loaded into this server and into chdb, each in fresh databases."""
    suffix = uuid.uuid4().hex[:8]
    dbs = Databases(f"vigie_cb{suffix}", f"vigie_cb{suffix}_private")
    admin = connect(stack, "admin")
    migrate(admin, dbs, MIGRATIONS)
    _load(IncidentStore(admin, dbs), SAMPLE)
    server = connect(stack, "admin", database=dbs.main)
    chdb = ChdbExecutor()  # the process's chdb session (in memory unless one is open)
    migrate(chdb, dbs, MIGRATIONS)
    _load(IncidentStore(chdb, dbs), SAMPLE)
    chdb.command(f"USE {dbs.main}")
    yield {"server": server, "chdb": chdb}
    drop_databases(admin, dbs)
    drop_databases(chdb, dbs)
    admin.close()
    server.close()


@pytest.mark.parametrize("query", COOKBOOK, ids=lambda q: q.name)
def test_cookbook_on_both_engines(both_engines: dict[str, Executor], query: CookbookQuery) -> None:
    answers = {}
    for name, engine in both_engines.items():
        result = engine.query(query.sql)
        assert result.rows, f"{query.name} returned nothing on {name}"
        CHECKS[query.name](result)
        answers[name] = result
    assert answers["server"].columns == answers["chdb"].columns
    if query.name not in ("creation_delay", "response_times"):  # seconds vs milliseconds
        assert len(answers["server"].rows) == len(answers["chdb"].rows)


def test_retention_on_the_server(admin: NativeExecutor, scratch: Databases) -> None:
    migrate(admin, scratch, MIGRATIONS)
    store = IncidentStore(admin, scratch)
    _load(store, SAMPLE)
    policy = RetentionPolicy()
    assert [a for a in apply_retention(admin, scratch, policy, now=NOW) if a.done] == []
    actions = apply_retention(admin, scratch, policy, now=NOW + timedelta(days=31))
    assert {a.data_class for a in actions if a.what == "drop partition"} == {"camera"}
    classes = admin.query(f"SELECT DISTINCT data_class FROM {scratch.main}.events").rows
    assert classes == [("event",)]
    deadline = time.monotonic() + 30
    sql = f"SELECT count() FROM {scratch.main}.incidents WHERE data_class = 'camera'"
    while admin.query(sql).scalar() and time.monotonic() < deadline:
        time.sleep(0.2)  # ALTER ... DELETE is a background mutation
    assert admin.query(sql).scalar() == 0
    assert store.count_incidents() > 0


# --- Permissions: the stack's users.xml comes from vigie.store.roles.render_users_xml ---


def _denied(executor: NativeExecutor, sql: str, *words: str) -> None:
    with pytest.raises(StoreError) as caught:
        executor.command(sql)
    text = str(caught.value).lower()
    assert any(word in text for word in words), text


@pytest.fixture(name="configured")
def configured_fixture(stack: Settings, admin: NativeExecutor) -> Databases:
    """The stack's own databases (the users' grants name them), migrated."""
    dbs = Databases.from_settings(stack)
    migrate(admin, dbs, MIGRATIONS)
    return dbs


def test_writer_writes_but_cannot_change_the_schema(stack: Settings, configured: Databases) -> None:
    writer = connect(stack, "writer")
    try:
        store = IncidentStore(writer, configured)
        ack = IncidentAck(
            f"it-{uuid.uuid4()}", "it-incident", AckAction.ACK, "op-it", 1_700_000_000_000
        )
        assert store.insert_acks([ack]).total == 2
        main, private = configured.main, configured.private
        found = writer.query(
            f"SELECT count() FROM {private}.ack_people WHERE ack_id = %(id)s", {"id": ack.ack_id}
        ).scalar()
        assert found == 1
        _denied(writer, f"DROP TABLE {main}.events", "ddl queries are prohibited")
        _denied(
            writer, f"CREATE TABLE {main}.x (a UInt8) ENGINE = Memory", "ddl queries are prohibited"
        )
        _denied(writer, f"ALTER TABLE {main}.events DELETE WHERE 1", "ddl queries are prohibited")
        _denied(writer, f"TRUNCATE TABLE {main}.incidents", "ddl queries are prohibited")
        _denied(writer, "SET allow_ddl = 1", "cannot modify 'allow_ddl'")
        _denied(writer, "SELECT * FROM default.no_such_table", "access denied to database default")
    finally:
        writer.close()


def test_analyst_reads_but_cannot_write_or_see_personal_fields(
    stack: Settings, configured: Databases
) -> None:
    analyst = connect(stack, "analyst")
    try:
        main, private = configured.main, configured.private
        analyst.query(f"SELECT count() FROM {main}.incidents_latest")
        analyst.query(f"SELECT * FROM {main}.incident_status LIMIT 1")
        readonly = ("readonly mode", "cannot execute set query in readonly mode")
        _denied(analyst, f"INSERT INTO {main}.events (event_id) VALUES ('x')", *readonly)
        _denied(analyst, f"SELECT * FROM {private}.event_personal", "access denied to database")
        _denied(analyst, f"SELECT operator FROM {private}.ack_people", "access denied to database")
        _denied(
            analyst,
            f"SELECT * FROM remote('127.0.0.1:{stack.clickhouse_port}', {private}.ack_people)",
            "table functions are forbidden in readonly mode",
        )
        _denied(analyst, "SET readonly = 0", *readonly)
        _denied(analyst, f"DROP TABLE {main}.events", *readonly)
        _denied(analyst, f"CREATE TABLE {main}.x (a UInt8) ENGINE = Memory", *readonly)
        columns = {
            str(c)
            for (c,) in analyst.query(
                "SELECT name FROM system.columns WHERE database = %(db)s", {"db": main}
            ).rows
        }
        assert not columns & {"operator", "assignee", "note", "keys", "values"}
    finally:
        analyst.close()


def test_wrong_password_is_a_clear_error(stack: Settings) -> None:
    bad = NativeExecutor(
        stack.clickhouse_address, stack.clickhouse_port, stack.clickhouse_analyst_user, "wrong"
    )
    with pytest.raises(StoreError, match="refused user 'vigie_analyst'"):
        bad.query("SELECT 1")
    with pytest.raises(QueryRejected, match="code 62"):
        connect(stack, "analyst").query("SELEC 1")
