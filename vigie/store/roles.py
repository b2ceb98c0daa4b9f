"""The writer and analyst users, from one definition rendered for both kinds of server.

Two users besides the administrator who runs migrations:

* **writer** (the sink, the command center's acks): reads and inserts into Vigie's two
  databases; no DDL, no ALTER, no DROP.
* **analyst**: reads the main database only; cannot write, and cannot read personal fields,
  because those live in the private database it has no access to.

Why a private database rather than hidden columns: on 18.16 (local and CI) access control is
per database (``allow_databases`` in ``users.xml``) and a view is checked against the
databases it reads, so a view cannot hide a column from a user who may not read the table.
Keeping personal fields in their own database gives the same guarantee on both engines.

18.16 has no SQL users (``CREATE USER`` came in 20.x): there the users are in ``users.xml``,
which :func:`render_users_xml` writes for ``vigie stack up``. Current servers get the same
users and grants through SQL (:func:`rbac_statements`), run by ``vigie db migrate``; in
cluster mode ``ON CLUSTER``, so that every node knows them, with the passwords' SHA-256
rather than the passwords, since ON CLUSTER statements wait in ZooKeeper's DDL queue.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from xml.sax.saxutils import escape

from vigie.config import Settings
from vigie.store.cluster import ClusterLayout
from vigie.store.engine import Capabilities, Executor, credentials, identifier
from vigie.store.schema import Databases


@dataclass(frozen=True, slots=True)
class UserSpec:
    """One user: what it may do, independent of how a server expresses it."""

    role: str  # "writer" or "analyst"
    name: str
    password: str
    databases: tuple[str, ...]
    insert: bool

    @property
    def role_name(self) -> str:
        """The SQL role that carries the grants on current servers."""
        return f"{self.name}_role"


def user_specs(settings: Settings) -> tuple[UserSpec, UserSpec]:
    """Writer and analyst, from config (names validated, passwords from settings)."""
    dbs = Databases.from_settings(settings)
    writer_name, writer_password = credentials(settings, "writer")
    analyst_name, analyst_password = credentials(settings, "analyst")
    return (
        UserSpec("writer", writer_name, writer_password, (dbs.main, dbs.private), insert=True),
        UserSpec("analyst", analyst_name, analyst_password, (dbs.main,), insert=False),
    )


def _sha256(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def render_users_xml(settings: Settings) -> str:
    """The whole ``users.xml`` for an 18.16 server: administrator, writer and analyst.

    The administrator keeps ``VIGIE_CLICKHOUSE_USER``/``_PASSWORD`` (migrations run as it).
    The writer's profile forbids DDL (``allow_ddl=0``); the analyst's is ``readonly=1``
    (no INSERT, no SET, no table functions). ``allow_databases`` limits each to its
    databases. Passwords are stored as SHA-256, never in clear.
    """
    admin = identifier(settings.clickhouse_user, "VIGIE_CLICKHOUSE_USER")
    admin_password = settings.clickhouse_password.get_secret_value()
    writer, analyst = user_specs(settings)
    networks = "<networks><ip>127.0.0.1</ip><ip>::1</ip></networks>"
    if settings.host not in ("127.0.0.1", "localhost", "::1"):
        networks = (
            f"<networks><ip>127.0.0.1</ip><ip>::1</ip><ip>{escape(settings.host)}</ip></networks>"
        )

    def user_xml(spec: UserSpec) -> str:
        allowed = "".join(f"<database>{db}</database>" for db in spec.databases)
        return (
            f"    <{spec.name}>\n"
            f"      <password_sha256_hex>{_sha256(spec.password)}</password_sha256_hex>\n"
            f"      {networks}\n"
            f"      <profile>{spec.name}</profile>\n"
            "      <quota>default</quota>\n"
            f"      <allow_databases>{allowed}</allow_databases>\n"
            f"    </{spec.name}>\n"
        )

    admin_secret = (
        f"<password_sha256_hex>{_sha256(admin_password)}</password_sha256_hex>"
        if admin_password
        else "<password></password>"
    )
    return f"""<?xml version="1.0"?>
<!-- Written by `vigie stack up` from vigie.store.roles.render_users_xml; change the
     VIGIE_CLICKHOUSE_* settings, not this file. -->
<yandex>
  <profiles>
    <default>
      <max_memory_usage>4000000000</max_memory_usage>
    </default>
    <readonly>
      <readonly>1</readonly>
    </readonly>
    <{writer.name}>
      <max_memory_usage>4000000000</max_memory_usage>
      <readonly>0</readonly>
      <allow_ddl>0</allow_ddl>
    </{writer.name}>
    <{analyst.name}>
      <max_memory_usage>4000000000</max_memory_usage>
      <readonly>1</readonly>
      <max_execution_time>300</max_execution_time>
    </{analyst.name}>
  </profiles>
  <users>
    <{admin}>
      {admin_secret}
      {networks}
      <profile>default</profile>
      <quota>default</quota>
    </{admin}>
{user_xml(writer)}{user_xml(analyst)}  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries>
        <errors>0</errors>
        <result_rows>0</result_rows>
        <read_rows>0</read_rows>
        <execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
"""


@dataclass(frozen=True, slots=True)
class Statement:
    """One SQL statement with its parameters (passwords never go into the text)."""

    sql: str
    params: dict[str, str] | None = None


def rbac_statements(settings: Settings, layout: ClusterLayout | None = None) -> list[Statement]:
    """CREATE ROLE/USER and GRANTs giving current servers the same two users.

    Re-running is harmless: ``IF NOT EXISTS`` creates, ``ALTER USER`` re-sets the password
    from config, grants are idempotent, and the analyst's role is first stripped of any
    grant, so a grant added by hand does not survive a migrate. With a cluster ``layout``
    every statement runs on every node.
    """
    on = "" if layout is None else layout.on_cluster  # after a name: "... role ON CLUSTER c"
    grant = "GRANT" if layout is None else f"GRANT{layout.on_cluster}"
    revoke = "REVOKE" if layout is None else f"REVOKE{layout.on_cluster}"
    out: list[Statement] = []
    for spec in user_specs(settings):
        role = spec.role_name
        out.append(Statement(f"CREATE ROLE IF NOT EXISTS {role}{on}"))
        out.append(Statement(f"{revoke} ALL ON *.* FROM {role}"))
        privileges = "SELECT, INSERT" if spec.insert else "SELECT"
        out += [Statement(f"{grant} {privileges} ON {db}.* TO {role}") for db in spec.databases]
        if layout is None:
            identified = "IDENTIFIED WITH sha256_password BY %(password)s"
            password: dict[str, str] | None = {"password": spec.password}
        else:
            identified = f"IDENTIFIED WITH sha256_hash BY '{_sha256(spec.password)}'"
            password = None
        out.append(Statement(f"CREATE USER IF NOT EXISTS {spec.name}{on} {identified}", password))
        out.append(Statement(f"ALTER USER {spec.name}{on} {identified}", password))
        out.append(Statement(f"{grant} {role} TO {spec.name}"))
        if layout is None:
            out.append(Statement(f"SET DEFAULT ROLE {role} TO {spec.name}"))
        else:  # SET DEFAULT ROLE has no ON CLUSTER
            out.append(Statement(f"ALTER USER {spec.name}{on} DEFAULT ROLE {role}"))
    return out


def apply_roles(
    executor: Executor,
    settings: Settings,
    capabilities: Capabilities,
    layout: ClusterLayout | None = None,
) -> list[str]:
    """Create or refresh the users where SQL access control exists; say what happened."""
    writer, analyst = user_specs(settings)
    if not capabilities.rbac:
        where = "users.xml (written by `vigie stack up`)"
        if layout is not None:
            where = "every node's users.xml"
        return [
            f"users: ClickHouse {capabilities.version} has no SQL users; {writer.name} and "
            f"{analyst.name} come from {where}"
        ]
    if executor.kind == "chdb":
        return ["users: chdb runs in-process without users; nothing to create"]
    for statement in rbac_statements(settings, layout):
        executor.command(statement.sql, statement.params)
    where = "" if layout is None else f" on every node of {layout.cluster}"
    return [
        f"users: {writer.name} (SELECT, INSERT on {', '.join(writer.databases)}) and "
        f"{analyst.name} (SELECT on {', '.join(analyst.databases)}) are up to date{where}"
    ]
