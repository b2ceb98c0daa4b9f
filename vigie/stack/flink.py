"""Flink for local runs: PyFlink's embedded MiniCluster plus connector jars from Maven.

There is no Flink process to start locally: each job runs its own MiniCluster inside the
Python process. What the stack provides is the Kafka connector jar, built for the pinned
Flink line, resolved once into ``<data_dir>/flink/jars``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from vigie.config import Settings
from vigie.stack.component import ComponentStatus
from vigie.stack.process import StackError, run_checked


class FlinkRuntime:
    """The connector jars PyFlink jobs load, and the PyFlink version they run on."""

    name = "flink"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.data_dir / "flink"
        self.jar_dir = self.home / "jars"

    @property
    def log_file(self) -> Path:
        """Jobs log where they run; the stack only records the jar download here."""
        return self.home / "install.log"

    def jars(self) -> list[Path]:
        """The connector jars to add to a job's classpath."""
        return sorted(self.jar_dir.glob("*.jar"))

    def jar_urls(self) -> list[str]:
        """The jars as ``file://`` URLs, the form ``pipeline.jars`` wants."""
        return [p.resolve().as_uri() for p in self.jars()]

    def _expected_jar(self) -> Path:
        _, artifact, version = self.settings.flink_kafka_connector.split(":")
        return self.jar_dir / f"{artifact}-{version}.jar"

    def install(self) -> bool:
        """Fetch the Kafka connector jar with Maven once."""
        if self._expected_jar().exists():
            return False
        if shutil.which("mvn") is None:
            msg = "Maven is needed once to fetch the Flink Kafka connector: apt-get install maven"
            raise StackError(msg)
        self.jar_dir.mkdir(parents=True, exist_ok=True)
        out = run_checked(
            [
                "mvn", "-q", "-B", "dependency:copy",
                f"-Dartifact={self.settings.flink_kafka_connector}",
                f"-DoutputDirectory={self.jar_dir}",
            ],
            "fetching the Flink Kafka connector jar with mvn",
        )  # fmt: skip
        self.log_file.write_text(out)
        return True

    def start(self) -> bool:
        """Nothing runs until a job starts; make sure the jars are there."""
        return self.install()

    def stop(self) -> bool:
        """No standing process to stop."""
        return False

    def status(self) -> ComponentStatus:
        """Whether the connector jar and PyFlink are present."""
        try:
            from importlib.metadata import version

            pyflink_version = version("apache-flink")
        except Exception:  # not installed
            pyflink_version = "missing"
        has_jar = self._expected_jar().exists()
        java = shutil.which("java") is not None
        healthy = has_jar and java and pyflink_version != "missing"
        detail = "MiniCluster per job; jar " + (self._expected_jar().name if has_jar else "missing")
        if not java:
            detail += "; java missing"
        return ComponentStatus(
            name=self.name,
            healthy=healthy,
            state="ready" if healthy else "missing",
            version=pyflink_version,
            ports=(),
            data_dir=self.jar_dir,
            detail=detail,
        )
