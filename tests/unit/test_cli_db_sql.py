"""``vigie db`` and ``vigie sql`` on a chdb folder, and their errors (no traceback, exit 2)."""

from __future__ import annotations

import json
import socket

import pytest
from store_helpers import chdb_engine_fixture  # noqa: F401  (fixture)

from vigie.cli.main import main
from vigie.config import load_settings
from vigie.store.engine import ChdbExecutor, NativeExecutor, ServerUnreachable
from vigie.store.schema import Databases, drop_databases

pytestmark = pytest.mark.unit


@pytest.fixture(name="cli_env")
def cli_env_fixture(monkeypatch: pytest.MonkeyPatch, chdb_engine: ChdbExecutor) -> Databases:
    monkeypatch.setenv("VIGIE_CLICKHOUSE_DATABASE", "vigie_cli")
    monkeypatch.setenv("VIGIE_CLICKHOUSE_PRIVATE_DATABASE", "vigie_cli_private")
    load_settings.cache_clear()
    dbs = Databases("vigie_cli", "vigie_cli_private")
    yield dbs  # type: ignore[misc]
    drop_databases(chdb_engine, dbs)
    load_settings.cache_clear()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_migrate_status_sql_and_retention_on_chdb(
    cli_env: Databases, chdb_engine: ChdbExecutor, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = chdb_engine.path
    assert main(["db", "migrate", "--chdb", folder]) == 0
    out = capsys.readouterr().out
    assert "applied   0001_events" in out and "set TTL" in out
    assert main(["db", "migrate", "--chdb", folder]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert main(["db", "status", "--chdb", folder]) == 0
    assert "vigie_cli + vigie_cli_private: recognised" in capsys.readouterr().out
    assert main(["db", "retention", "--dry-run", "--chdb", folder]) == 0
    assert "nothing has expired" in capsys.readouterr().out

    query = (
        "SELECT name FROM system.tables WHERE database = currentDatabase()"
        " AND name LIKE 'incident%' ORDER BY name"
    )
    assert main(["sql", "--chdb", folder, "--format", "json", query]) == 0
    names = [row["name"] for row in json.loads(capsys.readouterr().out)]
    assert names[:3] == ["incident_acks", "incident_evidence", "incident_links"]
    assert main(["sql", "--chdb", folder, "--format", "csv", "SELECT 1 AS a, 'x,y' AS b"]) == 0
    assert capsys.readouterr().out == 'a,b\n1,"x,y"\n'
    assert main(["sql", "--chdb", folder, "--cookbook", "10"]) == 0
    assert "(0 rows)" in capsys.readouterr().out  # empty tables: a valid, empty answer


def test_bad_sql_is_one_clear_line(
    cli_env: Databases, chdb_engine: ChdbExecutor, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = chdb_engine.path
    assert main(["sql", "--chdb", folder, "SELEC 1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vigie: error: chdb rejected the statement: Syntax error")
    assert "Traceback" not in err
    assert main(["sql", "--chdb", folder, "SELECT * FROM no_such_table"]) == 2
    assert "no_such_table" in capsys.readouterr().err
    assert main(["sql", "--chdb", folder, "--cookbook", "99"]) == 2
    assert "no cookbook question" in capsys.readouterr().err


def test_missing_server_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VIGIE_CLICKHOUSE_PORT", str(_free_port()))
    load_settings.cache_clear()
    try:
        assert main(["sql", "SELECT 1"]) == 2
    finally:
        load_settings.cache_clear()
    err = capsys.readouterr().err
    assert "is `vigie stack up` running?" in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_unreachable_server_is_retried_with_backoff() -> None:
    waits: list[float] = []
    executor = NativeExecutor(
        "127.0.0.1", _free_port(), "default", "", attempts=4, sleep=waits.append
    )
    with pytest.raises(ServerUnreachable, match="after 4 attempts"):
        executor.query("SELECT 1")
    assert len(waits) == 3
    assert waits[0] < waits[2]  # exponential, with jitter of at most half
