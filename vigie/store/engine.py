"""One small interface over the two ClickHouse engines Vigie runs on.

The project meets ClickHouse twice: a real server over the native protocol (Debian's 18.16
locally and in CI, a current release in production) and ``chdb``, a current ClickHouse
in-process, that the tests use to prove the schema and the analyst queries on a current
engine without a second server. Migrations, the store, the cookbook and ``vigie sql`` talk
to an :class:`Executor` and never care which one it is.

Values never go into SQL text by hand: queries take ``%(name)s`` parameters, escaped by
clickhouse-driver (on the server, by the driver itself; for chdb, by the same driver
function). Only identifiers that the code owns, or that config supplied and
:func:`identifier` validated, are formatted into statements.

Errors become :class:`StoreError` (a :class:`~vigie.errors.VigieError`) with a message that
says what to do: an unreachable server is retried with exponential backoff first, since
every write of the store is idempotent and so safe to repeat.
"""

from __future__ import annotations

import atexit
import json
import logging
import random
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal, Protocol, TypeVar
from zoneinfo import ZoneInfo

from vigie.config import Settings
from vigie.errors import VigieError

_T = TypeVar("_T")

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?")
_CODE = re.compile(r"Code:\s*(\d+)")

#: clickhouse-driver's escaping needs a server timezone only for datetimes; ours is UTC.
_UTC_CONTEXT = SimpleNamespace(server_info=SimpleNamespace(get_timezone=lambda: "UTC"))

# clickhouse-driver logs every failed connection attempt with a traceback; the executor
# retries and then reports the failure itself, in one line.
logging.getLogger("clickhouse_driver.connection").setLevel(logging.ERROR)

#: Server error codes that mean "this user may not log in" (18.16 and current releases).
_AUTH_CODES = {192, 193, 194, 516}
UNKNOWN_DATABASE = 81


class StoreError(VigieError):
    """Something the ClickHouse store could not do; the message says what to try."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class ServerUnreachable(StoreError):
    """No ClickHouse server answered, even after retries."""


class QueryRejected(StoreError):
    """The server (or chdb) refused a statement: bad SQL, a missing table, no permission."""


def identifier(value: str, what: str) -> str:
    """Return ``value`` if it is a plain SQL identifier, else raise a :class:`StoreError`.

    Database and user names come from configuration and end up in DDL, where parameters
    cannot go, so they must be checked before they are formatted in.
    """
    if not _IDENTIFIER.match(value):
        msg = (
            f"{what}={value!r} is not a plain identifier: use letters, digits and underscores, "
            "starting with a letter or underscore"
        )
        raise StoreError(msg)
    return value


def substitute(sql: str, params: Mapping[str, Any] | None) -> str:
    """``%(name)s`` placeholders replaced by clickhouse-driver's escaped literals."""
    if not params:
        return sql
    from clickhouse_driver.util.escape import escape_params

    return sql % escape_params(dict(params), _UTC_CONTEXT)


@dataclass(frozen=True, slots=True, order=True)
class ServerVersion:
    """A ClickHouse release number, comparable as a tuple."""

    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> ServerVersion:
        """Read ``18.16.1`` or ``26.9.2.1``; refuse anything else."""
        match = _VERSION.match(text.strip())
        if match is None:
            msg = f"cannot read a ClickHouse version from {text!r}"
            raise StoreError(msg)
        return cls(int(match[1]), int(match[2]), int(match[3] or 0))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the schema may use on a given release (thresholds chosen conservatively)."""

    version: ServerVersion
    low_cardinality: bool
    datetime64: bool
    ttl: bool
    rbac: bool

    @classmethod
    def of(cls, version: ServerVersion) -> Capabilities:
        """Capabilities of ``version``: 18.16 has none of these, current releases all."""
        at_least = version.__ge__
        return cls(
            version=version,
            low_cardinality=at_least(ServerVersion(19, 9)),  # experimental before 19.x
            datetime64=at_least(ServerVersion(20, 1)),
            ttl=at_least(ServerVersion(19, 6)),
            rbac=at_least(ServerVersion(20, 5)),  # CREATE USER/ROLE, GRANT
        )

    @property
    def flavour(self) -> Literal["current", "legacy"]:
        """``current`` when every feature is there, ``legacy`` for 18.16-era servers."""
        if self.low_cardinality and self.datetime64 and self.ttl and self.rbac:
            return "current"
        return "legacy"


@dataclass(frozen=True, slots=True)
class QueryResult:
    """Rows of one query with their column names and ClickHouse types."""

    columns: tuple[str, ...]
    types: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def dicts(self) -> list[dict[str, Any]]:
        """The rows as dictionaries keyed by column name."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def scalar(self) -> Any:
        """The first column of the first row (``None`` when there is no row)."""
        return self.rows[0][0] if self.rows else None


class Executor(Protocol):
    """What migrations, the store and the CLI need from an engine."""

    #: ``server`` (native protocol) or ``chdb`` (in-process).
    kind: str

    def describe(self) -> str:
        """Where the statements go, for messages: ``ClickHouse 18.16.1 at host:port``."""
        ...

    def version(self) -> ServerVersion:
        """The engine's release."""
        ...

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> QueryResult:
        """Run a statement that returns rows."""
        ...

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a statement for its effect (DDL, ALTER, ...)."""
        ...

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
        """Insert rows (times as integer seconds for DateTime, milliseconds for DateTime64)."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    line = re.sub(r"^Code:\s*\d+\.\s*", "", line)
    line = line.replace("DB::Exception: ", "")
    return re.sub(r"\s*Stack trace.*$", "", line).strip().rstrip(".")


class NativeExecutor:
    """A real ClickHouse server over the native protocol (clickhouse-driver).

    Connection failures are retried with exponential backoff and jitter; after the last try
    a :class:`ServerUnreachable` says how to start the local stack. Server-side errors are
    not retried: they become :class:`QueryRejected` with the server's first line.
    """

    kind = "server"

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        password: str,
        database: str = "default",
        *,
        attempts: int = 5,
        backoff_s: float = 0.2,
        max_backoff_s: float = 3.0,
        connect_timeout_s: float = 3.0,
        sleep: Callable[[float], None] = time.sleep,
        query_settings: Mapping[str, Any] | None = None,
    ) -> None:
        from clickhouse_driver import Client

        self.host, self.port, self.user, self.database = host, port, user, database
        self._attempts = max(1, attempts)
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._sleep = sleep
        self._client = Client(
            host=host,
            port=port,
            user=user,
            password=password,
            database=database,
            connect_timeout=connect_timeout_s,
            send_receive_timeout=300,
            settings={"strings_as_bytes": False, **(query_settings or {})},
        )
        self._version: ServerVersion | None = None

    def describe(self) -> str:
        """``ClickHouse <version> at host:port as user``."""
        version = str(self._version) if self._version else "server"
        return f"ClickHouse {version} at {self.host}:{self.port} as {self.user}"

    def _run(self, what: Callable[[], _T]) -> _T:
        from clickhouse_driver import errors

        last: Exception | None = None
        for attempt in range(self._attempts):
            try:
                return what()
            except errors.ServerException as exc:
                raise self._rejected(exc) from exc
            except (
                errors.NetworkError,
                errors.SocketTimeoutError,
                errors.UnexpectedPacketFromServerError,
                EOFError,
                OSError,
            ) as exc:
                last = exc
                self._client.disconnect()
                if attempt + 1 < self._attempts:
                    delay = min(self._max_backoff_s, self._backoff_s * 2**attempt)
                    self._sleep(delay * (0.5 + random.random() / 2))
        msg = (
            f"cannot reach ClickHouse at {self.host}:{self.port} after {self._attempts} "
            f"attempts ({_first_line(str(last))}): is `vigie stack up` running? "
            "`vigie stack status` shows it; for another server set VIGIE_CLICKHOUSE_HOST "
            "and VIGIE_CLICKHOUSE_PORT"
        )
        raise ServerUnreachable(msg)

    def _rejected(self, exc: Any) -> StoreError:
        code = int(exc.code) if exc.code is not None else None
        text = _first_line(str(exc.message))
        if code in _AUTH_CODES:
            msg = (
                f"ClickHouse at {self.host}:{self.port} refused user {self.user!r}: {text}. "
                "Locally `vigie stack up` writes the users; on a current server `vigie db "
                "migrate` creates them; check the VIGIE_CLICKHOUSE_*_PASSWORD settings"
            )
            return StoreError(msg, code)
        if code == UNKNOWN_DATABASE:
            msg = f"{text}: create the schema with `vigie db migrate`"
            return QueryRejected(msg, code)
        return QueryRejected(f"ClickHouse rejected the statement: {text} (code {code})", code)

    def version(self) -> ServerVersion:
        """The server's release, asked once."""
        if self._version is None:
            text = self.query("SELECT version()").scalar()
            self._version = ServerVersion.parse(str(text))
        return self._version

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> QueryResult:
        """Rows and column types of a SELECT (or SHOW, DESCRIBE, ...)."""

        def run() -> Any:
            return self._client.execute(
                sql, dict(params) if params else None, with_column_types=True
            )

        rows, meta = self._run(run)
        return QueryResult(
            columns=tuple(name for name, _ in meta),
            types=tuple(kind for _, kind in meta),
            rows=[tuple(row) for row in rows],
        )

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """A statement run for its effect."""
        self._run(lambda: self._client.execute(sql, dict(params) if params else None))

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
        """One INSERT of all ``rows`` (a single block: atomic per partition)."""
        if not rows:
            return 0
        statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES"
        self._run(lambda: self._client.execute(statement, list(rows)))
        return len(rows)

    def close(self) -> None:
        """Close the socket."""
        self._client.disconnect()


#: chdb holds one data folder per process: the session is shared by every ChdbExecutor.
_CHDB: dict[str, Any] = {}


def _chdb_session(path: Path | None) -> tuple[Any, str]:
    from chdb import session as chdb_session

    wanted = str(path.resolve()) if path is not None else None
    if "session" in _CHDB:
        current = _CHDB["path"]
        if wanted is not None and wanted != current:
            msg = (
                f"chdb already uses the data folder {current} in this process and can hold "
                f"only one; cannot open {wanted} as well"
            )
            raise StoreError(msg)
        return _CHDB["session"], current
    if wanted is None:  # a private scratch folder, removed when the process ends
        wanted = tempfile.mkdtemp(prefix="vigie-chdb-")
        atexit.register(shutil.rmtree, wanted, ignore_errors=True)
    Path(wanted).mkdir(parents=True, exist_ok=True)
    _CHDB["session"], _CHDB["path"] = chdb_session.Session(wanted), wanted
    return _CHDB["session"], wanted


_WRAPPER = re.compile(r"^(?:Nullable|LowCardinality)\((.*)\)$")
_ZONE_ARG = re.compile(r"'([^']+)'\)$")


def _decode(value: Any, kind: str, zone: str) -> Any:
    """A JSONCompact value as the Python type clickhouse-driver would have returned."""
    while match := _WRAPPER.match(kind):
        kind = match[1]
    if value is None:
        return None
    if kind.startswith("Array("):
        return [_decode(item, kind[6:-1], zone) for item in value]
    if kind.startswith("DateTime"):
        found = _ZONE_ARG.search(kind)
        moment = datetime.fromisoformat(str(value))
        return moment.replace(tzinfo=ZoneInfo(found[1] if found else zone))
    if kind in ("Date", "Date32"):
        return date.fromisoformat(str(value))
    if kind.startswith(("Int", "UInt")):
        return int(value)
    if kind.startswith("Float"):
        return float(value)
    return value


def _chdb_text_time(value: int, clickhouse_type: str) -> str:
    if "DateTime64" in clickhouse_type:
        moment = datetime.fromtimestamp(value / 1000, UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{value % 1000:03d}"
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")


class ChdbExecutor:
    """A current ClickHouse in-process (chdb), on a data folder (a scratch one by default).

    Used by the tests to run the same migrations and cookbook on a current engine, and by
    ``vigie sql --chdb DIR``. Parameters are escaped with clickhouse-driver's own function.
    """

    kind = "chdb"

    def __init__(self, path: Path | None = None) -> None:
        self._session, self.path = _chdb_session(path)
        self._types: dict[str, dict[str, str]] = {}
        self._version: ServerVersion | None = None
        self._timezone: str | None = None
        # 64-bit integers as JSON numbers, like the native driver returns them.
        self._run("SET output_format_json_quote_64bit_integers = 0", "TSV")

    def describe(self) -> str:
        """``chdb <version> at <folder>``."""
        return f"chdb (ClickHouse {self.version()}) at {self.path}"

    def _run(self, sql: str, fmt: str) -> Any:
        try:
            return self._session.query(sql, fmt)
        except Exception as exc:  # chdb raises its own ChdbError or RuntimeError
            match = _CODE.search(str(exc))
            code = int(match[1]) if match else None
            text = _first_line(str(exc))
            msg = f"chdb rejected the statement: {text}" + (f" (code {code})" if code else "")
            raise QueryRejected(msg, code) from exc

    def version(self) -> ServerVersion:
        """The embedded engine's release."""
        if self._version is None:
            self._version = ServerVersion.parse(str(self.query("SELECT version()").scalar()))
        return self._version

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> QueryResult:
        """Rows of a query with ClickHouse's own type names, values decoded like the driver's."""
        raw = self._run(substitute(sql, params), "JSONCompact")
        text = raw.bytes() if hasattr(raw, "bytes") else bytes(raw or b"")
        if not text.strip():
            return QueryResult((), (), [])
        answer = json.loads(text)
        columns = tuple(str(m["name"]) for m in answer["meta"])
        types = tuple(str(m["type"]) for m in answer["meta"])
        zone = self._zone()
        rows = [
            tuple(_decode(value, kind, zone) for value, kind in zip(row, types, strict=True))
            for row in answer["data"]
        ]
        return QueryResult(columns, types, rows)

    def _zone(self) -> str:
        if self._timezone is None:
            raw = self._run("SELECT timezone()", "TSV")
            text = raw.bytes() if hasattr(raw, "bytes") else bytes(raw or b"")
            self._timezone = text.decode().strip() or "UTC"
        return self._timezone

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """A statement run for its effect."""
        self._run(substitute(sql, params), "TSV")

    def _column_types(self, table: str) -> dict[str, str]:
        if table not in self._types:
            database, _, name = table.partition(".")
            found = self.query(
                "SELECT name, type FROM system.columns WHERE database = %(db)s AND table = %(t)s",
                {"db": database, "t": name},
            )
            self._types[table] = {str(row[0]): str(row[1]) for row in found.rows}
        return self._types[table]

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
        """Insert through ``FORMAT JSONEachRow``; integer times are written as text."""
        if not rows:
            return 0
        types = self._column_types(table)
        time_columns = {c for c in columns if "DateTime" in types.get(c, "")}
        lines: list[str] = []
        for row in rows:
            record: dict[str, Any] = {}
            for name, value in zip(columns, row, strict=True):
                if name in time_columns and isinstance(value, int):
                    value = _chdb_text_time(value, types[name])
                record[name] = value
            lines.append(json.dumps(record, ensure_ascii=False))
        statement = f"INSERT INTO {table} ({', '.join(columns)}) FORMAT JSONEachRow\n"
        self._run(statement + "\n".join(lines), "TSV")
        return len(rows)

    def close(self) -> None:
        """Keep the process-wide session open: chdb cannot reopen another folder anyway."""


Role = Literal["admin", "writer", "analyst"]


def credentials(settings: Settings, role: Role) -> tuple[str, str]:
    """User name and password of one of the three users Vigie knows."""
    if role == "admin":
        return settings.clickhouse_user, settings.clickhouse_password.get_secret_value()
    if role == "writer":
        user = identifier(settings.clickhouse_writer_user, "VIGIE_CLICKHOUSE_WRITER_USER")
        return user, settings.clickhouse_role_password("writer")
    user = identifier(settings.clickhouse_analyst_user, "VIGIE_CLICKHOUSE_ANALYST_USER")
    return user, settings.clickhouse_role_password("analyst")


def connect(
    settings: Settings,
    role: Role = "admin",
    *,
    database: str | None = None,
    attempts: int = 5,
    sleep: Callable[[float], None] = time.sleep,
) -> NativeExecutor:
    """A native connection to the configured server as one of Vigie's users.

    The writer and analyst start in Vigie's main database (on 18.16 they may not even open
    ``default``); the administrator starts in ``default``, since it creates the databases.

    In cluster mode (``VIGIE_CLICKHOUSE_CLUSTER``) the administrator's and the writer's
    inserts into Distributed tables are synchronous (``insert_distributed_sync``): an
    INSERT returns once every shard's replicated table has the rows, not when they are
    queued on the node that took them. The sink commits Kafka offsets after an insert, so
    a node lost with its queue cannot take rows the sink has already committed past; and a
    read after a write sees it. The analyst only reads (and, read-only on 18.16, may not
    change a setting at all).
    """
    user, password = credentials(settings, role)
    if database is None:
        main = identifier(settings.clickhouse_database, "VIGIE_CLICKHOUSE_DATABASE")
        database = "default" if role == "admin" else main
    query_settings = (
        {"insert_distributed_sync": 1} if settings.clickhouse_cluster and role != "analyst" else {}
    )
    return NativeExecutor(
        settings.clickhouse_address,
        settings.clickhouse_port,
        user,
        password,
        database,
        attempts=attempts,
        sleep=sleep,
        query_settings=query_settings,
    )
