"""Shared fixtures: the real local stack for integration and fault tests.

Integration tests never mock Kafka, Flink or ClickHouse. The ``stack`` fixture brings the
project's own stack up once per session (reusing one that is already running) and leaves it
running afterwards, so a developer's next run starts fast; CI starts from nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from vigie.config import Settings, load_settings
from vigie.stack.stack import LocalStack


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The configuration every test shares (defaults, or VIGIE_* from the environment)."""
    return load_settings()


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Iterator[Settings]:
    """A running local stack; yields the settings that reach it."""
    LocalStack(settings).up()
    yield settings


@pytest.fixture
def unique_name() -> str:
    """A fresh suffix so each test gets its own topics and tables."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def scratch_topics(stack: Settings) -> Iterator[Callable[[list[str]], list[str]]]:
    """Make topics for one test, created empty, deleted afterwards, that never expire records.

    Producers stamp each record with its event time, and the simulated scenarios and the
    connector samples lie days or weeks back: under the broker's default time retention
    (7 days) a record that old is deleted at the next retention check (every 5 minutes),
    so a test reading it back would pass or hang depending on when that check fell.
    """
    admin = AdminClient({"bootstrap.servers": stack.bootstrap_servers})
    made: list[str] = []

    def make(names: list[str]) -> list[str]:
        keep = {"retention.ms": "-1"}
        for future in admin.create_topics([NewTopic(n, 2, 1, config=keep) for n in names]).values():
            future.result(30)
        made.extend(names)
        return names

    yield make
    if made:
        for future in admin.delete_topics(made).values():
            future.result(30)
