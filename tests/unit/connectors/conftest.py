"""Shared inputs of the connector tests: the samples, a fixed ingest clock, the Marseille box."""

from __future__ import annotations

import pytest
from feed_support import INGEST, KEY, REPO, SAMPLES

from connectors.base import ParseContext, load_city
from connectors.camera import load_camera_registry
from connectors.transport import load_static_gtfs


@pytest.fixture(scope="session")
def ctx() -> ParseContext:
    return ParseContext(load_city(REPO / "cities" / "marseille"), KEY, INGEST)


@pytest.fixture(scope="session")
def registry():  # type: ignore[no-untyped-def]
    return load_camera_registry(SAMPLES / "cameras.csv")


@pytest.fixture(scope="session")
def static_gtfs():  # type: ignore[no-untyped-def]
    return load_static_gtfs(SAMPLES / "gtfs")
