"""Writer and analyst users: users.xml for 18.16 and SQL access control for current servers."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET

import pytest
from store_helpers import chdb_engine_fixture  # noqa: F401  (fixture)

from vigie.config import ConfigError, Settings
from vigie.store.engine import ChdbExecutor, StoreError, substitute
from vigie.store.roles import rbac_statements, render_users_xml

pytestmark = pytest.mark.unit


def _settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "clickhouse_writer_password": "w-secret",
        "clickhouse_analyst_password": "a-secret",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def test_users_xml_gives_each_user_only_what_it_needs() -> None:
    settings = _settings()
    root = ET.fromstring(render_users_xml(settings))
    writer = root.find("users/vigie_writer")
    analyst = root.find("users/vigie_analyst")
    admin = root.find("users/default")
    assert writer is not None and analyst is not None and admin is not None
    assert [d.text for d in analyst.findall("allow_databases/database")] == ["vigie"]
    assert [d.text for d in writer.findall("allow_databases/database")] == [
        "vigie",
        "vigie_private",
    ]
    assert admin.find("allow_databases") is None  # the administrator runs migrations
    assert root.findtext("profiles/vigie_analyst/readonly") == "1"
    assert root.findtext("profiles/vigie_writer/allow_ddl") == "0"
    assert root.findtext("profiles/vigie_writer/readonly") == "0"
    assert writer.findtext("password_sha256_hex") == hashlib.sha256(b"w-secret").hexdigest()
    assert analyst.findtext("profile") == "vigie_analyst"
    assert root.find("quotas/default") is not None
    text = render_users_xml(settings)
    assert "w-secret" not in text and "a-secret" not in text


def test_users_xml_follows_configured_names() -> None:
    settings = _settings(
        clickhouse_database="city",
        clickhouse_private_database="city_pii",
        clickhouse_analyst_user="ana",
    )
    root = ET.fromstring(render_users_xml(settings))
    analyst = root.find("users/ana")
    assert analyst is not None
    assert [d.text for d in analyst.findall("allow_databases/database")] == ["city"]


def test_bad_identifiers_are_refused() -> None:
    with pytest.raises(StoreError, match="VIGIE_CLICKHOUSE_ANALYST_USER"):
        render_users_xml(_settings(clickhouse_analyst_user="x; DROP TABLE y"))
    with pytest.raises(StoreError, match="VIGIE_CLICKHOUSE_DATABASE"):
        rbac_statements(_settings(clickhouse_database="vigie.events"))


def test_production_needs_real_passwords() -> None:
    with pytest.raises(ConfigError, match="VIGIE_CLICKHOUSE_WRITER_PASSWORD"):
        render_users_xml(Settings(profile="production", clickhouse_analyst_password="x"))
    assert "local-development" in Settings().clickhouse_role_password("analyst")


def test_rbac_statements_parse_on_a_current_clickhouse(chdb_engine: ChdbExecutor) -> None:
    statements = rbac_statements(_settings())
    grants = [s.sql for s in statements if s.sql.startswith("GRANT")]
    assert "GRANT SELECT ON vigie.* TO vigie_analyst_role" in grants
    assert "GRANT SELECT, INSERT ON vigie_private.* TO vigie_writer_role" in grants
    assert not any("vigie_private" in g and "analyst" in g for g in grants)
    for statement in statements:
        assert "secret" not in statement.sql  # passwords only travel as parameters
        rendered = substitute(statement.sql, statement.params)
        formatted = chdb_engine.query("SELECT formatQuery(%(q)s)", {"q": rendered}).scalar()
        assert formatted  # the current parser accepts it
