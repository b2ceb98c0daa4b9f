"""Topics declared in ``schemas/topics.yaml``, and applying them to a cluster idempotently.

Loading and planning are pure (file in, typed specs and a plan out); :func:`apply_topics`
talks to the brokers through the AdminClient: it creates missing topics, sets the declared
configs on existing ones with incremental alters (leaving every other config alone), and
returns what it changed. Partition counts are never changed automatically: Kafka cannot
remove partitions, and adding some moves keys to other partitions, which breaks per-key
order on keyed topics such as ``incidents``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from vigie.config import Settings
from vigie.errors import VigieError

#: Longest retention of camera-derived data (French video-protection law, one month).
CAMERA_RETENTION_MAX_DAYS = 30
DAY_MS = 86_400_000


class TopicsError(VigieError):
    """topics.yaml is wrong, or the cluster refused a change."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One declared topic: name, size and the configs Vigie owns on it."""

    name: str
    partitions: int
    replication_factor: int
    data_class: str
    config: Mapping[str, str] = field(default_factory=dict)
    doc: str = ""

    @property
    def retention_days(self) -> float | None:
        """Retention in days, or None for a compacted topic without time retention."""
        ms = self.config.get("retention.ms")
        return None if ms is None or int(ms) < 0 else int(ms) / DAY_MS


@dataclass(frozen=True, slots=True)
class TopicState:
    """What the cluster has for one topic."""

    partitions: int
    config: Mapping[str, str]


ChangeKind = Literal["create", "alter", "partitions-differ"]


@dataclass(frozen=True, slots=True)
class TopicChange:
    """One change ``apply`` made (or, for partitions, found and left to a person)."""

    topic: str
    kind: ChangeKind
    detail: str
    config: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.kind:<17} {self.topic}: {self.detail}"


def topics_file(settings: Settings) -> Path:
    """Where the declarations live."""
    return settings.schemas_dir / "topics.yaml"


def load_topics(
    path: Path, default_partitions: int, default_replication: int = 1
) -> list[TopicSpec]:
    """Read and check the declarations."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        msg = f"cannot read {path}: {exc}"
        raise TopicsError(msg) from exc
    return parse_topics(doc, default_partitions, default_replication, where=str(path))


def parse_topics(
    doc: Any, default_partitions: int, default_replication: int = 1, where: str = "topics"
) -> list[TopicSpec]:
    """Typed specs from the YAML document, with every rule checked."""
    if not isinstance(doc, dict) or not isinstance(doc.get("topics"), list):
        msg = f"{where}: expected a mapping with a 'topics' list"
        raise TopicsError(msg)
    classes = doc.get("data_classes") or {}
    specs: list[TopicSpec] = []
    seen: set[str] = set()
    for i, entry in enumerate(doc["topics"]):
        if not isinstance(entry, dict) or not entry.get("name"):
            msg = f"{where}: topic #{i + 1} has no name"
            raise TopicsError(msg)
        name = str(entry["name"])
        if name in seen:
            msg = f"{where}: topic {name} is declared twice"
            raise TopicsError(msg)
        seen.add(name)
        data_class = entry.get("data_class")
        if data_class not in classes:
            msg = (
                f"{where}: topic {name} has data_class {data_class!r}, not one of {sorted(classes)}"
            )
            raise TopicsError(msg)
        spec = TopicSpec(
            name=name,
            partitions=int(entry.get("partitions", default_partitions)),
            replication_factor=int(entry.get("replication_factor", default_replication)),
            data_class=str(data_class),
            config=_class_config(classes[data_class], where, str(data_class))
            | {str(k): str(v) for k, v in (entry.get("config") or {}).items()},
            doc=str(entry.get("doc", "")),
        )
        _check(spec, where)
        specs.append(spec)
    return specs


def _class_config(cls: Any, where: str, name: str) -> dict[str, str]:
    if not isinstance(cls, dict):
        msg = f"{where}: data class {name} must be a mapping"
        raise TopicsError(msg)
    if cls.get("compacted"):
        return {"cleanup.policy": "compact"}
    days = cls.get("retention_days")
    if not isinstance(days, int | float) or days <= 0:
        msg = f"{where}: data class {name} needs retention_days > 0 or compacted: true"
        raise TopicsError(msg)
    return {"cleanup.policy": "delete", "retention.ms": str(int(days * DAY_MS))}


def _check(spec: TopicSpec, where: str) -> None:
    if spec.partitions < 1 or spec.replication_factor < 1:
        msg = f"{where}: topic {spec.name} needs at least one partition and one replica"
        raise TopicsError(msg)
    if spec.data_class == "camera" or "camera" in spec.name:
        days = spec.retention_days
        if days is None or days > CAMERA_RETENTION_MAX_DAYS:
            msg = (
                f"{where}: topic {spec.name} carries camera-derived data and must be deleted "
                f"within {CAMERA_RETENTION_MAX_DAYS} days (retention.ms), not "
                f"{'never' if days is None else f'{days:g} days'}"
            )
            raise TopicsError(msg)


def with_prefix(specs: Iterable[TopicSpec], prefix: str) -> list[TopicSpec]:
    """The same declarations under prefixed names (tests, side-by-side environments)."""
    return [replace(spec, name=prefix + spec.name) for spec in specs]


def plan(specs: Sequence[TopicSpec], existing: Mapping[str, TopicState]) -> list[TopicChange]:
    """What must change so the cluster matches the declarations (pure)."""
    changes: list[TopicChange] = []
    for spec in specs:
        state = existing.get(spec.name)
        if state is None:
            changes.append(
                TopicChange(
                    spec.name,
                    "create",
                    f"{spec.partitions} partition(s), replication {spec.replication_factor}, "
                    + ", ".join(f"{k}={v}" for k, v in sorted(spec.config.items())),
                    dict(spec.config),
                )
            )
            continue
        differ = {k: v for k, v in spec.config.items() if state.config.get(k) != v}
        if differ:
            detail = ", ".join(
                f"{k}: {state.config.get(k)} -> {v}" for k, v in sorted(differ.items())
            )
            changes.append(TopicChange(spec.name, "alter", detail, differ))
        if state.partitions != spec.partitions:
            changes.append(
                TopicChange(
                    spec.name,
                    "partitions-differ",
                    f"has {state.partitions}, declared {spec.partitions}; left as is "
                    "(see schemas/topics.yaml)",
                )
            )
    return changes


def apply_topics(
    settings: Settings,
    specs: Sequence[TopicSpec] | None = None,
    *,
    timeout: float = 30.0,
) -> list[TopicChange]:
    """Make the cluster match the declarations; return what changed (empty when nothing)."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    if specs is None:
        specs = declared_topics(settings)
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    existing = describe_topics(admin, [s.name for s in specs], timeout=timeout)
    changes = plan(specs, existing)
    by_name = {s.name: s for s in specs}

    to_create = [by_name[c.topic] for c in changes if c.kind == "create"]
    if to_create:
        futures = admin.create_topics(
            [
                NewTopic(s.name, s.partitions, s.replication_factor, config=dict(s.config))
                for s in to_create
            ],
            operation_timeout=timeout,
            request_timeout=timeout,
        )
        for name, future in futures.items():
            try:
                future.result(timeout)
            except KafkaException as exc:
                if exc.args and exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    continue  # created meanwhile by another apply: same declarations
                msg = f"cannot create topic {name}: {exc}"
                raise TopicsError(msg) from exc
        _wait_visible(admin, [s.name for s in to_create], timeout)

    alters = [c for c in changes if c.kind == "alter"]
    if alters:
        _alter(admin, alters, timeout)
        _wait_configs(admin, alters, timeout)
    return changes


def _wait_visible(admin: Any, names: Sequence[str], timeout: float) -> None:
    """Wait until the brokers' metadata lists new topics, so what follows can use them."""
    deadline = time.monotonic() + timeout
    while True:
        topics = admin.list_topics(timeout=timeout).topics
        if all(n in topics and not topics[n].error for n in names):
            return
        if time.monotonic() > deadline:
            late = sorted(n for n in names if n not in topics or topics[n].error)
            msg = f"created topics are still not visible after {timeout:g}s: {late}"
            raise TopicsError(msg)
        time.sleep(0.1)


def _wait_configs(admin: Any, alters: Sequence[TopicChange], timeout: float) -> None:
    """Wait until the brokers report altered configs (KRaft applies them asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        states = describe_topics(admin, [c.topic for c in alters], timeout=timeout)
        late = [
            c.topic
            for c in alters
            if any(
                states.get(c.topic, TopicState(0, {})).config.get(k) != v
                for k, v in c.config.items()
            )
        ]
        if not late:
            return
        if time.monotonic() > deadline:
            msg = f"altered configs are still not visible after {timeout:g}s on {sorted(late)}"
            raise TopicsError(msg)
        time.sleep(0.1)


def declared_topics(settings: Settings) -> list[TopicSpec]:
    """The declarations with this deployment's defaults."""
    return load_topics(
        topics_file(settings), settings.topic_partitions, settings.topic_replication_factor
    )


def describe_topics(
    admin: Any, names: Sequence[str], timeout: float = 30.0
) -> dict[str, TopicState]:
    """Partitions and configs of those of ``names`` that exist."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import ConfigResource

    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        msg = f"cannot reach Kafka to list topics: {exc} (is the stack up? vigie stack status)"
        raise TopicsError(msg) from exc
    present = [n for n in names if n in metadata.topics and not metadata.topics[n].error]
    if not present:
        return {}
    resources = [ConfigResource(ConfigResource.Type.TOPIC, n) for n in present]
    futures = admin.describe_configs(resources, request_timeout=timeout)
    states: dict[str, TopicState] = {}
    for resource, future in futures.items():
        try:
            entries = future.result(timeout)
        except KafkaException as exc:
            msg = f"cannot read the configs of topic {resource.name}: {exc}"
            raise TopicsError(msg) from exc
        config = {k: e.value for k, e in entries.items() if e.value is not None}
        states[resource.name] = TopicState(
            partitions=len(metadata.topics[resource.name].partitions), config=config
        )
    return states


def _alter(admin: Any, alters: Sequence[TopicChange], timeout: float) -> None:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

    resources = [
        ConfigResource(
            ConfigResource.Type.TOPIC,
            change.topic,
            incremental_configs=[
                ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
                for k, v in sorted(change.config.items())
            ],
        )
        for change in alters
    ]
    futures = admin.incremental_alter_configs(resources, request_timeout=timeout)
    for resource, future in futures.items():
        try:
            future.result(timeout)
        except KafkaException as exc:
            msg = f"cannot alter the configs of topic {resource.name}: {exc}"
            raise TopicsError(msg) from exc
