"""Shared fixtures: the real local stack for integration and fault tests.

Integration tests never mock Kafka, Flink or ClickHouse. The ``stack`` fixture brings the
project's own stack up once per session (reusing one that is already running) and leaves it
running afterwards, so a developer's next run starts fast; CI starts from nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

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
