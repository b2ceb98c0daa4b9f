"""Fixtures for the ClickHouse store tests on chdb (a current ClickHouse, in-process).

chdb holds one data folder per process, so every test shares one session and gets its own
pair of databases instead; they are dropped afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from vigie.config import REPO_ROOT
from vigie.store.engine import ChdbExecutor
from vigie.store.incident_store import IncidentStore
from vigie.store.sample_data import SampleCity, build_sample
from vigie.store.schema import Databases, drop_databases, load_migrations, migrate

MIGRATIONS = REPO_ROOT / "schemas" / "clickhouse"
QUERIES = MIGRATIONS / "queries"
#: Sample data ends at the current hour, so TTLs on current engines keep it.
ANCHOR_MS = int(datetime.now(UTC).timestamp() * 1000)


@pytest.fixture(name="chdb_engine", scope="session")
def chdb_engine_fixture() -> ChdbExecutor:
    """The process's chdb session (chdb opens one folder per process; any test may be first)."""
    return ChdbExecutor()


@pytest.fixture(name="databases")
def databases_fixture(chdb_engine: ChdbExecutor) -> Iterator[Databases]:
    suffix = uuid.uuid4().hex[:8]
    dbs = Databases(f"vigie_t{suffix}", f"vigie_t{suffix}_private")
    yield dbs
    drop_databases(chdb_engine, dbs)


@pytest.fixture(name="migrated")
def migrated_fixture(chdb_engine: ChdbExecutor, databases: Databases) -> Databases:
    migrate(chdb_engine, databases, load_migrations(MIGRATIONS))
    return databases


@pytest.fixture(name="sample", scope="session")
def sample_fixture() -> SampleCity:
    return build_sample(ANCHOR_MS)


@pytest.fixture(name="store")
def store_fixture(chdb_engine: ChdbExecutor, migrated: Databases) -> IncidentStore:
    return IncidentStore(chdb_engine, migrated)


def load(store: IncidentStore, city: SampleCity) -> None:
    store.insert_events(city.events)
    store.insert_incidents(city.incidents)
    store.insert_acks(city.acks)
