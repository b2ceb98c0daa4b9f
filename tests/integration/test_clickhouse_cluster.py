"""Cluster mode on a real ClickHouse cluster: ZooKeeper and three ClickHouse 18.16 servers.

The cluster ``vigie_it`` has two shards; the first has two replicas. It runs on loopback on
free ports with every data folder under the test's tmp_path, apart from the local stack,
and is stopped afterwards (ZooKeeper's jars are resolved by Maven once, into the stack's
data folder). ``vigie db migrate`` runs with ``VIGIE_CLICKHOUSE_CLUSTER`` set, as the Helm
migration Job does; the sink's IncidentStore writes the sample city (twice: a replay) into
the Distributed tables, and everything is read back through them from another shard.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from vigie.config import REPO_ROOT, Settings
from vigie.stack.clickhouse import ClickHouseServer, ClusterNode
from vigie.stack.zookeeper import ZooKeeperServer
from vigie.store.cluster import ClusterLayout
from vigie.store.cookbook import load_cookbook
from vigie.store.engine import NativeExecutor, StoreError, connect
from vigie.store.incident_store import IncidentStore
from vigie.store.retention import RetentionPolicy, apply_retention
from vigie.store.sample_data import build_sample
from vigie.store.schema import Databases, load_migrations, migrate

pytestmark = pytest.mark.integration

MIGRATIONS = REPO_ROOT / "schemas" / "clickhouse"
CLUSTER = "vigie_it"
#: Replicas per shard: shard 1 has two (replication), shard 2 one (sharding).
TOPOLOGY = (2, 1)
NOW = datetime.now(UTC)
SAMPLE = build_sample(int(NOW.timestamp() * 1000), hours=24)


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass(frozen=True)
class Node:
    shard: int
    replica: str
    settings: Settings

    def connect(self, role: str = "admin") -> NativeExecutor:
        return connect(self.settings, role)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Cluster:
    nodes: tuple[Node, ...]
    zookeeper_port: int

    def node(self, shard: int, replica: str = "r1") -> Node:
        return next(n for n in self.nodes if (n.shard, n.replica) == (shard, replica))

    def env(self, node: Node, **extra: str) -> dict[str, str]:
        """The environment `vigie` runs with against ``node``, as the Helm Job's."""
        s = node.settings
        values = {
            "VIGIE_DATA_DIR": str(s.data_dir),
            "VIGIE_CLICKHOUSE_PORT": str(s.clickhouse_port),
            "VIGIE_CLICKHOUSE_HTTP_PORT": str(s.clickhouse_http_port),
            "VIGIE_CLICKHOUSE_CLUSTER": CLUSTER,
            **extra,
        }
        clean = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
        return {**clean, **values}


@pytest.fixture(name="cluster", scope="module")
def cluster_fixture(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """ZooKeeper and one ClickHouse server per replica, started here, stopped afterwards."""
    root = tmp_path_factory.mktemp("ch-cluster")
    ports = iter(_free_ports(1 + 3 * sum(TOPOLOGY)))
    zookeeper = ZooKeeperServer(settings, next(ports), home=root / "zookeeper")
    places = [(shard, f"r{r}") for shard, n in enumerate(TOPOLOGY, 1) for r in range(1, n + 1)]
    node_settings = [
        Settings(
            data_dir=root / f"s{shard}{replica}",
            clickhouse_port=next(ports),
            clickhouse_http_port=next(ports),
            clickhouse_cluster=CLUSTER,
        )
        for shard, replica in places
    ]
    interserver = [next(ports) for _ in places]
    shards = tuple(
        tuple(
            ("127.0.0.1", s.clickhouse_port)
            for (shard, _), s in zip(places, node_settings, strict=True)
            if shard == number
        )
        for number in range(1, len(TOPOLOGY) + 1)
    )
    servers = [
        ClickHouseServer(
            s,
            ClusterNode(CLUSTER, shards, shard, replica, port, (zookeeper.address,)),
        )
        for (shard, replica), s, port in zip(places, node_settings, interserver, strict=True)
    ]
    with ExitStack() as stop:
        stop.callback(zookeeper.stop)
        zookeeper.start()
        for server in servers:
            stop.callback(server.stop)
            server.start()
        yield Cluster(
            tuple(
                Node(shard, replica, s)
                for (shard, replica), s in zip(places, node_settings, strict=True)
            ),
            zookeeper.port,
        )


def _vigie(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vigie.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _eventually(check: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout_s:.0f} s")
        time.sleep(0.3)


@pytest.fixture(name="migrated", scope="module")
def migrated_fixture(cluster: Cluster) -> Databases:
    """`vigie db migrate` in cluster mode from the first node, twice."""
    env = cluster.env(cluster.node(1))
    first = _vigie(env, "db", "migrate")
    assert first.returncode == 0, first.stderr
    assert f"cluster {CLUSTER}" in first.stdout
    assert first.stdout.count("applied   00") == 5
    again = _vigie(env, "db", "migrate")
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stdout
    return Databases.from_settings(cluster.node(1).settings)


def _tables(executor: NativeExecutor, dbs: Databases) -> dict[str, str]:
    rows = executor.query(
        "SELECT concat(database, '.', name), engine FROM system.tables"
        " WHERE database IN (%(m)s, %(p)s)",
        {"m": dbs.main, "p": dbs.private},
    ).rows
    return {str(name): str(engine) for name, engine in rows}


def test_migrate_lays_out_every_node(cluster: Cluster, migrated: Databases) -> None:
    main, private = migrated.main, migrated.private
    expected = {
        f"{main}.incidents": "Distributed",
        f"{main}.incidents_local": "ReplicatedReplacingMergeTree",
        f"{main}.events_local": "ReplicatedReplacingMergeTree",
        f"{private}.event_personal_local": "ReplicatedReplacingMergeTree",
        f"{private}.event_personal": "Distributed",
        f"{main}.events_hourly_local": "ReplicatedAggregatingMergeTree",
        f"{main}.events_hourly_mv": "MaterializedView",
        f"{main}.incident_evidence_local": "View",
        f"{main}.incident_evidence": "Distributed",
        f"{main}.events_per_hour": "View",
        f"{main}.schema_migrations_local": "ReplicatedMergeTree",
        f"{main}.schema_migrations": "Distributed",
    }
    layouts = []
    for node in cluster.nodes:  # ON CLUSTER: the same objects everywhere
        admin = node.connect()
        try:
            tables = _tables(admin, migrated)
        finally:
            admin.close()
        assert {name: tables.get(name) for name in expected} == expected, node
        layouts.append(tables)
    assert all(layout == layouts[0] for layout in layouts)
    status = _vigie(cluster.env(cluster.node(2)), "db", "status")  # from another shard
    assert status.returncode == 0, status.stderr
    assert f"(cluster {CLUSTER}): recognised" in status.stdout
    assert "5 applied, 0 pending" in status.stdout


@pytest.fixture(name="loaded", scope="module")
def loaded_fixture(cluster: Cluster, migrated: Databases) -> Databases:
    """The sample city written by the sink's store on the first node, twice (a replay)."""
    writer = IncidentStore.from_settings(cluster.node(1).settings, "writer")
    try:
        for _ in range(2):
            writer.insert_events(SAMPLE.events)
            writer.insert_incidents(SAMPLE.incidents)
            writer.insert_acks(SAMPLE.acks)
    finally:
        writer.close()
    return migrated


def test_the_store_writes_and_reads_through_distributed_tables(
    cluster: Cluster, loaded: Databases
) -> None:
    reader_node = cluster.node(2)
    latest = SAMPLE.latest()
    reader = IncidentStore.from_settings(reader_node.settings, "admin")
    try:
        assert reader.count_incidents() == len(latest)
        assert reader.count_events() == len({e.event_id for e in SAMPLE.events})
        assert reader.latest_versions() == {i: inc.version for i, inc in latest.items()}
        linked = next(i for i in latest.values() if i.links)
        stored = reader.get_incident(linked.incident_id)
        assert stored is not None and stored.version == linked.version
        assert len(stored.links) == len(linked.links)
        acked = SAMPLE.acks[0].incident_id
        status = reader.incident_status(acked)
        assert status is not None and status["acks"] >= 1
        db = loaded.main
        query = reader.executor.query
        assert query(f"SELECT count() FROM {db}.incidents_latest").scalar() == len(latest)
        evidence = query(f"SELECT count() FROM {db}.incident_evidence").scalar()
        assert evidence == sum(
            len({tuple(sorted((lk.event_a, lk.event_b))) for lk in i.links})
            for i in latest.values()
        )
        rollup = query(f"SELECT sum(incidents) FROM {db}.incidents_per_hour").scalar()
        assert rollup == len(latest)
        events = query(f"SELECT sum(events) FROM {db}.events_per_hour").scalar()
        assert events == len({e.event_id for e in SAMPLE.events})

        # Each incident, every version of it, on exactly one shard; both shards hold some.
        per_shard = []
        for shard in (1, 2):
            local = cluster.node(shard).connect()
            try:
                ids = local.query(f"SELECT DISTINCT incident_id FROM {db}.incidents_local").rows
                per_shard.append({str(i) for (i,) in ids})
            finally:
                local.close()
        assert per_shard[0] and per_shard[1]
        assert per_shard[0].isdisjoint(per_shard[1])
        assert per_shard[0] | per_shard[1] == set(latest)
    finally:
        reader.close()

    # The second replica of shard 1 has the same rows, copied through ZooKeeper.
    first, second = cluster.node(1).connect(), cluster.node(1, "r2").connect()
    try:
        sql = f"SELECT count(), sum(version) FROM {db}.incidents_local"
        _eventually(
            lambda: second.query(sql).rows == first.query(sql).rows,
            "replica r2 of shard 1 did not catch up",
        )
    finally:
        first.close()
        second.close()


def _normalised(rows: list[tuple[object, ...]]) -> list[str]:
    """Rows comparable across engines: floats summed in another order differ in the last bit."""
    return sorted(
        repr(tuple(round(v, 6) if isinstance(v, float) else v for v in row)) for row in rows
    )


def test_the_cookbook_answers_as_on_one_server(cluster: Cluster, loaded: Databases) -> None:
    """Every analyst question, on the cluster and on a plain database of the same data."""
    node = cluster.node(1)
    admin = node.connect()
    single = Databases("vigie_single", "vigie_single_private")
    try:
        migrate(admin, single, load_migrations(MIGRATIONS))
        store = IncidentStore(admin, single)
        store.insert_events(SAMPLE.events)
        store.insert_incidents(SAMPLE.incidents)
        store.insert_acks(SAMPLE.acks)
    finally:
        admin.close()
    on_cluster = connect(node.settings, "analyst")
    on_one = connect(node.settings, "admin", database=single.main)
    try:
        for query in load_cookbook(MIGRATIONS / "queries"):
            expected = on_one.query(query.sql)
            assert expected.rows, query.name
            answer = on_cluster.query(query.sql)
            assert answer.columns == expected.columns, query.name
            assert _normalised(answer.rows) == _normalised(expected.rows), query.name
    finally:
        on_cluster.close()
        on_one.close()


def test_the_analyst_reads_the_cluster_but_not_personal_fields(
    cluster: Cluster, loaded: Databases
) -> None:
    analyst = cluster.node(2).connect("analyst")
    try:
        assert analyst.query(f"SELECT count() FROM {loaded.main}.incidents_latest").scalar()
        with pytest.raises(StoreError, match=r"(?i)access denied"):
            analyst.query(f"SELECT count() FROM {loaded.private}.ack_people")
    finally:
        analyst.close()


def test_retention_drops_expired_camera_data_on_every_shard(cluster: Cluster) -> None:
    """On databases of its own, migrated through the Python API rather than the command."""
    layout = ClusterLayout(CLUSTER)
    dbs = Databases("vigie_retention", "vigie_retention_private")
    admin = IncidentStore(cluster.node(2).connect(), dbs)
    try:
        report = migrate(admin.executor, dbs, load_migrations(MIGRATIONS), layout=layout)
        assert len(report.applied) == 5
        admin.insert_events(SAMPLE.events)
        admin.insert_incidents(SAMPLE.incidents)
        later = NOW + timedelta(days=31)
        actions = apply_retention(admin.executor, dbs, RetentionPolicy(), now=later, layout=layout)
        assert {a.data_class for a in actions if a.what == "drop partition"} == {"camera"}
        events = f"SELECT count() FROM {dbs.main}.events"
        camera = f"{events} WHERE data_class = 'camera'"
        _eventually(lambda: admin.executor.query(camera).scalar() == 0, "camera events stay")
        assert admin.executor.query(events).scalar() > 0
        incidents = f"SELECT count() FROM {dbs.main}.incidents WHERE data_class = 'camera'"
        _eventually(lambda: admin.executor.query(incidents).scalar() == 0, "camera incidents")
    finally:
        admin.close()


def test_a_cluster_database_is_not_migrated_as_one_server(
    cluster: Cluster, migrated: Databases
) -> None:
    env = cluster.env(cluster.node(1), VIGIE_CLICKHOUSE_CLUSTER="")
    refused = _vigie(env, "db", "migrate")
    assert refused.returncode != 0
    assert "was migrated in cluster mode" in refused.stderr + refused.stdout
