"""Resolving a Java service's jars: done once per version, with a clear error when tools lack."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigie.stack import jars
from vigie.stack.process import StackError

pytestmark = pytest.mark.unit


def _resolve(libs: Path) -> bool:
    return jars.resolve_jars(
        service="Kafka",
        pom="kafka.pom.xml",
        version_property="kafka.version",
        version="9",
        libs=libs,
    )


def test_already_resolved_jars_are_not_fetched_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".complete").write_text("9")
    monkeypatch.setattr(jars, "run_checked", lambda *a, **k: pytest.fail("mvn ran"))
    assert _resolve(tmp_path) is False


@pytest.mark.parametrize(("missing", "named"), [("java", "openjdk"), ("mvn", "maven")])
def test_a_missing_tool_is_named_with_its_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: str, named: str
) -> None:
    monkeypatch.setattr(jars.shutil, "which", lambda tool: None if tool == missing else "/bin/x")
    with pytest.raises(StackError, match=named):
        _resolve(tmp_path)


def test_mvn_copies_the_dependencies_of_the_version_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(jars.shutil, "which", lambda tool: "/bin/x")
    monkeypatch.setattr(jars, "run_checked", lambda argv, what: calls.append(list(argv)) or "")
    assert _resolve(tmp_path) is True
    assert "-Dkafka.version=9" in calls[0] and f"-DoutputDirectory={tmp_path}" in calls[0]
    assert (tmp_path / ".complete").read_text() == "9"
