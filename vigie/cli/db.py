"""``vigie db migrate|status|retention``: the analytics schema, its users and its retention.

``migrate`` applies the numbered migrations of ``schemas/clickhouse`` (a no-op when up to
date, a refusal on a schema it does not recognise), sets TTLs from the retention config
where the server has TTL, and creates the writer and analyst users where it has SQL access
control. ``retention`` drops what the retention config says has expired and reports it.
Each takes ``--chdb DIR`` to work on a chdb data folder instead of the server. With
``VIGIE_CLICKHOUSE_CLUSTER`` set, each works on that cluster from the server it connects to
(replicated tables ON CLUSTER behind Distributed ones, see :mod:`vigie.store.cluster`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vigie.config import Settings, load_settings
from vigie.errors import VigieError
from vigie.store.cluster import ClusterLayout
from vigie.store.engine import Capabilities, ChdbExecutor, Executor, connect
from vigie.store.retention import RetentionPolicy, apply_retention, sync_ttls
from vigie.store.roles import apply_roles
from vigie.store.schema import (
    Databases,
    SchemaError,
    applied_migrations,
    check_recognised,
    load_migrations,
    migrate,
    migrations_dir,
    table_sizes,
)


def _executor(settings: Settings, chdb_dir: Path | None) -> Executor:
    return ChdbExecutor(chdb_dir) if chdb_dir is not None else connect(settings, "admin")


def _layout(settings: Settings, chdb_dir: Path | None) -> ClusterLayout | None:
    layout = ClusterLayout.from_settings(settings)
    if layout is not None and chdb_dir is not None:
        msg = "--chdb is one in-process engine, not a cluster: unset VIGIE_CLICKHOUSE_CLUSTER"
        raise VigieError(msg)
    return layout


def _migrate(args: argparse.Namespace) -> int:
    settings = load_settings()
    layout = _layout(settings, args.chdb)
    executor = _executor(settings, args.chdb)
    try:
        capabilities = Capabilities.of(executor.version())
        databases = Databases.from_settings(settings)
        report = migrate(
            executor,
            databases,
            load_migrations(migrations_dir(settings)),
            capabilities=capabilities,
            layout=layout,
        )
        for line in report.lines():
            print(line)
        policy = RetentionPolicy.from_settings(settings)
        for action in sync_ttls(executor, databases, policy, capabilities, layout):
            print(f"  {action.line()}")
        for line in apply_roles(executor, settings, capabilities, layout):
            print(line)
    finally:
        executor.close()
    return 0


def _status(args: argparse.Namespace) -> int:
    settings = load_settings()
    layout = _layout(settings, args.chdb)
    executor = _executor(settings, args.chdb)
    try:
        capabilities = Capabilities.of(executor.version())
        databases = Databases.from_settings(settings)
        migrations = load_migrations(migrations_dir(settings))
        print(f"engine     {executor.describe()} ({capabilities.flavour} flavour)")
        features = [
            name
            for name in ("low_cardinality", "datetime64", "ttl", "rbac")
            if getattr(capabilities, name)
        ]
        print(
            f"features   {', '.join(features) or 'none of TTL, LowCardinality, DateTime64, RBAC'}"
        )
        try:
            check_recognised(executor, databases, migrations, capabilities, layout)
            recognised = "recognised"
        except SchemaError as exc:
            recognised = f"NOT RECOGNISED: {exc}"
        applied = applied_migrations(executor, databases)
        pending = [m for m in migrations if m.version not in applied]
        mode = "" if layout is None else f" (cluster {layout.cluster})"
        print(f"schema     {databases.main} + {databases.private}{mode}: {recognised}")
        print(f"migrations {len(applied)} applied, {len(pending)} pending")
        for migration in pending:
            print(f"  pending  {migration.version:04d}_{migration.name}")
        for row in table_sizes(executor, databases):
            print(
                f"  {row['database']}.{row['table']}: {row['rows']} rows, "
                f"{row['partitions']} partition(s), {row['bytes']} bytes"
            )
        policy = RetentionPolicy.from_settings(settings)
        print(
            f"retention  camera {policy.camera} d, events {policy.event} d, "
            f"incidents {policy.incident} d, rollups {policy.rollup} d"
        )
        if args.chdb is None:
            for role in ("writer", "analyst"):
                user = connect(settings, role, attempts=1)
                try:
                    user.query("SELECT 1")
                    print(f"user       {user.user}: can log in")
                except VigieError as exc:
                    print(f"user       {user.user}: {exc}")
                finally:
                    user.close()
    finally:
        executor.close()
    return 0


def _retention(args: argparse.Namespace) -> int:
    settings = load_settings()
    policy = RetentionPolicy.from_settings(settings)
    layout = _layout(settings, args.chdb)
    executor = _executor(settings, args.chdb)
    try:
        actions = apply_retention(
            executor,
            Databases.from_settings(settings),
            policy,
            dry_run=args.dry_run,
            layout=layout,
        )
    finally:
        executor.close()
    print(
        f"retention: camera {policy.camera} d (legal maximum 30), events {policy.event} d, "
        f"incidents {policy.incident} d, rollups {policy.rollup} d"
        + (" - dry run, nothing changed" if args.dry_run else "")
    )
    for action in actions:
        print(f"  {action.line()}")
    expired = [a for a in actions if a.what in ("drop partition", "delete rows")]
    if not expired:
        print("  nothing has expired")
    else:
        rows = sum(a.rows for a in expired)
        verb = "would remove" if args.dry_run else "removed"
        print(f"  {verb} {rows} rows in {len(expired)} step(s)")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``vigie db migrate|status|retention``."""
    db = subparsers.add_parser("db", help="analytics schema: migrate, status, retention")
    commands = db.add_subparsers(dest="db_command", metavar="SUBCOMMAND", required=True)

    def chdb_option(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--chdb",
            type=Path,
            metavar="DIR",
            help="work on a chdb data folder (in-process ClickHouse) instead of the server",
        )

    migrate_cmd = commands.add_parser(
        "migrate", help="apply pending migrations, TTLs and users (idempotent)"
    )
    chdb_option(migrate_cmd)
    migrate_cmd.set_defaults(func=_migrate)

    status_cmd = commands.add_parser("status", help="engine, migrations, tables, retention, users")
    chdb_option(status_cmd)
    status_cmd.set_defaults(func=_status)

    retention_cmd = commands.add_parser(
        "retention", help="drop data past its retention (camera-derived: 30 days at most)"
    )
    retention_cmd.add_argument(
        "--dry-run", action="store_true", help="report what would be dropped, change nothing"
    )
    chdb_option(retention_cmd)
    retention_cmd.set_defaults(func=_retention)
