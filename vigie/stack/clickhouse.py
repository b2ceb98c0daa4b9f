"""A ClickHouse server from Debian's ``clickhouse-server`` package, run with our own files.

Debian installs the binary without starting a service, which suits us: the project writes
its own ``config.xml``/``users.xml`` under ``<data_dir>/clickhouse`` and runs the server as a
detached process on loopback, so nothing on the machine's system config changes.

A server can also be one node of a ClickHouse cluster (:class:`ClusterNode`): its
``config.d/cluster.xml`` then names the cluster's shards and replicas (``remote_servers``),
this node's ``{shard}``/``{replica}`` macros, ZooKeeper and the ``ON CLUSTER`` DDL queue,
which is what cluster mode (``VIGIE_CLICKHOUSE_CLUSTER``, :mod:`vigie.store.cluster`)
needs of every server.
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from vigie.config import Settings
from vigie.stack.component import ComponentStatus, process_state
from vigie.stack.process import (
    ManagedProcess,
    StackError,
    port_open,
    require_free_port,
    run_checked,
    wait_until,
)

SERVER_BINARY = "clickhouse-server"


def _config_xml(settings: Settings, home: Path) -> str:
    data = home / "data"
    return f"""<?xml version="1.0"?>
<!-- Written by `vigie stack up`; change Settings (VIGIE_*), not this file. -->
<yandex>
  <logger>
    <level>information</level>
    <log>{escape(str(home / "logs" / "clickhouse-server.log"))}</log>
    <errorlog>{escape(str(home / "logs" / "clickhouse-server.err.log"))}</errorlog>
    <size>100M</size>
    <count>3</count>
  </logger>
  <listen_host>{escape(settings.host)}</listen_host>
  <http_port>{settings.clickhouse_http_port}</http_port>
  <tcp_port>{settings.clickhouse_port}</tcp_port>
  <max_connections>256</max_connections>
  <keep_alive_timeout>3</keep_alive_timeout>
  <max_concurrent_queries>50</max_concurrent_queries>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <mark_cache_size>268435456</mark_cache_size>
  <path>{escape(str(data))}/</path>
  <tmp_path>{escape(str(home / "tmp"))}/</tmp_path>
  <user_files_path>{escape(str(home / "user_files"))}/</user_files_path>
  <format_schema_path>{escape(str(home / "format_schemas"))}/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
  <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
  <max_session_timeout>3600</max_session_timeout>
  <default_session_timeout>60</default_session_timeout>
  <merge_tree>
    <max_suspicious_broken_parts>5</max_suspicious_broken_parts>
  </merge_tree>
</yandex>
"""


@dataclass(frozen=True, slots=True)
class ClusterNode:
    """One server's place in a ClickHouse cluster, and the cluster as every node sees it.

    ``shards`` lists, per shard, the ``(host, native port)`` of its replicas; this node is
    replica ``replica`` of shard ``shard`` (1-based, as the ``{shard}`` macro). Replicas
    fetch parts from each other over ``interserver_port`` (HTTP).
    """

    cluster: str
    shards: tuple[tuple[tuple[str, int], ...], ...]
    shard: int
    replica: str
    interserver_port: int
    zookeeper: tuple[tuple[str, int], ...]
    ddl_path: str = "/clickhouse/task_queue/ddl"


def cluster_config_xml(node: ClusterNode, host: str) -> str:
    """``config.d/cluster.xml`` of one node (``host``: the address other nodes reach it at).

    ``internal_replication`` is on: a Distributed insert writes one replica of a shard and
    the replicated table copies it to the others (writing each replica would double rows).
    """
    shards = "".join(
        "      <shard>\n        <internal_replication>true</internal_replication>\n"
        + "".join(
            f"        <replica><host>{escape(h)}</host><port>{p}</port></replica>\n"
            for h, p in replicas
        )
        + "      </shard>\n"
        for replicas in node.shards
    )
    zookeeper = "".join(
        f"    <node><host>{escape(h)}</host><port>{p}</port></node>\n" for h, p in node.zookeeper
    )
    return f"""<?xml version="1.0"?>
<!-- Written by vigie.stack.clickhouse.cluster_config_xml: this node in cluster {node.cluster}. -->
<yandex>
  <remote_servers>
    <{node.cluster}>
{shards}    </{node.cluster}>
  </remote_servers>
  <macros>
    <shard>{node.shard}</shard>
    <replica>{escape(node.replica)}</replica>
  </macros>
  <zookeeper>
{zookeeper}  </zookeeper>
  <distributed_ddl>
    <path>{escape(node.ddl_path)}</path>
  </distributed_ddl>
  <interserver_http_host>{escape(host)}</interserver_http_host>
  <interserver_http_port>{node.interserver_port}</interserver_http_port>
</yandex>
"""


def users_xml(settings: Settings) -> str:
    """The server's users (admin, writer, read-only analyst), as the store defines them."""
    from vigie.store.roles import render_users_xml

    return render_users_xml(settings)


class ClickHouseServer:
    """One ClickHouse server under ``<data_dir>/clickhouse``."""

    name = "clickhouse"

    def __init__(self, settings: Settings, cluster: ClusterNode | None = None) -> None:
        self.settings = settings
        self.cluster = cluster
        self.home = settings.data_dir / "clickhouse"
        self.process = ManagedProcess(
            "clickhouse", self.home / "clickhouse.pid", self.home / "logs" / "stdout.log"
        )

    @property
    def log_file(self) -> Path:
        """The server's main log (its own logger, not stdout)."""
        return self.home / "logs" / "clickhouse-server.log"

    def install(self) -> bool:
        """Install Debian's package when the binary is missing and we may use apt."""
        if shutil.which(SERVER_BINARY):
            return False
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            msg = (
                "clickhouse-server is not installed; install it with "
                "`sudo apt-get install clickhouse-server clickhouse-client` and run again"
            )
            raise StackError(msg)
        run_checked(["apt-get", "update", "-qq"], "apt-get update")
        run_checked(
            ["apt-get", "install", "-y", "-qq", "clickhouse-server", "clickhouse-client"],
            "installing clickhouse-server with apt-get",
        )
        return True

    def _write_config(self) -> None:
        for sub in ("data", "tmp", "user_files", "format_schemas", "logs"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        (self.home / "config.xml").write_text(_config_xml(self.settings, self.home))
        if self.cluster is not None:
            (self.home / "config.d").mkdir(exist_ok=True)
            (self.home / "config.d" / "cluster.xml").write_text(
                cluster_config_xml(self.cluster, self.settings.host)
            )
        self._write_users()

    def _write_users(self) -> None:
        target = self.home / "users.xml"
        text = users_xml(self.settings)
        if not target.exists() or target.read_text() != text:
            target.write_text(text)

    def _http(self, path: str, body: bytes | None = None) -> str | None:
        url = f"http://{self.settings.clickhouse_address}:{self.settings.clickhouse_http_port}"
        req = urllib.request.Request(url + path, data=body)
        user = self.settings.clickhouse_user
        req.add_header("X-ClickHouse-User", user)
        req.add_header("X-ClickHouse-Key", self.settings.clickhouse_password.get_secret_value())
        try:
            with urllib.request.urlopen(req, timeout=3) as resp:
                return str(resp.read().decode())
        except (urllib.error.URLError, OSError):
            return None

    def healthy(self) -> bool:
        """True when the server answers a query over HTTP."""
        return self._http("/", b"SELECT 1") is not None

    def version(self) -> str:
        """The running server's version, or the package's when it is down."""
        answer = self._http("/", b"SELECT version()")
        return answer.strip() if answer else "unknown"

    def start(self) -> bool:
        """Start the server unless it is already up; wait until it answers."""
        if self.process.pid() is not None and self.healthy():
            # The server reloads users.xml when it changes: keep the roles current.
            self._write_users()
            return False
        if self.process.pid() is None:
            require_free_port(
                self.settings.host, self.settings.clickhouse_port, "VIGIE_CLICKHOUSE_PORT"
            )
            require_free_port(
                self.settings.host,
                self.settings.clickhouse_http_port,
                "VIGIE_CLICKHOUSE_HTTP_PORT",
            )
            self.install()
            self._write_config()
            binary = shutil.which(SERVER_BINARY) or SERVER_BINARY
            self.process.start([binary, f"--config-file={self.home / 'config.xml'}"], cwd=self.home)
        wait_until(self.healthy, 60, "ClickHouse", self.log_file)
        return True

    def stop(self) -> bool:
        """Stop the server; it finishes running merges' writes on SIGTERM."""
        return self.process.stop(timeout_s=30)

    def status(self) -> ComponentStatus:
        """Health, version, ports and data folder of the server."""
        pid = self.process.pid()
        healthy = pid is not None and self.healthy()
        state = process_state(pid, healthy, installed=shutil.which(SERVER_BINARY) is not None)
        return ComponentStatus(
            name=self.name,
            healthy=healthy,
            state=state,
            version=self.version() if healthy else "-",
            ports=(self.settings.clickhouse_port, self.settings.clickhouse_http_port),
            data_dir=self.home / "data",
            pid=pid,
            detail=f"native {self.settings.clickhouse_address}:{self.settings.clickhouse_port}",
        )


def clickhouse_ready(settings: Settings) -> bool:
    """Cheap check used by other commands before they connect."""
    return port_open(settings.clickhouse_address, settings.clickhouse_port)
