"""Retention per data class: drop expired partitions, delete expired camera rows, set TTLs.

Every stored row belongs to a data class with its own retention (``VIGIE_RETENTION_*_DAYS``):

=========  =======================================================  ==============
class      rows                                                     default
=========  =======================================================  ==============
camera     camera-derived events; incidents (and their evidence)    30 days, also
           whose only sources are cameras                           the maximum
event      every other normalised event                             365 days
incident   incidents, evidence, operator actions                    730 days
rollup     hourly rollups (aggregates, no personal data)            1825 days
=========  =======================================================  ==============

Events are partitioned by (data class, day), so expiring them is dropping whole partitions,
cheap on every release. Camera retention is a legal maximum (French video-protection law
keeps recordings one month at most), so a camera partition goes as soon as its *oldest*
possible row is past the limit; for the other classes a partition goes once its *newest*
possible row is. Incidents are partitioned by month of creation (all versions of one
incident must share a partition), so their camera-class rows are deleted row by row
(``ALTER TABLE ... DELETE``, a mutation 18.16 has too). Where the server supports TTL, the
same policy is also set as each table's TTL so expiry does not wait for the next run.

In cluster mode (:mod:`vigie.store.cluster`) the rows live in the replicated ``<table>_local``
tables: partitions are listed on every shard (``cluster(...)`` over ``system.parts``), and
drops, deletes and TTLs are ALTERs of the local tables ``ON CLUSTER``; rows are counted
through the Distributed tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from vigie.config import CAMERA_RETENTION_MAX_DAYS, Settings
from vigie.errors import VigieError
from vigie.store.cluster import ClusterLayout
from vigie.store.engine import Capabilities, Executor
from vigie.store.schema import Databases


class DataClass(StrEnum):
    """Retention classes of stored rows."""

    CAMERA = "camera"
    EVENT = "event"
    INCIDENT = "incident"
    ROLLUP = "rollup"


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Days kept per data class."""

    camera: int = CAMERA_RETENTION_MAX_DAYS
    event: int = 365
    incident: int = 730
    rollup: int = 1825

    def __post_init__(self) -> None:
        if self.camera > CAMERA_RETENTION_MAX_DAYS:
            msg = (
                f"camera-derived data kept {self.camera} days: French video-protection law "
                "(Code de la sécurité intérieure, art. L252-5) allows one month at most; set "
                f"VIGIE_RETENTION_CAMERA_DAYS to {CAMERA_RETENTION_MAX_DAYS} or less"
            )
            raise VigieError(msg)
        for name in ("camera", "event", "incident", "rollup"):
            if getattr(self, name) < 1:
                msg = f"retention of {name} data must be at least one day"
                raise VigieError(msg)

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        """The ``VIGIE_RETENTION_*_DAYS`` settings."""
        return cls(
            camera=settings.retention_camera_days,
            event=settings.retention_events_days,
            incident=settings.retention_incidents_days,
            rollup=settings.retention_rollups_days,
        )

    def days(self, data_class: DataClass) -> int:
        """Days kept for one class."""
        return int(getattr(self, data_class.value))


@dataclass(frozen=True, slots=True)
class TableRule:
    """How one table is partitioned and which classes its rows belong to."""

    table: str
    private: bool
    time_column: str
    by_day: bool  # partitions of a day (class, YYYYMMDD) rather than a month (YYYYMM)
    classes: tuple[DataClass, ...]  # first is the class of rows without a data_class column
    class_column: bool  # rows carry data_class

    def ttl_expression(self, policy: RetentionPolicy) -> str:
        """TTL in the form ClickHouse prints it back (so a no-op is recognised)."""
        column = self.time_column
        base = f"toDateTime({column})" if column != "hour" else column
        if self.class_column and DataClass.CAMERA in self.classes:
            other = next(c for c in self.classes if c != DataClass.CAMERA)
            days = f"if(data_class = 'camera', {policy.camera}, {policy.days(other)})"
        else:
            days = str(policy.days(self.classes[0]))
        return f"{base} + toIntervalDay({days})"


RULES: tuple[TableRule, ...] = (
    TableRule("events", False, "event_time", True, (DataClass.EVENT, DataClass.CAMERA), True),
    TableRule(
        "event_personal", True, "event_time", True, (DataClass.EVENT, DataClass.CAMERA), True
    ),
    TableRule(
        "incidents", False, "created_at", False, (DataClass.INCIDENT, DataClass.CAMERA), True
    ),
    TableRule(
        "incident_links", False, "created_at", False, (DataClass.INCIDENT, DataClass.CAMERA), True
    ),
    TableRule("incident_acks", False, "at", False, (DataClass.INCIDENT,), False),
    TableRule("ack_people", True, "at", False, (DataClass.INCIDENT,), False),
    TableRule("events_hourly", False, "hour", False, (DataClass.ROLLUP,), False),
    TableRule("incidents_hourly", False, "hour", False, (DataClass.ROLLUP,), False),
)

_DAY_PARTITION = re.compile(r"^\('([a-z_]+)',\s*(\d{8})\)$")
_MONTH_PARTITION = re.compile(r"^(\d{6})$")


@dataclass(frozen=True, slots=True)
class Action:
    """One retention step, done or (on a dry run) only planned."""

    table: str
    what: str  # "drop partition", "delete rows", "set ttl", "skip"
    target: str
    data_class: str
    rows: int
    done: bool

    def line(self) -> str:
        """One line for the report."""
        verb = {
            "drop partition": "dropped" if self.done else "would drop",
            "delete rows": "deleted" if self.done else "would delete",
            "set ttl": "set TTL" if self.done else "would set TTL",
            "skip": "skipped",
        }[self.what]
        rows = f" ({self.rows} rows)" if self.what in ("drop partition", "delete rows") else ""
        return f"{self.table}: {verb} {self.target} [{self.data_class}]{rows}"


def _span(partition: str, by_day: bool) -> tuple[str | None, datetime, datetime] | None:
    if by_day:
        match = _DAY_PARTITION.match(partition)
        if match is None:
            return None
        start = datetime.strptime(match[2], "%Y%m%d").replace(tzinfo=UTC)
        return match[1], start, start + timedelta(days=1)
    match = _MONTH_PARTITION.match(partition)
    if match is None:
        return None
    start = datetime.strptime(match[1] + "01", "%Y%m%d").replace(tzinfo=UTC)
    end = (start + timedelta(days=32)).replace(day=1)
    return None, start, end


def _expired(start: datetime, end: datetime, days: int, strict: bool, now: datetime) -> bool:
    limit = now - timedelta(days=days)
    # Strict (legal maximum): no row in the partition may be older than the limit.
    return start < limit if strict else end <= limit


def apply_retention(
    executor: Executor,
    databases: Databases,
    policy: RetentionPolicy,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    capabilities: Capabilities | None = None,
    layout: ClusterLayout | None = None,
) -> list[Action]:
    """Expire data by ``policy`` as of ``now``; on a dry run only report what would go."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        msg = "retention needs an aware 'now'"
        raise VigieError(msg)
    capabilities = capabilities or Capabilities.of(executor.version())
    actions: list[Action] = []
    present = {
        str(name)
        for (name,) in executor.query(
            "SELECT name FROM system.tables WHERE database IN (%(m)s, %(p)s)",
            {"m": databases.main, "p": databases.private},
        ).rows
    }
    target = _Target(layout)
    for rule in RULES:
        if target.physical(rule.table) not in present:
            continue
        database = databases.private if rule.private else databases.main
        parts = executor.query(
            f"SELECT partition, sum(rows) FROM {target.parts}"
            " WHERE active AND database = %(db)s AND table = %(t)s"
            " GROUP BY partition ORDER BY partition",
            {"db": database, "t": target.physical(rule.table)},
        ).rows
        for partition, rows in parts:
            span = _span(str(partition), rule.by_day)
            if span is None:
                actions.append(Action(rule.table, "skip", str(partition), "?", int(rows), False))
                continue
            class_name, start, end = span
            if class_name is not None:
                classes = (
                    [DataClass(class_name)] if class_name in DataClass.__members__.values() else []
                )
            else:
                classes = list(rule.classes)
            if not classes:
                actions.append(
                    Action(rule.table, "skip", str(partition), str(class_name), int(rows), False)
                )
                continue
            # A partition holding several classes goes when every class in it has expired.
            if all(
                _expired(start, end, policy.days(c), c == DataClass.CAMERA, now) for c in classes
            ):
                label = "/".join(c.value for c in classes)
                if not dry_run:
                    value: object = (
                        (class_name, int(start.strftime("%Y%m%d")))
                        if rule.by_day
                        else int(start.strftime("%Y%m"))
                    )
                    executor.command(
                        f"{target.alter(database, rule.table)} DROP PARTITION %(p)s", {"p": value}
                    )
                actions.append(
                    Action(
                        rule.table, "drop partition", str(partition), label, int(rows), not dry_run
                    )
                )
        if rule.class_column and not rule.by_day and DataClass.CAMERA in rule.classes:
            actions += _delete_camera_rows(executor, database, rule, policy, now, dry_run, target)
        if capabilities.ttl:
            actions += _sync_ttl(executor, database, rule, policy, dry_run, target)
    return actions


@dataclass(frozen=True, slots=True)
class _Target:
    """Where retention reads parts and sends ALTERs: one server, or a cluster's shards."""

    layout: ClusterLayout | None

    def physical(self, table: str) -> str:
        """The table that holds the rows (``<table>_local`` on a cluster)."""
        return table if self.layout is None else self.layout.local_name(table)

    @property
    def parts(self) -> str:
        """``system.parts`` of this server, or of one replica of every shard."""
        if self.layout is None:
            return "system.parts"
        return f"cluster('{self.layout.cluster}', system, parts)"

    def alter(self, database: str, table: str) -> str:
        """``ALTER TABLE`` of the rows' table, on every node in cluster mode."""
        on_cluster = "" if self.layout is None else self.layout.on_cluster
        return f"ALTER TABLE {database}.{self.physical(table)}{on_cluster}"


def _delete_camera_rows(
    executor: Executor,
    database: str,
    rule: TableRule,
    policy: RetentionPolicy,
    now: datetime,
    dry_run: bool,
    target: _Target,
) -> list[Action]:
    table = f"{database}.{rule.table}"  # Distributed on a cluster: counts every shard
    cutoff = int((now - timedelta(days=policy.camera)).timestamp())
    condition = f"data_class = 'camera' AND toUInt32(toDateTime({rule.time_column})) < %(cutoff)s"
    rows = int(
        executor.query(
            f"SELECT count() FROM {table} WHERE {condition}", {"cutoff": cutoff}
        ).scalar()
    )
    if rows == 0:
        return []
    if not dry_run:
        executor.command(
            f"{target.alter(database, rule.table)} DELETE WHERE {condition}", {"cutoff": cutoff}
        )
    what = f"camera rows older than {policy.camera} days"
    return [Action(rule.table, "delete rows", what, DataClass.CAMERA.value, rows, not dry_run)]


def _sync_ttl(
    executor: Executor,
    database: str,
    rule: TableRule,
    policy: RetentionPolicy,
    dry_run: bool,
    target: _Target,
) -> list[Action]:
    expression = rule.ttl_expression(policy)
    current = str(
        executor.query(
            "SELECT engine_full FROM system.tables WHERE database = %(db)s AND name = %(t)s",
            {"db": database, "t": target.physical(rule.table)},
        ).scalar()
        or ""
    )
    if f"TTL {expression}" in current:
        return []
    if not dry_run:
        executor.command(f"{target.alter(database, rule.table)} MODIFY TTL {expression}")
    label = "/".join(c.value for c in rule.classes)
    return [Action(rule.table, "set ttl", expression, label, 0, not dry_run)]


def sync_ttls(
    executor: Executor,
    databases: Databases,
    policy: RetentionPolicy,
    capabilities: Capabilities,
    layout: ClusterLayout | None = None,
) -> list[Action]:
    """Set every table's TTL from the policy (where TTL exists); used by ``db migrate``."""
    if not capabilities.ttl:
        return []
    actions: list[Action] = []
    target = _Target(layout)
    for rule in RULES:
        database = databases.private if rule.private else databases.main
        actions += _sync_ttl(executor, database, rule, policy, dry_run=False, target=target)
    return actions
