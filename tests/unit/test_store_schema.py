"""Migrations on a current engine (chdb): from scratch, again as a no-op, and refusals."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from store_helpers import (  # noqa: F401  (fixtures)
    MIGRATIONS,
    chdb_engine_fixture,
    databases_fixture,
    migrated_fixture,
)

from vigie.store.engine import Capabilities, ChdbExecutor, ServerVersion, StoreError
from vigie.store.schema import (
    MIGRATIONS_TABLE,
    Databases,
    SchemaError,
    applied_migrations,
    existing_objects,
    load_migrations,
    migrate,
)

pytestmark = pytest.mark.unit

LEGACY = Capabilities.of(ServerVersion(18, 16, 1))
CURRENT = Capabilities.of(ServerVersion(26, 9, 2))


def test_capabilities_by_release() -> None:
    assert LEGACY.flavour == "legacy"
    assert not (LEGACY.ttl or LEGACY.low_cardinality or LEGACY.datetime64 or LEGACY.rbac)
    assert CURRENT.flavour == "current"
    assert ServerVersion.parse("26.9.2.1") == ServerVersion(26, 9, 2)
    with pytest.raises(StoreError):
        ServerVersion.parse("not a version")


def test_one_template_renders_for_both_engines() -> None:
    dbs = Databases("vigie", "vigie_private")
    for migration in load_migrations(MIGRATIONS):
        legacy = "\n".join(migration.render(dbs, LEGACY))
        current = "\n".join(migration.render(dbs, CURRENT))
        assert "{{" not in legacy and "{{" not in current
        assert "LowCardinality" not in legacy and "DateTime64" not in legacy
        # Same objects, whatever the engine.
        assert migration.creates(dbs, LEGACY) == migration.creates(dbs, CURRENT)
    events = load_migrations(MIGRATIONS)[0].render(dbs, CURRENT)[0]
    assert "source LowCardinality(String)" in events
    assert "event_time DateTime64(3, 'UTC')" in events


def test_migrate_from_scratch_then_again_is_a_noop(
    chdb_engine: ChdbExecutor, databases: Databases
) -> None:
    migrations = load_migrations(MIGRATIONS)
    first = migrate(chdb_engine, databases, migrations)
    assert [m.version for m in first.applied] == [m.version for m in migrations]
    assert first.flavour == "current"
    objects = existing_objects(chdb_engine, databases)
    for name in ("events", "incidents", "incident_links", "incident_acks", "incidents_latest"):
        assert (databases.main, name) in objects
    assert (databases.private, "event_personal") in objects
    recorded = applied_migrations(chdb_engine, databases)
    assert {v: r.checksum for v, r in recorded.items()} == {
        m.version: m.checksum for m in migrations
    }

    second = migrate(chdb_engine, databases, migrations)
    assert second.applied == ()
    assert existing_objects(chdb_engine, databases) == objects
    rows = chdb_engine.query(f"SELECT count() FROM {databases.main}.{MIGRATIONS_TABLE}").scalar()
    assert rows == len(migrations)


def test_refuses_a_changed_applied_migration(
    chdb_engine: ChdbExecutor, migrated: Databases, tmp_path: Path
) -> None:
    changed = tmp_path / "clickhouse"
    shutil.copytree(MIGRATIONS, changed)
    first = sorted(changed.glob("0001_*.sql"))[0]
    first.write_text(first.read_text() + "\n-- an innocent-looking edit\n")
    with pytest.raises(SchemaError, match="changed after it was applied"):
        migrate(chdb_engine, migrated, load_migrations(changed))


def test_refuses_an_applied_migration_this_checkout_lacks(
    chdb_engine: ChdbExecutor, migrated: Databases
) -> None:
    older = load_migrations(MIGRATIONS)[:-1]
    with pytest.raises(SchemaError, match="does not have"):
        migrate(chdb_engine, migrated, older)


def test_refuses_unknown_tables_and_changes_nothing(
    chdb_engine: ChdbExecutor, databases: Databases
) -> None:
    chdb_engine.command(f"CREATE DATABASE {databases.main}")
    chdb_engine.command(
        f"CREATE TABLE {databases.main}.mystery (x UInt8) ENGINE = MergeTree ORDER BY x"
    )
    with pytest.raises(SchemaError, match=r"unknown table\(s\) .*mystery"):
        migrate(chdb_engine, databases, load_migrations(MIGRATIONS))
    assert existing_objects(chdb_engine, databases) == {(databases.main, "mystery")}


def test_resumes_a_migration_interrupted_midway(
    chdb_engine: ChdbExecutor, databases: Databases
) -> None:
    migrations = load_migrations(MIGRATIONS)
    migrate(chdb_engine, databases, migrations[:1])
    # A crash after the first statement of 0002: its first table exists, no record of it.
    first_statement = migrations[1].render(databases, CURRENT)[0]
    chdb_engine.command(first_statement)
    report = migrate(chdb_engine, databases, migrations)
    assert [m.version for m in report.applied] == [m.version for m in migrations[1:]]


def test_migration_files_are_well_formed(tmp_path: Path) -> None:
    (tmp_path / "1_bad name.sql").write_text("SELECT 1")
    with pytest.raises(StoreError, match="NNNN_lower_case_name"):
        load_migrations(tmp_path)
    with pytest.raises(StoreError, match="no migrations folder"):
        load_migrations(tmp_path / "missing")
