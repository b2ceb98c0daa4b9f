"""The analyst cookbook's queries: ``schemas/clickhouse/queries/NN_name.sql``.

Each file is one question, with a ``-- title:``, a ``-- question:`` and a ``-- reads:``
header, then one SELECT over unqualified names, so an analyst can paste it in
``clickhouse-client --database vigie`` or run ``vigie sql --file``. The same files feed
``docs/analyst-cookbook.md`` and the tests, which run every query on both engines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from vigie.config import Settings
from vigie.store.engine import StoreError

_FILE = re.compile(r"^(\d{2})_([a-z0-9_]+)\.sql$")
_HEADER = re.compile(r"^--\s*(title|question|reads):\s*(.+)$")


@dataclass(frozen=True, slots=True)
class CookbookQuery:
    """One analyst question and its SQL."""

    number: int
    name: str
    title: str
    question: str
    reads: str
    sql: str
    path: Path


def queries_dir(settings: Settings) -> Path:
    """``schemas/clickhouse/queries`` of the configured schemas folder."""
    return settings.schemas_dir / "clickhouse" / "queries"


def load_cookbook(directory: Path) -> list[CookbookQuery]:
    """Every query file, in number order; a file without its header is an error."""
    out: list[CookbookQuery] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if match is None:
            msg = f"{path}: cookbook files are named NN_lower_case_name.sql"
            raise StoreError(msg)
        header: dict[str, str] = {}
        body: list[str] = []
        for line in path.read_text().splitlines():
            found = _HEADER.match(line.strip())
            if found and not body:
                header[found[1]] = found[2].strip()
            elif line.strip() and not line.lstrip().startswith("--"):
                body.append(line)
        missing = {"title", "question", "reads"} - header.keys()
        if missing:
            msg = f"{path}: missing header line(s) {', '.join(sorted(missing))}"
            raise StoreError(msg)
        sql = "\n".join(body).strip().rstrip(";")
        out.append(
            CookbookQuery(
                int(match[1]),
                match[2],
                header["title"],
                header["question"],
                header["reads"],
                sql,
                path,
            )
        )
    return out
