"""Cluster mode of the migrations: the pure layout renderer, and one server left as it was.

The real cluster (ZooKeeper and ClickHouse 18.16 nodes) is tests/integration/
test_clickhouse_cluster.py; here every migration is rendered for a cluster and read back
statement by statement, and the current engine's parser (chdb) accepts each statement.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from store_helpers import (  # noqa: F401  (fixtures)
    MIGRATIONS,
    chdb_engine_fixture,
    databases_fixture,
    migrated_fixture,
)

from vigie.config import Settings
from vigie.store.cluster import ClusterLayout, Placement
from vigie.store.engine import (
    Capabilities,
    ChdbExecutor,
    QueryResult,
    ServerVersion,
    StoreError,
    connect,
    substitute,
)
from vigie.store.retention import RetentionPolicy, apply_retention, sync_ttls
from vigie.store.roles import rbac_statements
from vigie.store.schema import (
    Databases,
    Migration,
    SchemaError,
    check_recognised,
    load_migrations,
    migrate,
)

pytestmark = pytest.mark.unit

LEGACY = Capabilities.of(ServerVersion(18, 16, 1))
CURRENT = Capabilities.of(ServerVersion(26, 9, 2))
DBS = Databases("vigie", "vigie_private")
LAYOUT = ClusterLayout("vigie")
NAMES = ("vigie", "vigie_private")

#: SHA-256 of each migration before cluster annotations existed: databases migrated then
#: must stay recognised, so annotating a file must not change its single-server checksum.
CHECKSUMS_BEFORE_ANNOTATIONS = {
    1: "ee9ba0d5020f0ac2ef5aaaab37ca78471ae151688af3dfcbe841e85ab83d41a2",
    2: "a762a1712022cd084b8c27860e6aa05a516c16cf75fdfe0b82d5288c5f492d6d",
    3: "3a9bf8ce48e54cbd553ec91923fe3aa384b2894083757f50c5eeffb073a90864",
    4: "202d7bae6965ebe4c1a53e4d908dd1cb97b5a0c6fd9b8d32a3fdf048e10b768e",
    5: "175957e2b7e089b4a1f707b70533b0a59b47a64fb78da95a22108b833da1cfe9",
}


def _cluster_sql() -> dict[str, str]:
    """Every cluster statement of every migration, by the object it creates."""
    out: dict[str, str] = {}
    for migration in load_migrations(MIGRATIONS):
        for statement in migration.render(DBS, LEGACY, LAYOUT):
            match = re.match(
                r"CREATE (?:MATERIALIZED )?(?:TABLE|VIEW) IF NOT EXISTS (\S+)", statement
            )
            assert match, statement
            out[match[1]] = statement
    return out


# -- one server: as before ---------------------------------------------------------------


def test_annotations_leave_single_server_checksums_and_statements_unchanged() -> None:
    for migration in load_migrations(MIGRATIONS):
        assert migration.checksum == CHECKSUMS_BEFORE_ANNOTATIONS[migration.version]
        assert migration.checksum_for(None) == migration.checksum
        plain = "".join(
            line
            for line in migration.template.splitlines(keepends=True)
            if not line.lstrip().startswith("-- cluster:")
        )
        assert hashlib.sha256(plain.encode()).hexdigest() == migration.checksum
        bare = Migration(migration.version, migration.name, migration.path, plain)
        for capabilities in (LEGACY, CURRENT):
            assert migration.render(DBS, capabilities) == bare.render(DBS, capabilities)
            assert migration.render(DBS, capabilities, None) == bare.render(DBS, capabilities)


def test_a_cluster_checksum_covers_the_annotations() -> None:
    events = load_migrations(MIGRATIONS)[0]
    assert events.cluster_checksum != events.checksum
    assert events.checksum_for(LAYOUT) == events.cluster_checksum


# -- the layout of every migration --------------------------------------------------------


def test_every_table_is_replicated_locally_behind_a_distributed_table() -> None:
    sql = _cluster_sql()
    tables = {
        "vigie.events": "cityHash64(event_id)",
        "vigie_private.event_personal": "cityHash64(event_id)",
        "vigie.incidents": "cityHash64(incident_id)",
        "vigie.incident_links": "cityHash64(incident_id)",
        "vigie.incident_acks": "cityHash64(incident_id)",
        "vigie_private.ack_people": "cityHash64(incident_id)",
        "vigie.events_hourly": "rand()",
        "vigie.incidents_hourly": "rand()",
        "vigie.smoke_readings": "cityHash64(run_id, reading_id)",
    }
    for name, key in tables.items():
        database, table = name.split(".")
        local, front = sql[f"{name}_local"], sql[name]
        path = f"'/clickhouse/tables/{{shard}}/{database}/{table}', '{{replica}}'"
        assert f"{name}_local ON CLUSTER vigie\n(" in local
        assert re.search(rf"ENGINE = Replicated\w*MergeTree\({re.escape(path)}", local)
        assert f"ENGINE = Distributed('vigie', '{database}', '{table}_local', {key})" in front
        assert f"{name} ON CLUSTER vigie\n(" in front
        # Same columns on both, and nothing of the local table's storage on the front one.
        assert (
            local[local.index("(") : local.index("ENGINE")]
            == front[front.index("(") : front.index("ENGINE")]
        )
        assert "ORDER BY" in local and "ORDER BY" not in front


def test_engine_families_keep_their_arguments() -> None:
    sql = _cluster_sql()
    assert (
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/vigie/incidents', "
        "'{replica}', version)\nPARTITION BY toYYYYMM(created_at)\nORDER BY incident_id"
    ) in sql["vigie.incidents_local"]
    assert (
        "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/vigie/events', '{replica}')\n"
    ) in sql["vigie.events_local"]
    assert "ReplicatedAggregatingMergeTree(" in sql["vigie.events_hourly_local"]
    assert (
        "ReplicatedMergeTree('/clickhouse/tables/{shard}/vigie/smoke_readings'"
        in (sql["vigie.smoke_readings_local"])
    )


def test_materialised_views_read_and_write_local_tables() -> None:
    sql = _cluster_sql()
    events = sql["vigie.events_hourly_mv"]
    assert events.startswith(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS vigie.events_hourly_mv ON CLUSTER vigie "
        "TO vigie.events_hourly_local\n"
    )
    assert "FROM vigie.events_local\n" in events
    assert "FROM vigie.incidents_local\nWHERE version = 1" in sql["vigie.incidents_hourly_mv"]


def test_views_per_shard_or_over_the_distributed_tables() -> None:
    sql = _cluster_sql()
    for view in ("incidents_latest", "incident_evidence", "incident_status"):
        local = sql[f"vigie.{view}_local"]
        assert local.startswith(f"CREATE VIEW IF NOT EXISTS vigie.{view}_local ON CLUSTER vigie\n")
        # Only local tables inside: co-sharded by incident id, so each shard answers alone.
        assert re.findall(r"vigie\.(\w+)", local[local.index("AS") :]) and all(
            name.endswith("_local") for name in re.findall(r"vigie\.(\w+)", local)
        )
        assert sql[f"vigie.{view}"] == (
            f"CREATE TABLE IF NOT EXISTS vigie.{view} ON CLUSTER vigie AS vigie.{view}_local\n"
            f"ENGINE = Distributed('vigie', 'vigie', '{view}_local')"
        )
    assert (
        "IN (SELECT incident_id, version FROM vigie.incidents_local FINAL)"
        in (sql["vigie.incident_evidence_local"])
    )
    # Rollup views aggregate across shards: they read the Distributed tables.
    per_hour = sql["vigie.events_per_hour"]
    assert per_hour.startswith("CREATE VIEW IF NOT EXISTS vigie.events_per_hour ON CLUSTER vigie\n")
    assert "FROM vigie.events_hourly\n" in per_hour
    assert "vigie.events_per_hour_local" not in sql


def test_every_statement_runs_on_the_whole_cluster() -> None:
    for statement in _cluster_sql().values():
        assert " ON CLUSTER vigie" in statement.splitlines()[0]


def test_objects_created_in_cluster_mode() -> None:
    migrations = load_migrations(MIGRATIONS)
    single = set().union(*(m.creates(DBS, LEGACY) for m in migrations))
    cluster = set().union(*(m.creates(DBS, LEGACY, LAYOUT) for m in migrations))
    tables = {("vigie", t) for t in ("events", "incidents", "incident_links", "events_hourly")}
    assert tables <= single and tables <= cluster
    assert {(db, f"{name}_local") for db, name in tables} <= cluster
    assert ("vigie", "incidents_latest_local") in cluster
    assert ("vigie", "events_hourly_mv_local") not in cluster  # a view holds no rows
    assert all(not name.endswith("_local") for _, name in single)


def test_the_current_parser_accepts_every_cluster_statement(chdb_engine: ChdbExecutor) -> None:
    for migration in load_migrations(MIGRATIONS):
        for statement in migration.render(DBS, CURRENT, LAYOUT):
            assert chdb_engine.query("SELECT formatQuery(%(q)s)", {"q": statement}).scalar()
    for statement in rbac_statements(Settings(clickhouse_writer_password="w-secret"), LAYOUT):
        assert "w-secret" not in statement.sql and statement.params is None
        assert chdb_engine.query("SELECT formatQuery(%(q)s)", {"q": statement.sql}).scalar()


def test_rbac_statements_run_on_every_node() -> None:
    settings = Settings(clickhouse_writer_password="w", clickhouse_analyst_password="a")
    sql = [s.sql for s in rbac_statements(settings, LAYOUT)]
    assert "CREATE ROLE IF NOT EXISTS vigie_writer_role ON CLUSTER vigie" in sql
    assert "GRANT ON CLUSTER vigie SELECT ON vigie.* TO vigie_analyst_role" in sql
    assert "REVOKE ON CLUSTER vigie ALL ON *.* FROM vigie_analyst_role" in sql
    digest = hashlib.sha256(b"a").hexdigest()
    assert (
        f"ALTER USER vigie_analyst ON CLUSTER vigie IDENTIFIED WITH sha256_hash BY '{digest}'"
    ) in sql
    assert "ALTER USER vigie_analyst ON CLUSTER vigie DEFAULT ROLE vigie_analyst_role" in sql
    assert not any(s.startswith("SET DEFAULT ROLE") for s in sql)


# -- the renderer on its own ---------------------------------------------------------------


def test_literals_and_longer_names_are_not_rewritten() -> None:
    statement = (
        "CREATE MATERIALIZED VIEW IF NOT EXISTS vigie.m TO vigie.t\n"
        "AS SELECT 'vigie.events (' AS label, other.vigie.x AS y FROM vigie.events"
    )
    (out,) = LAYOUT.render(statement, Placement(), NAMES)
    assert out == (
        "CREATE MATERIALIZED VIEW IF NOT EXISTS vigie.m ON CLUSTER vigie TO vigie.t_local\n"
        "AS SELECT 'vigie.events (' AS label, other.vigie.x AS y FROM vigie.events_local"
    )


def test_engine_arguments_with_nested_parentheses_and_strings() -> None:
    statement = (
        "CREATE TABLE vigie.t (a String DEFAULT concat('(', 'x'), b UInt8)\n"
        "ENGINE = VersionedCollapsingMergeTree(sign, toUInt8(b)) ORDER BY a"
    )
    local, front = LAYOUT.render(statement, Placement(shard_key="cityHash64(a)"), NAMES)
    assert local == (
        "CREATE TABLE vigie.t_local ON CLUSTER vigie (a String DEFAULT concat('(', 'x'), b UInt8)\n"
        "ENGINE = ReplicatedVersionedCollapsingMergeTree('/clickhouse/tables/{shard}/vigie/t', "
        "'{replica}', sign, toUInt8(b)) ORDER BY a"
    )
    assert front == (
        "CREATE TABLE vigie.t ON CLUSTER vigie (a String DEFAULT concat('(', 'x'), b UInt8)\n"
        "ENGINE = Distributed('vigie', 'vigie', 't_local', cityHash64(a))"
    )
    bare, _ = LAYOUT.render(
        "CREATE TABLE vigie.u (a UInt8) ENGINE = MergeTree ORDER BY a", Placement("a"), NAMES
    )
    assert "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/vigie/u', '{replica}')" in bare


@pytest.mark.parametrize(
    ("statement", "placement", "message"),
    [
        (
            "CREATE TABLE vigie.t (a UInt8) ENGINE = MergeTree() ORDER BY a",
            Placement(),
            "no sharding key",
        ),
        ("CREATE TABLE vigie.t (a UInt8) ENGINE = Log", Placement("a"), "not Log"),
        (
            "CREATE TABLE vigie.t (a UInt8) ENGINE = ReplicatedMergeTree('/p', 'r') ORDER BY a",
            Placement("a"),
            "not ReplicatedMergeTree",
        ),
        (
            "CREATE TABLE vigie.t (a UInt8) ENGINE = MergeTree() ORDER BY a",
            Placement(per_shard=True),
            "is for views",
        ),
        ("CREATE VIEW vigie.v AS SELECT 1", Placement("a"), "is for tables"),
        ("CREATE MATERIALIZED VIEW vigie.m ENGINE = Memory AS SELECT 1", Placement(), "needs 'TO"),
        ("ALTER TABLE vigie.t ADD COLUMN b UInt8", Placement(), "CREATE statements only"),
        ("CREATE TABLE vigie.t (a UInt8", Placement("a"), "closing parenthesis"),
    ],
)
def test_what_the_layout_refuses(statement: str, placement: Placement, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        LAYOUT.render(statement, placement, NAMES)


def _migration(tmp_path: Path, text: str) -> Migration:
    path = tmp_path / "0001_t.sql"
    path.write_text(text)
    return load_migrations(tmp_path)[0]


def test_annotations_belong_to_the_next_statement(tmp_path: Path) -> None:
    migration = _migration(
        tmp_path,
        "-- a comment\n-- cluster: shard by cityHash64(a)\nCREATE TABLE {{db}}.t (a String)\n"
        "ENGINE = MergeTree() ORDER BY a;\n\n"
        "CREATE VIEW {{db}}.v AS SELECT 1;\n"
        "-- cluster: view per shard\n-- why: it is\n"
        "CREATE VIEW {{db}}.w AS SELECT a FROM {{db}}.t;\n",
    )
    assert migration.placements() == [
        Placement(shard_key="cityHash64(a)"),
        Placement(),
        Placement(per_shard=True),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("CREATE TABLE {{db}}.t\n-- cluster: shard by a\n(a String) ENGINE = Log;", "not inside"),
        (
            "-- cluster: shard by a\n-- cluster: shard by b\nCREATE TABLE {{db}}.t (a String);",
            "two",
        ),
        ("CREATE VIEW {{db}}.v AS SELECT 1;\n-- cluster: view per shard\n", "after the last"),
        ("-- cluster: replicate everything\nCREATE VIEW {{db}}.v AS SELECT 1;", "unknown cluster"),
    ],
)
def test_misplaced_annotations_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        _migration(tmp_path, text).placements()


def test_layout_from_settings() -> None:
    assert ClusterLayout.from_settings(Settings()) is None
    assert ClusterLayout.from_settings(Settings(clickhouse_cluster="prod")) == ClusterLayout("prod")
    with pytest.raises(StoreError, match="VIGIE_CLICKHOUSE_CLUSTER"):
        ClusterLayout.from_settings(Settings(clickhouse_cluster="prod; DROP"))


def test_writers_insert_synchronously_in_cluster_mode() -> None:
    cluster = Settings(clickhouse_cluster="vigie")
    for role in ("admin", "writer"):
        executor = connect(cluster, role)  # type: ignore[arg-type]
        assert executor._client.settings.get("insert_distributed_sync") == 1
    # The analyst only reads; 18.16 refuses any setting from a read-only user.
    assert "insert_distributed_sync" not in connect(cluster, "analyst")._client.settings
    assert "insert_distributed_sync" not in connect(Settings(), "writer")._client.settings


# -- refusals that protect a database from the wrong mode -----------------------------------


def test_a_database_keeps_the_mode_it_was_migrated_in(
    chdb_engine: ChdbExecutor, migrated: Databases
) -> None:
    migrations = load_migrations(MIGRATIONS)
    with pytest.raises(SchemaError, match="migrated in single-server mode"):
        check_recognised(chdb_engine, migrated, migrations, CURRENT, LAYOUT)
    with pytest.raises(SchemaError, match="migrated in single-server mode"):
        migrate(chdb_engine, migrated, migrations, layout=LAYOUT)


class _Recorder:
    """An executor that answers retention's questions as a 2-shard cluster would."""

    kind = "server"

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.queries: list[str] = []

    def describe(self) -> str:
        return "recorder"

    def version(self) -> ServerVersion:
        return CURRENT.version

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> QueryResult:
        text = substitute(sql, params)
        self.queries.append(text)
        if "FROM system.tables WHERE database IN" in text:
            names = [("events_local",), ("events",), ("incidents_local",), ("incidents",)]
            return QueryResult(("name",), ("String",), names)
        if "FROM cluster('vigie', system, parts)" in text and "'events_local'" in text:
            old = "('camera', 20200101)"
            return QueryResult(("partition", "rows"), ("String", "UInt64"), [(old, 5)])
        if text.startswith("SELECT count() FROM vigie.incidents WHERE"):
            return QueryResult(("count",), ("UInt64",), [(3,)])
        return QueryResult((), (), [])

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self.commands.append(substitute(sql, params))

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
        raise AssertionError("retention never inserts")

    def close(self) -> None:
        """Nothing to close."""


def test_retention_alters_the_local_tables_on_every_node() -> None:
    recorder = _Recorder()
    now = datetime.now(UTC) + timedelta(days=1)
    actions = apply_retention(recorder, DBS, RetentionPolicy(), now=now, layout=LAYOUT)
    assert {a.what for a in actions} >= {"drop partition", "delete rows", "set ttl"}
    assert (
        "ALTER TABLE vigie.events_local ON CLUSTER vigie DROP PARTITION ('camera', 20200101)"
        in (recorder.commands)
    )
    assert any(
        c.startswith("ALTER TABLE vigie.incidents_local ON CLUSTER vigie DELETE WHERE")
        for c in recorder.commands
    )
    assert any(
        c.startswith("ALTER TABLE vigie.events_local ON CLUSTER vigie MODIFY TTL")
        for c in recorder.commands
    )
    assert not any(" vigie.events " in c or c.endswith("vigie.events") for c in recorder.commands)
    ttl = sync_ttls(_Recorder(), DBS, RetentionPolicy(), CURRENT, LAYOUT)
    assert {a.table for a in ttl} >= {"events", "incidents"}
