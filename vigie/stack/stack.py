"""The local stack as a whole: bring every component up, down, or report on it."""

from __future__ import annotations

from collections.abc import Callable

from vigie.config import Settings
from vigie.stack.clickhouse import ClickHouseServer
from vigie.stack.component import Component, ComponentStatus
from vigie.stack.flink import FlinkRuntime
from vigie.stack.kafka import KafkaBroker
from vigie.stack.process import StackError

Progress = Callable[[str], None]


class LocalStack:
    """Kafka, ClickHouse and the Flink runtime, in start order."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.kafka = KafkaBroker(settings)
        self.clickhouse = ClickHouseServer(settings)
        self.flink = FlinkRuntime(settings)
        self.components: dict[str, Component] = {
            "kafka": self.kafka,
            "clickhouse": self.clickhouse,
            "flink": self.flink,
        }

    def component(self, name: str) -> Component:
        """Look a component up by name, listing the valid names when it is wrong."""
        try:
            return self.components[name]
        except KeyError:
            msg = f"unknown component {name!r}; choose one of {', '.join(self.components)}"
            raise StackError(msg) from None

    def up(self, progress: Progress = lambda _: None) -> list[str]:
        """Install and start whatever is not running yet; return what was started.

        Then declare what the pipeline needs on them: the topics of ``schemas/topics.yaml``
        and the ClickHouse migrations. Both steps are idempotent, so ``up`` stays a no-op
        on a running stack.
        """
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        started = []
        for name, comp in self.components.items():
            progress(f"{name}: installing (first run only) and starting ...")
            if comp.start():
                started.append(name)
            progress(f"{name}: {comp.status().state}")
        self._declare(progress)
        return started

    def _declare(self, progress: Progress) -> None:
        from vigie.kafka.topics import apply_topics
        from vigie.store.cluster import ClusterLayout
        from vigie.store.engine import connect
        from vigie.store.schema import Databases, load_migrations, migrate, migrations_dir

        changes = apply_topics(self.settings)
        if changes:
            progress(f"kafka: {len(changes)} topic change(s) applied")
        executor = connect(self.settings, "admin")
        try:
            report = migrate(
                executor,
                Databases.from_settings(self.settings),
                load_migrations(migrations_dir(self.settings)),
                layout=ClusterLayout.from_settings(self.settings),
            )
        finally:
            executor.close()
        if report.applied:
            progress(f"clickhouse: {len(report.applied)} migration(s) applied")

    def down(self, progress: Progress = lambda _: None) -> list[str]:
        """Stop every running component, the broker last so clients finish first."""
        stopped = []
        for name in ("flink", "clickhouse", "kafka"):
            progress(f"{name}: stopping ...")
            if self.components[name].stop():
                stopped.append(name)
        return stopped

    def status(self) -> list[ComponentStatus]:
        """One status per component."""
        return [comp.status() for comp in self.components.values()]
