"""Apache Kafka 4.x in KRaft mode, one combined broker+controller node on loopback.

The jars come from Maven Central through ``maven/kafka.pom.xml`` (``mvn
dependency:copy-dependencies``), so the only prerequisites are Java 17 and Maven.
"""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

from vigie.config import Settings
from vigie.stack.component import ComponentStatus, process_state
from vigie.stack.jars import resolve_jars
from vigie.stack.process import (
    ManagedProcess,
    port_open,
    require_free_port,
    run_checked,
    wait_until,
)

_LOG4J2 = """\
Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka.request.logger
        level: WARN
      - name: org.apache.kafka.controller
        level: INFO
"""


class KafkaBroker:
    """A single-node KRaft cluster under ``<data_dir>/kafka``."""

    name = "kafka"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.data_dir / "kafka"
        self.libs = self.home / "libs" / settings.kafka_version
        self.data = self.home / "data"
        self.config_file = self.home / "server.properties"
        self.process = ManagedProcess(
            "kafka", self.home / "kafka.pid", self.home / "logs" / "kafka.log"
        )

    @property
    def log_file(self) -> Path:
        """The broker's combined stdout/stderr log."""
        return self.process.log_file

    def install(self) -> bool:
        """Resolve the broker jars with Maven once per Kafka version."""
        return resolve_jars(
            service="Kafka",
            pom="kafka.pom.xml",
            version_property="kafka.version",
            version=self.settings.kafka_version,
            libs=self.libs,
        )

    def _write_config(self) -> None:
        s = self.settings
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "log4j2.yaml").write_text(_LOG4J2)
        self.config_file.write_text(
            "\n".join(
                [
                    "# Written by `vigie stack up`; edit Settings (VIGIE_*), not this file.",
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.bootstrap.servers={s.host}:{s.kafka_controller_port}",
                    f"listeners=PLAINTEXT://{s.host}:{s.kafka_port},"
                    f"CONTROLLER://{s.host}:{s.kafka_controller_port}",
                    f"advertised.listeners=PLAINTEXT://{s.host}:{s.kafka_port},"
                    f"CONTROLLER://{s.host}:{s.kafka_controller_port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={self.data}",
                    f"num.partitions={s.topic_partitions}",
                    "offsets.topic.replication.factor=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=false",
                    "log.retention.check.interval.ms=60000",
                    "",
                ]
            )
        )

    def _java(self, main: str, *args: str) -> list[str]:
        return [
            "java",
            "-Xms256m",
            "-Xmx768m",
            "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.yaml'}",
            "-cp",
            f"{self.libs}/*",
            main,
            *args,
        ]

    def _format_storage(self) -> None:
        if (self.data / "meta.properties").exists():
            return
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        run_checked(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "-t",
                cluster_id,
                "-c",
                str(self.config_file),
            ),
            "formatting Kafka's KRaft storage",
        )

    def healthy(self) -> bool:
        """True when the broker answers a metadata request."""
        if not port_open(self.settings.host, self.settings.kafka_port):
            return False
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.settings.bootstrap_servers, "log_level": 0})
        try:
            admin.list_topics(timeout=3)
        except Exception:  # any client error means "not ready yet"
            return False
        return True

    def start(self) -> bool:
        """Start the broker unless it is already up; wait until it answers."""
        if self.process.pid() is not None and self.healthy():
            return False
        if self.process.pid() is None:
            require_free_port(self.settings.host, self.settings.kafka_port, "VIGIE_KAFKA_PORT")
            require_free_port(
                self.settings.host,
                self.settings.kafka_controller_port,
                "VIGIE_KAFKA_CONTROLLER_PORT",
            )
            self.install()
            self._write_config()
            self._format_storage()
            self.process.start(self._java("kafka.Kafka", str(self.config_file)), cwd=self.home)
        wait_until(self.healthy, 90, "Kafka", self.log_file)
        return True

    def stop(self) -> bool:
        """Stop the broker; it flushes its logs on SIGTERM."""
        return self.process.stop(timeout_s=45)

    def status(self) -> ComponentStatus:
        """Health, version, ports and data folder of the broker."""
        pid = self.process.pid()
        healthy = pid is not None and self.healthy()
        state = process_state(pid, healthy, installed=(self.libs / ".complete").exists())
        return ComponentStatus(
            name=self.name,
            healthy=healthy,
            state=state,
            version=self.settings.kafka_version,
            ports=(self.settings.kafka_port, self.settings.kafka_controller_port),
            data_dir=self.data,
            pid=pid,
            detail=f"bootstrap {self.settings.bootstrap_servers}",
        )
