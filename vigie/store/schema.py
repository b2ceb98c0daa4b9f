"""Migrations: the numbered ``schemas/clickhouse/NNNN_name.sql`` files, applied in order.

One source of truth renders to both engines. A migration is a template with four
placeholders: ``{{db}}`` and ``{{private_db}}`` (validated identifiers from config),
``{{ts}}`` (``DateTime64(3, 'UTC')`` where the server has it, else ``DateTime('UTC')``) and
``{{lc}}`` (``LowCardinality(String)`` where supported, else ``String``). Everything else in
the files is SQL both 18.16 and current releases understand; TTLs are policy, not schema,
and are set from the retention config by :mod:`vigie.store.retention`.

With ``VIGIE_CLICKHOUSE_CLUSTER`` set, the same templates are laid out over a ClickHouse
cluster (:mod:`vigie.store.cluster`): replicated local tables ``ON CLUSTER`` behind
Distributed tables of the plain names, guided by ``-- cluster:`` annotation lines that
single-server mode skips like any comment.

Each applied file is recorded in ``<db>.schema_migrations`` with the SHA-256 of its
template (on one server without its cluster annotations, so that adding them changed no
recorded checksum; on a cluster with them, since there they decide the layout).
:func:`migrate` is idempotent (statements use ``IF NOT EXISTS``, applied files are
skipped) and refuses, before touching anything, a database it does not recognise: a changed
or missing applied file, a migration recorded that this checkout lacks, a table that no
migration creates, or a database migrated in the other mode (one server, cluster).
ClickHouse has no transactional DDL, so a file is recorded only after all its statements
ran; a crash midway is resumed by the next run.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from vigie.config import Settings
from vigie.store.cluster import ClusterLayout, Placement
from vigie.store.engine import Capabilities, Executor, StoreError, identifier

MIGRATIONS_TABLE = "schema_migrations"
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_ANNOTATION = re.compile(r"^\s*--\s*cluster:(.*)$")
_CREATES = re.compile(
    r"^\s*CREATE\s+(?:TABLE|VIEW|MATERIALIZED\s+VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    r"([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)",
    re.IGNORECASE,
)


class SchemaError(StoreError):
    """The database holds a schema this checkout does not recognise; nothing was changed."""


@dataclass(frozen=True, slots=True)
class Databases:
    """The two databases Vigie owns: analyst-readable data, and personal fields."""

    main: str
    private: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Databases:
        """Validated names from ``VIGIE_CLICKHOUSE_DATABASE`` and ``..._PRIVATE_DATABASE``."""
        main = identifier(settings.clickhouse_database, "VIGIE_CLICKHOUSE_DATABASE")
        private = identifier(
            settings.clickhouse_private_database, "VIGIE_CLICKHOUSE_PRIVATE_DATABASE"
        )
        if main == private:
            msg = "VIGIE_CLICKHOUSE_DATABASE and VIGIE_CLICKHOUSE_PRIVATE_DATABASE must differ"
            raise StoreError(msg)
        return cls(main, private)


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered SQL template."""

    version: int
    name: str
    path: Path
    template: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the template as written, less its ``-- cluster:`` annotation lines.

        This is what a single server runs, and what was recorded before cluster mode
        existed: annotating an applied migration leaves its checksum unchanged.
        """
        lines = self.template.splitlines(keepends=True)
        single = "".join(line for line in lines if not _ANNOTATION.match(line))
        return hashlib.sha256(single.encode()).hexdigest()

    @property
    def cluster_checksum(self) -> str:
        """SHA-256 of the whole template: in cluster mode the annotations shape the tables."""
        return hashlib.sha256(self.template.encode()).hexdigest()

    def checksum_for(self, layout: ClusterLayout | None) -> str:
        """The checksum recorded when applied with ``layout`` (None: one server)."""
        return self.checksum if layout is None else self.cluster_checksum

    def _statements(self, databases: Databases, capabilities: Capabilities) -> list[str]:
        values = {
            "db": databases.main,
            "private_db": databases.private,
            "ts": "DateTime64(3, 'UTC')" if capabilities.datetime64 else "DateTime('UTC')",
            "lc": "LowCardinality(String)" if capabilities.low_cardinality else "String",
        }

        def fill(match: re.Match[str]) -> str:
            key = match[1]
            if key not in values:
                msg = f"{self.path.name}: unknown placeholder {{{{{key}}}}}"
                raise StoreError(msg)
            return values[key]

        lines = [line for line in self.template.splitlines() if not line.lstrip().startswith("--")]
        text = _PLACEHOLDER.sub(fill, "\n".join(lines))
        return [part.strip() for part in text.split(";") if part.strip()]

    def placements(self) -> list[Placement]:
        """Per statement, in file order, what its ``-- cluster:`` annotation says.

        An annotation belongs to the statement that starts after it; one inside a
        statement, after the last one, or two for one statement are refused.
        """
        code: list[str] = []
        found: dict[int, Placement] = {}
        for number, line in enumerate(self.template.splitlines(), 1):
            where = f"{self.path.name}:{number}"
            match = _ANNOTATION.match(line)
            if match is None:
                if not line.lstrip().startswith("--"):
                    code.append(line)
                continue
            parts = "\n".join(code).split(";")
            if parts[-1].strip():
                msg = f"{where}: a cluster annotation goes before a statement, not inside one"
                raise StoreError(msg)
            index = sum(1 for part in parts if part.strip())
            if index in found:
                msg = f"{where}: two cluster annotations for one statement"
                raise StoreError(msg)
            found[index] = Placement.parse(match[1], where)
        total = sum(1 for part in "\n".join(code).split(";") if part.strip())
        if any(index >= total for index in found):
            msg = f"{self.path.name}: a cluster annotation after the last statement"
            raise StoreError(msg)
        return [found.get(index, Placement()) for index in range(total)]

    def render(
        self,
        databases: Databases,
        capabilities: Capabilities,
        layout: ClusterLayout | None = None,
    ) -> list[str]:
        """The statements for one engine, comments removed, in file order.

        With a cluster ``layout`` each statement becomes its cluster counterparts (a
        replicated local table and a Distributed one in front, views ON CLUSTER, ...).
        """
        statements = self._statements(databases, capabilities)
        if layout is None:
            return statements
        names = (databases.main, databases.private)
        out: list[str] = []
        for statement, placement in zip(statements, self.placements(), strict=True):
            try:
                out += layout.render(statement, placement, names)
            except StoreError as exc:
                msg = f"{self.path.name}: {exc}"
                raise StoreError(msg) from exc
        return out

    def creates(
        self,
        databases: Databases,
        capabilities: Capabilities,
        layout: ClusterLayout | None = None,
    ) -> set[tuple[str, str]]:
        """``(database, name)`` of every table and view the migration creates."""
        found: set[tuple[str, str]] = set()
        for statement in self.render(databases, capabilities, layout):
            match = _CREATES.match(statement)
            if match:
                found.add((match[1], match[2]))
        return found


def load_migrations(directory: Path) -> list[Migration]:
    """Every ``NNNN_name.sql`` in ``directory``, in order; numbers must be unique."""
    if not directory.is_dir():
        msg = f"no migrations folder at {directory} (VIGIE_SCHEMAS_DIR points elsewhere?)"
        raise StoreError(msg)
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if match is None:
            msg = f"{path}: migration files are named NNNN_lower_case_name.sql"
            raise StoreError(msg)
        version = int(match[1])
        if version in migrations:
            msg = f"two migrations numbered {version}: {migrations[version].path.name}, {path.name}"
            raise StoreError(msg)
        migrations[version] = Migration(version, match[2], path, path.read_text())
    return [migrations[v] for v in sorted(migrations)]


def migrations_dir(settings: Settings) -> Path:
    """``schemas/clickhouse`` of the configured schemas folder."""
    return settings.schemas_dir / "clickhouse"


@dataclass(frozen=True, slots=True)
class AppliedMigration:
    """A row of ``schema_migrations``."""

    version: int
    name: str
    checksum: str
    applied_at: datetime
    flavour: str


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What :func:`migrate` found and did."""

    engine: str
    flavour: str
    applied: tuple[Migration, ...]
    already: tuple[int, ...]

    def lines(self) -> list[str]:
        """Human summary, one line each."""
        out = [f"schema on {self.engine} ({self.flavour} flavour)"]
        out += [f"  applied   {m.version:04d}_{m.name}" for m in self.applied]
        if self.already:
            out.append(f"  unchanged {len(self.already)} migration(s) already applied")
        if not self.applied:
            out.append("  nothing to do: the schema is up to date")
        return out


#: The bookkeeping table; in cluster mode it is sharded by version like any other table.
_MIGRATIONS_DDL = (
    "CREATE TABLE IF NOT EXISTS {db}.{table} ("
    " version UInt32, name String, checksum String, applied_at DateTime('UTC'),"
    " flavour String, engine String"
    ") ENGINE = MergeTree() ORDER BY version"
)


def _bootstrap_statements(databases: Databases, layout: ClusterLayout | None = None) -> list[str]:
    table = _MIGRATIONS_DDL.format(db=databases.main, table=MIGRATIONS_TABLE)
    if layout is None:
        return [
            f"CREATE DATABASE IF NOT EXISTS {databases.main}",
            f"CREATE DATABASE IF NOT EXISTS {databases.private}",
            table,
        ]
    names = (databases.main, databases.private)
    return [
        layout.create_database(databases.main),
        layout.create_database(databases.private),
        *layout.render(table, Placement(shard_key="version"), names),
    ]


def _bootstrap_objects(databases: Databases, layout: ClusterLayout | None) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for statement in _bootstrap_statements(databases, layout):
        match = _CREATES.match(statement)
        if match:
            found.add((match[1], match[2]))
    return found


def existing_objects(executor: Executor, databases: Databases) -> set[tuple[str, str]]:
    """``(database, name)`` of every table and view now in Vigie's two databases."""
    result = executor.query(
        "SELECT database, name FROM system.tables WHERE database IN (%(main)s, %(private)s)",
        {"main": databases.main, "private": databases.private},
    )
    return {(str(db), str(name)) for db, name in result.rows}


def applied_migrations(executor: Executor, databases: Databases) -> dict[int, AppliedMigration]:
    """Rows of ``schema_migrations`` by version (empty when the table is missing)."""
    if (databases.main, MIGRATIONS_TABLE) not in existing_objects(executor, databases):
        return {}
    result = executor.query(
        f"SELECT version, name, checksum, applied_at, flavour "
        f"FROM {databases.main}.{MIGRATIONS_TABLE} ORDER BY version"
    )
    out: dict[int, AppliedMigration] = {}
    for version, name, checksum, applied_at, flavour in result.rows:
        out[int(version)] = AppliedMigration(int(version), name, checksum, applied_at, flavour)
    return out


def check_recognised(
    executor: Executor,
    databases: Databases,
    migrations: list[Migration],
    capabilities: Capabilities,
    layout: ClusterLayout | None = None,
) -> dict[int, AppliedMigration]:
    """Refuse a database this checkout does not recognise; return what is applied."""
    applied = applied_migrations(executor, databases)
    known = {m.version: m for m in migrations}
    mode = "one server" if layout is None else f"cluster {layout.cluster}"
    for version, row in applied.items():
        migration = known.get(version)
        if migration is None:
            msg = (
                f"{databases.main} has migration {version:04d}_{row.name} applied, which this "
                "checkout does not have: is this Vigie older than the database? Refusing to "
                "change anything"
            )
            raise SchemaError(msg)
        expected = migration.checksum_for(layout)
        other = migration.cluster_checksum if layout is None else migration.checksum
        if expected != row.checksum and other == row.checksum:
            was, now = (
                ("cluster mode", "one server (VIGIE_CLICKHOUSE_CLUSTER is empty)")
                if layout is None
                else ("single-server mode", f"cluster mode ({mode})")
            )
            msg = (
                f"{databases.main} was migrated in {was}, and this run asks for {now}: a "
                "database does not change mode in place; set VIGIE_CLICKHOUSE_CLUSTER as "
                "when it was created, or move the data into a fresh database. Refusing"
            )
            raise SchemaError(msg)
        if expected != row.checksum:
            msg = (
                f"{migration.path.name} changed after it was applied to {databases.main} "
                f"(checksum {row.checksum[:12]} recorded, {expected[:12]} now): "
                "applied migrations are immutable; restore the file and add a new migration"
            )
            raise SchemaError(msg)
    pending = [m.version for m in migrations if m.version not in applied]
    if applied and pending and min(pending) < max(applied):
        msg = (
            f"migration {min(pending):04d} is missing from {databases.main} although "
            f"{max(applied):04d} is applied: migrations must run in order; refusing"
        )
        raise SchemaError(msg)
    known_objects = _bootstrap_objects(databases, layout)
    for migration in migrations:
        known_objects |= migration.creates(databases, capabilities, layout)
    unknown = sorted(existing_objects(executor, databases) - known_objects)
    if unknown:
        names = ", ".join(f"{db}.{name}" for db, name in unknown)
        msg = (
            f"unknown table(s) {names} in Vigie's databases: no migration creates them. "
            "Refusing to migrate a schema it does not recognise; move them elsewhere or add "
            f"a migration that declares them (schema laid out for {mode})"
        )
        raise SchemaError(msg)
    return applied


def migrate(
    executor: Executor,
    databases: Databases,
    migrations: list[Migration],
    *,
    capabilities: Capabilities | None = None,
    layout: ClusterLayout | None = None,
) -> MigrationReport:
    """Apply every pending migration in order on ``executor``; a no-op when up to date.

    With a cluster ``layout`` every statement runs ``ON CLUSTER`` from this one node, and
    each applied file is recorded in this node's shard of the bookkeeping table (its local,
    replicated table, so the row is there synchronously); any node reads them all through
    the Distributed ``schema_migrations``.
    """
    capabilities = capabilities or Capabilities.of(executor.version())
    # Before anything is created: refuse what we do not recognise.
    check_recognised(executor, databases, migrations, capabilities, layout)
    for statement in _bootstrap_statements(databases, layout):
        executor.command(statement)
    applied = check_recognised(executor, databases, migrations, capabilities, layout)
    record = MIGRATIONS_TABLE if layout is None else layout.local_name(MIGRATIONS_TABLE)
    engine = f"{executor.kind} {capabilities.version}"
    if layout is not None:
        engine += f" cluster {layout.cluster}"
    done: list[Migration] = []
    for migration in migrations:
        if migration.version in applied:
            continue
        for statement in migration.render(databases, capabilities, layout):
            executor.command(statement)
        executor.insert(
            f"{databases.main}.{record}",
            ("version", "name", "checksum", "applied_at", "flavour", "engine"),
            [
                (
                    migration.version,
                    migration.name,
                    migration.checksum_for(layout),
                    int(datetime.now(UTC).timestamp()),
                    capabilities.flavour,
                    engine,
                )
            ],
        )
        done.append(migration)
    return MigrationReport(
        engine=executor.describe() + ("" if layout is None else f", cluster {layout.cluster}"),
        flavour=capabilities.flavour,
        applied=tuple(done),
        already=tuple(sorted(applied)),
    )


def drop_databases(
    executor: Executor, databases: Databases, layout: ClusterLayout | None = None
) -> None:
    """Remove both databases (tests and ``vigie db`` never call this on their own)."""
    for name in (databases.main, databases.private):
        if layout is None:
            executor.command(f"DROP DATABASE IF EXISTS {name}")
        else:
            executor.command(layout.drop_database(name))


def table_sizes(executor: Executor, databases: Databases) -> list[dict[str, object]]:
    """Rows, bytes and partitions of every table, for ``vigie db status``."""
    result = executor.query(
        "SELECT database, table, sum(rows) AS rows, sum(bytes_on_disk) AS bytes,"
        " uniqExact(partition) AS partitions"
        " FROM system.parts WHERE active AND database IN (%(main)s, %(private)s)"
        " GROUP BY database, table ORDER BY database, table",
        {"main": databases.main, "private": databases.private},
    )
    return result.dicts()


def render_all(
    migrations: Iterable[Migration],
    databases: Databases,
    capabilities: Capabilities,
    layout: ClusterLayout | None = None,
) -> Mapping[int, list[str]]:
    """Rendered statements of every migration (for docs and tests)."""
    return {m.version: m.render(databases, capabilities, layout) for m in migrations}
