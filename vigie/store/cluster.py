"""Cluster mode: the single-server DDL laid out over a sharded, replicated ClickHouse cluster.

With ``VIGIE_CLICKHOUSE_CLUSTER=<name>`` every migration statement is rendered for the
cluster of that name (as ``remote_servers`` in the servers' config defines it), from the same
templates as one server, by :meth:`ClusterLayout.render`:

* a ``*MergeTree`` table ``db.t`` becomes ``db.t_local``, created ``ON CLUSTER`` as the
  ``Replicated*MergeTree`` of the same family (``ReplacingMergeTree(version)`` →
  ``ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/t', '{replica}', version)``),
  holding each shard's rows, plus ``db.t`` itself as a ``Distributed`` table in front of
  it with the columns of the local one. The sink, the IncidentStore and analysts keep using
  ``db.t``: inserts are spread over the shards by the table's sharding key, reads gather
  every shard. The ``{shard}`` and ``{replica}`` macros come from each server's config.
* a materialised view reads the local table of its source and writes the local table of its
  target (``TO`` is required), on every node: each shard summarises its own rows once, and
  replication copies the summary (a view does not fire on rows a replica fetches).
* a plain view is created on every node over the ``Distributed`` tables, unless the
  migration marks it ``view per shard``: then it is ``db.v_local`` over the local tables,
  with a ``Distributed`` ``db.v`` in front gathering every shard's answer.

A migration says what the layout cannot guess in *annotations*, comment lines placed
before the statement they describe (single-server mode skips them like any comment):

``-- cluster: shard by <expression>``
    the sharding key of a table: which shard a row goes to. Rows ReplacingMergeTree must
    collapse (every version of an incident, every replay of an event) must share a shard,
    since parts only merge within one, so the key is a hash of the table's natural id.
``-- cluster: view per shard``
    the view combines only rows that share a shard by construction (tables sharded by the
    same key, joined or filtered on it), so it can be computed shard by shard; a view
    over tables sharded differently, or aggregating across the key, must not say it.

Vigie's sharding keys (annotated in ``schemas/clickhouse``), and why:

* ``incidents``, ``incident_links``, ``incident_acks``, ``ack_people``:
  ``cityHash64(incident_id)``. ReplacingMergeTree keeps the latest version of an incident
  only when every version is in the same shard (FINAL and merges work shard by shard), so
  all rows of one incident must hash alike; its evidence and acknowledgements follow it, so
  that ``incidents_latest``, ``incident_evidence`` and ``incident_status`` (views per shard)
  find on one shard everything they join.
* ``events``, ``event_personal``: ``cityHash64(event_id)``: a replayed event lands where its
  first copy did and collapses there; an event's personal fields sit beside it.
* ``events_hourly``, ``incidents_hourly``: ``rand()``. Their materialised views write each
  shard's summary straight into the local table; nothing inserts through the Distributed
  one, and ``uniqExact`` states merge across shards when read.
* ``smoke_readings``: ``cityHash64(run_id, reading_id)``, any spread will do (MergeTree).
* ``schema_migrations``: by ``version`` (migrate writes its rows to the local table of the
  node it runs on; every node reads them all through the Distributed table).

Everything is a token-level rewrite of one rendered statement (string literals are single
tokens, parentheses are matched): no regular expression reaches into column lists or
queries. References to other objects are rewritten only where they are qualified with one
of Vigie's two databases, which is how every migration names them.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from vigie.config import Settings
from vigie.store.engine import StoreError, identifier

#: Suffix of the table that holds a shard's rows behind a Distributed table of the plain name.
LOCAL_SUFFIX = "_local"
#: Root of the replicated tables' ZooKeeper paths (``<root>/{shard}/<db>/<table>``).
ZOOKEEPER_ROOT = "/clickhouse/tables"

_TOKEN = re.compile(
    r"""(?P<string>'(?:[^'\\]|\\.)*')
      | (?P<quoted>`(?:[^`\\]|\\.)*`|"(?:[^"\\]|\\.)*")
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<space>\s+)
      | (?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)
_SHARD_BY = re.compile(r"^shard\s+by\s+(\S.*)$", re.IGNORECASE)
_PER_SHARD = re.compile(r"^view\s+per\s+shard$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Placement:
    """What a migration's annotation says about one statement (nothing, by default)."""

    shard_key: str | None = None
    per_shard: bool = False

    @classmethod
    def parse(cls, text: str, where: str) -> Placement:
        """Read the text after ``-- cluster:``; refuse anything else."""
        text = text.strip()
        if match := _SHARD_BY.match(text):
            return cls(shard_key=match[1].strip())
        if _PER_SHARD.match(text):
            return cls(per_shard=True)
        msg = (
            f"{where}: unknown cluster annotation {text!r}: write "
            "'-- cluster: shard by <expression>' or '-- cluster: view per shard'"
        )
        raise StoreError(msg)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str

    def word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words


def _tokens(sql: str) -> list[_Token]:
    out: list[_Token] = []
    for match in _TOKEN.finditer(sql):
        kind = match.lastgroup or "other"
        out.append(_Token(kind, match[0]))
    return out


def _text(tokens: list[_Token]) -> str:
    return "".join(t.text for t in tokens)


class _Reader:
    """Walks the significant tokens of one statement (whitespace skipped)."""

    def __init__(self, tokens: list[_Token], statement: str) -> None:
        self.tokens = tokens
        self.at = 0
        self.statement = statement

    def fail(self, expected: str) -> StoreError:
        first = self.statement.strip().splitlines()[0]
        return StoreError(f"cluster mode cannot lay out {first!r}: expected {expected}")

    def skip_space(self) -> None:
        while self.at < len(self.tokens) and self.tokens[self.at].kind == "space":
            self.at += 1

    def peek(self) -> _Token | None:
        self.skip_space()
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, *words: str) -> _Token:
        token = self.peek()
        if token is None or not token.word(*words):
            raise self.fail(" or ".join(words))
        self.at += 1
        return token

    def take_if(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token.word(*words):
            self.at += 1
            return True
        return False

    def name(self) -> str:
        token = self.peek()
        if token is None or token.kind != "word":
            raise self.fail("a name")
        self.at += 1
        return token.text

    def punct(self, char: str) -> None:
        token = self.peek()
        if token is None or token.text != char:
            raise self.fail(repr(char))
        self.at += 1

    def group(self) -> tuple[int, int]:
        """``(start, end)`` of the parenthesised group starting here, both parens included."""
        self.punct("(")
        start, depth = self.at - 1, 1
        while self.at < len(self.tokens):
            text = self.tokens[self.at].text
            self.at += 1
            if text == "(":
                depth += 1
            elif text == ")":
                depth -= 1
                if depth == 0:
                    return start, self.at
        raise self.fail("a closing parenthesis")


@dataclass(frozen=True, slots=True)
class _Create:
    """The head of a CREATE statement: what it creates and where its name ends."""

    kind: str  # "TABLE", "VIEW" or "MATERIALIZED VIEW"
    if_not_exists: bool
    database: str
    name: str
    name_end: int  # index of the token after the name


def _head(reader: _Reader) -> _Create:
    reader.take("CREATE")
    if reader.take_if("MATERIALIZED"):
        reader.take("VIEW")
        kind = "MATERIALIZED VIEW"
    else:
        kind = reader.take("TABLE", "VIEW").text.upper()
    if_not_exists = reader.take_if("IF")
    if if_not_exists:
        reader.take("NOT")
        reader.take("EXISTS")
    database = reader.name()
    reader.punct(".")
    name = reader.name()
    return _Create(kind, if_not_exists, database, name, reader.at)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True, slots=True)
class ClusterLayout:
    """How Vigie's tables are laid out on the cluster ``cluster`` (see the module doc)."""

    cluster: str
    zookeeper_root: str = ZOOKEEPER_ROOT

    @classmethod
    def from_settings(cls, settings: Settings) -> ClusterLayout | None:
        """The layout for ``VIGIE_CLICKHOUSE_CLUSTER``, or None for one server."""
        if not settings.clickhouse_cluster:
            return None
        return cls(identifier(settings.clickhouse_cluster, "VIGIE_CLICKHOUSE_CLUSTER"))

    @property
    def on_cluster(self) -> str:
        """The clause that runs a DDL statement on every node of the cluster."""
        return f" ON CLUSTER {self.cluster}"

    @staticmethod
    def local_name(name: str) -> str:
        """Name of the table (or per-shard view) holding one shard's part of ``name``."""
        return name + LOCAL_SUFFIX

    def zookeeper_path(self, database: str, table: str) -> str:
        """Where the replicas of one shard of ``database.table`` meet in ZooKeeper."""
        return f"{self.zookeeper_root}/{{shard}}/{database}/{table}"

    def distributed_engine(self, database: str, table: str, shard_key: str | None) -> str:
        """``Distributed(...)`` in front of ``database.<table>_local``."""
        args = [_quote(self.cluster), _quote(database), _quote(self.local_name(table))]
        if shard_key:
            args.append(shard_key)
        return f"Distributed({', '.join(args)})"

    def render(self, statement: str, placement: Placement, databases: Collection[str]) -> list[str]:
        """The cluster statements for one single-server statement, in the order to run."""
        tokens = _tokens(statement)
        reader = _Reader(tokens, statement)
        first = reader.peek()
        if first is None or not first.word("CREATE"):
            msg = (
                f"cluster mode lays out CREATE statements only; cannot run {statement[:60]!r} "
                "on a cluster"
            )
            raise StoreError(msg)
        head = _head(reader)
        if head.kind == "TABLE":
            return self._table(reader, head, placement)
        if placement.shard_key:
            msg = f"{head.database}.{head.name}: 'shard by' is for tables; a view has no rows"
            raise StoreError(msg)
        if head.kind == "MATERIALIZED VIEW":
            return [self._materialized_view(tokens, reader, head, databases)]
        return self._view(tokens, head, placement, databases)

    def _table(self, reader: _Reader, head: _Create, placement: Placement) -> list[str]:
        qualified = f"{head.database}.{head.name}"
        if placement.per_shard:
            msg = f"{qualified}: 'view per shard' is for views; a table says 'shard by'"
            raise StoreError(msg)
        if placement.shard_key is None:
            msg = (
                f"{qualified} has no sharding key for cluster mode: annotate its CREATE "
                "with '-- cluster: shard by <expression>' (see vigie/store/cluster.py)"
            )
            raise StoreError(msg)
        tokens = reader.tokens
        _, columns_end = reader.group()
        reader.take("ENGINE")
        reader.punct("=")
        engine = reader.name()
        engine_at = reader.at - 1
        own, engine_end = "", reader.at
        nxt = reader.peek()
        if nxt is not None and nxt.text == "(":
            start, engine_end = reader.group()
            own = _text(tokens[start + 1 : engine_end - 1]).strip()
        if not engine.endswith("MergeTree") or engine.startswith("Replicated"):
            msg = (
                f"{qualified}: cluster mode replicates *MergeTree tables, not {engine}; "
                "give it a MergeTree-family engine"
            )
            raise StoreError(msg)
        path = _quote(self.zookeeper_path(head.database, head.name))
        engine_args = ", ".join(a for a in (path, _quote("{replica}"), own) if a)
        name_at = head.name_end - 1
        local_ddl = (
            _text(tokens[:name_at])
            + self.local_name(head.name)
            + self.on_cluster
            + _text(tokens[head.name_end : engine_at])
            + f"Replicated{engine}({engine_args})"
            + _text(tokens[engine_end:])
        )
        front_ddl = (
            _text(tokens[: head.name_end])
            + self.on_cluster
            + _text(tokens[head.name_end : columns_end])
            + f"\nENGINE = {self.distributed_engine(head.database, head.name, placement.shard_key)}"
        )
        return [local_ddl, front_ddl]

    def _localise(
        self, tokens: list[_Token], start: int, databases: Collection[str]
    ) -> list[_Token]:
        """``db.x`` → ``db.x_local`` for Vigie's databases, from token ``start`` on."""
        out = list(tokens)
        for i in range(start, len(out) - 2):
            token = out[i]
            if token.kind != "word" or token.text not in databases:
                continue
            if i > 0 and out[i - 1].text == ".":
                continue  # part of a longer dotted name, not a database
            if out[i + 1].text == "." and out[i + 2].kind == "word":
                out[i + 2] = _Token("word", self.local_name(out[i + 2].text))
        return out

    def _materialized_view(
        self, tokens: list[_Token], reader: _Reader, head: _Create, databases: Collection[str]
    ) -> str:
        if not reader.take_if("TO"):
            msg = (
                f"{head.database}.{head.name}: in cluster mode a materialised view needs "
                "'TO <table>' so that its rows live in a replicated table"
            )
            raise StoreError(msg)
        body = self._localise(tokens, head.name_end, databases)
        return _text(tokens[: head.name_end]) + self.on_cluster + _text(body[head.name_end :])

    def _view(
        self,
        tokens: list[_Token],
        head: _Create,
        placement: Placement,
        databases: Collection[str],
    ) -> list[str]:
        if not placement.per_shard:
            head_text = _text(tokens[: head.name_end])
            return [head_text + self.on_cluster + _text(tokens[head.name_end :])]
        local = self.local_name(head.name)
        body = self._localise(tokens, head.name_end, databases)
        view = (
            _text(tokens[: head.name_end - 1])
            + local
            + self.on_cluster
            + _text(body[head.name_end :])
        )
        if_not_exists = " IF NOT EXISTS" if head.if_not_exists else ""
        front = (
            f"CREATE TABLE{if_not_exists} {head.database}.{head.name}{self.on_cluster} "
            f"AS {head.database}.{local}\n"
            f"ENGINE = {self.distributed_engine(head.database, head.name, None)}"
        )
        return [view, front]

    def create_database(self, database: str) -> str:
        """``CREATE DATABASE`` on every node."""
        return f"CREATE DATABASE IF NOT EXISTS {database}{self.on_cluster}"

    def drop_database(self, database: str) -> str:
        """``DROP DATABASE`` on every node (replicas leave ZooKeeper as their tables go)."""
        return f"DROP DATABASE IF EXISTS {database}{self.on_cluster}"
