"""A standalone Apache ZooKeeper, for ClickHouse clusters on one machine.

Replicated ClickHouse tables and ``ON CLUSTER`` DDL coordinate through ZooKeeper, so cluster
mode (``VIGIE_CLICKHOUSE_CLUSTER``) needs one. The local stack runs a single ClickHouse
server and needs none; this is what the cluster test
(``tests/integration/test_clickhouse_cluster.py``) starts beside its servers. The jars come
from Maven Central through ``maven/zookeeper.pom.xml``, like Kafka's, into
``<data_dir>/zookeeper/libs/<version>`` once; the server runs with ``java -cp`` on loopback.
"""

from __future__ import annotations

import socket
from pathlib import Path

from vigie.config import Settings
from vigie.stack.component import ComponentStatus, process_state
from vigie.stack.jars import resolve_jars
from vigie.stack.process import (
    ManagedProcess,
    require_free_port,
    wait_until,
)

#: The release resolved from Maven Central (``org.apache.zookeeper:zookeeper``).
ZOOKEEPER_VERSION = "3.9.5"


class ZooKeeperServer:
    """One standalone ZooKeeper with its data and log under ``home``."""

    name = "zookeeper"

    def __init__(
        self,
        settings: Settings,
        port: int,
        *,
        home: Path | None = None,
        version: str = ZOOKEEPER_VERSION,
    ) -> None:
        self.settings = settings
        self.port = port
        self.version = version
        self.libs = settings.data_dir / "zookeeper" / "libs" / version  # shared by every home
        self.home = home or settings.data_dir / "zookeeper"
        self.data = self.home / "data"
        self.config_file = self.home / "zoo.cfg"
        self.process = ManagedProcess(
            "zookeeper", self.home / "zookeeper.pid", self.home / "logs" / "zookeeper.log"
        )

    @property
    def log_file(self) -> Path:
        """The server's combined stdout/stderr log."""
        return self.process.log_file

    @property
    def address(self) -> tuple[str, int]:
        """Host and client port, as ClickHouse's ``<zookeeper>`` config names them."""
        return self.settings.host, self.port

    def install(self) -> bool:
        """Resolve the server's jars with Maven once per version."""
        return resolve_jars(
            service="ZooKeeper",
            pom="zookeeper.pom.xml",
            version_property="zookeeper.version",
            version=self.version,
            libs=self.libs,
        )

    def _write_config(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(
            "\n".join(
                [
                    "# Written by vigie.stack.zookeeper; a standalone server on loopback.",
                    "tickTime=2000",
                    f"dataDir={self.data}",
                    f"clientPort={self.port}",
                    f"clientPortAddress={self.settings.host}",
                    "maxClientCnxns=0",
                    "admin.enableServer=false",  # its HTTP console would take port 8080
                    "4lw.commands.whitelist=srvr",
                    "autopurge.purgeInterval=1",
                    "",
                ]
            )
        )

    def healthy(self) -> bool:
        """True when the server answers ``srvr`` and is serving."""
        try:
            with socket.create_connection((self.settings.host, self.port), timeout=2) as conn:
                conn.sendall(b"srvr")
                answer = conn.recv(4096).decode(errors="replace")
        except OSError:
            return False
        return "Mode:" in answer

    def start(self) -> bool:
        """Start the server unless it is already up; wait until it serves."""
        if self.process.pid() is not None and self.healthy():
            return False
        if self.process.pid() is None:
            require_free_port(self.settings.host, self.port, "the ZooKeeper port")
            self.install()
            self._write_config()
            argv = [
                "java",
                "-Xms64m",
                "-Xmx256m",
                "-cp",
                f"{self.libs}/*",
                "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                str(self.config_file),
            ]
            self.process.start(argv, cwd=self.home)
        wait_until(self.healthy, 60, "ZooKeeper", self.log_file)
        return True

    def stop(self) -> bool:
        """Stop the server."""
        return self.process.stop(timeout_s=20)

    def status(self) -> ComponentStatus:
        """Health, version, port and data folder of the server."""
        pid = self.process.pid()
        healthy = pid is not None and self.healthy()
        state = process_state(pid, healthy, installed=(self.libs / ".complete").exists())
        return ComponentStatus(
            name=self.name,
            healthy=healthy,
            state=state,
            version=self.version,
            ports=(self.port,),
            data_dir=self.data,
            pid=pid,
            detail=f"client {self.settings.host}:{self.port}",
        )
