"""The analyst cookbook on a current engine (chdb): every question answers, plausibly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from cookbook_checks import CHECKS
from store_helpers import (  # noqa: F401  (fixtures)
    MIGRATIONS,
    QUERIES,
    chdb_engine_fixture,
    databases_fixture,
    load,
    migrated_fixture,
    sample_fixture,
    store_fixture,
)

from vigie.config import REPO_ROOT
from vigie.store.cookbook import CookbookQuery, load_cookbook
from vigie.store.engine import ChdbExecutor
from vigie.store.incident_store import IncidentStore
from vigie.store.sample_data import SampleCity
from vigie.store.schema import Databases, drop_databases, load_migrations, migrate

pytestmark = pytest.mark.unit

COOKBOOK = load_cookbook(QUERIES)


def test_the_cookbook_has_ten_questions_or_more() -> None:
    assert len(COOKBOOK) >= 10
    assert {q.name for q in COOKBOOK} == set(CHECKS)
    numbers = [q.number for q in COOKBOOK]
    assert numbers == sorted(set(numbers))


def test_every_query_is_in_the_cookbook_doc() -> None:
    doc = (REPO_ROOT / "docs" / "analyst-cookbook.md").read_text()
    for query in COOKBOOK:
        assert query.title in doc
        assert query.sql in doc, f"{query.path.name} differs from its copy in the doc"


@pytest.fixture(name="loaded", scope="module")
def loaded_fixture(chdb_engine: ChdbExecutor, sample: SampleCity) -> Iterator[Databases]:
    suffix = uuid.uuid4().hex[:8]
    dbs = Databases(f"vigie_c{suffix}", f"vigie_c{suffix}_private")
    migrate(chdb_engine, dbs, load_migrations(MIGRATIONS))
    load(IncidentStore(chdb_engine, dbs), sample)
    yield dbs
    drop_databases(chdb_engine, dbs)


@pytest.mark.parametrize("query", COOKBOOK, ids=lambda q: q.name)
def test_query_answers_plausibly_on_a_current_engine(
    chdb_engine: ChdbExecutor, loaded: Databases, query: CookbookQuery
) -> None:
    chdb_engine.command(f"USE {loaded.main}")
    result = chdb_engine.query(query.sql)
    assert result.rows, f"{query.name} returned nothing"
    CHECKS[query.name](result)
