"""``vigie sql "<query>"``: ask the analytics database a question, as the analyst.

Runs against the configured server as the read-only analyst user by default (``--as`` picks
the writer or the administrator), with the main database as the current one, so the
cookbook's queries run as written. ``--chdb DIR`` runs on a chdb data folder instead.
``--cookbook N`` runs question N (or its name) of ``schemas/clickhouse/queries``. Output is
an aligned table, CSV or JSON. Bad SQL and a missing server give one clear line, no trace.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from vigie.config import load_settings
from vigie.errors import VigieError
from vigie.store.cookbook import load_cookbook, queries_dir
from vigie.store.engine import ChdbExecutor, Executor, QueryResult, connect
from vigie.store.schema import Databases


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value


def render(result: QueryResult, fmt: str) -> str:
    """The result as ``table``, ``csv`` or ``json`` text."""
    if fmt == "json":
        rows = [
            {c: _json_value(v) for c, v in zip(result.columns, row, strict=True)}
            for row in result.rows
        ]
        return json.dumps(rows, ensure_ascii=False, indent=2)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([[_text(v) for v in row] for row in result.rows])
        return out.getvalue().rstrip("\n")
    cells = [[_text(v) for v in row] for row in result.rows]
    widths = [
        max([len(name)] + [len(row[i]) for row in cells]) for i, name in enumerate(result.columns)
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    out_lines = [line(result.columns), line(["-" * w for w in widths])]
    out_lines += [line(row) for row in cells]
    out_lines.append(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})")
    return "\n".join(out_lines)


def _query_text(args: argparse.Namespace) -> str:
    given = [x for x in (args.query, args.file, args.cookbook) if x is not None]
    if len(given) != 1:
        msg = 'give exactly one of: a query ("SELECT ..."), --file PATH, --cookbook N'
        raise VigieError(msg)
    if args.file is not None:
        try:
            return str(args.file.read_text())
        except OSError as exc:
            msg = f"cannot read {args.file}: {exc.strerror}"
            raise VigieError(msg) from exc
    if args.cookbook is not None:
        for query in load_cookbook(queries_dir(load_settings())):
            if args.cookbook in (str(query.number), f"{query.number:02d}", query.name):
                return query.sql
        msg = f"no cookbook question {args.cookbook!r}: see docs/analyst-cookbook.md"
        raise VigieError(msg)
    return str(args.query)


def _sql(args: argparse.Namespace) -> int:
    settings = load_settings()
    text = _query_text(args).strip().rstrip(";")
    if not text:
        msg = "the query is empty"
        raise VigieError(msg)
    databases = Databases.from_settings(settings)
    executor: Executor
    if args.chdb is not None:
        if not args.chdb.is_dir():
            msg = (
                f"--chdb {args.chdb}: no such folder (a chdb data folder, as made by "
                "`vigie db migrate --chdb DIR`)"
            )
            raise VigieError(msg)
        executor = ChdbExecutor(args.chdb)
        exists = executor.query(
            "SELECT count() FROM system.databases WHERE name = %(db)s", {"db": databases.main}
        ).scalar()
        executor.command(f"USE {databases.main if exists else 'default'}")
    else:
        executor = connect(settings, args.role, database=databases.main)
    try:
        result = executor.query(text)
    finally:
        executor.close()
    print(render(result, args.format))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``vigie sql``."""
    sql = subparsers.add_parser(
        "sql", help="run a query on the analytics database (read-only analyst by default)"
    )
    sql.add_argument(
        "query", nargs="?", help='the SQL, e.g. "SELECT count() FROM incidents_latest"'
    )
    sql.add_argument("--file", type=Path, help="read the SQL from a file")
    sql.add_argument("--cookbook", metavar="N", help="run cookbook question N (number or name)")
    sql.add_argument("--format", choices=("table", "csv", "json"), default="table")
    sql.add_argument(
        "--as",
        dest="role",
        choices=("analyst", "writer", "admin"),
        default="analyst",
        help="which ClickHouse user to run as (default: the read-only analyst)",
    )
    sql.add_argument(
        "--chdb", type=Path, metavar="DIR", help="query a chdb data folder instead of the server"
    )
    sql.set_defaults(func=_sql)
