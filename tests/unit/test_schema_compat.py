"""Every schema stays full-transitively compatible with its committed history.

For each ``.avsc`` file under ``schemas/avro`` (the archive folder aside), every version of
that file in the git history must be both readable by the current version (backward) and
able to read it (forward) — unless the current version carries a new major version in its
namespace or name (``org.vigie.v2``), which makes it a different schema. Each earlier version
must also be findable by fingerprint (current, or archived under ``history/``) so that
single-object bytes written before the change still decode.
"""

from __future__ import annotations

import json
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import avro.schema
import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from vigie.config import REPO_ROOT
from vigie.core.serde import SchemaCatalogue
from vigie.core.serde.catalogue import HISTORY_DIR

pytestmark = pytest.mark.unit

AVRO_DIR = REPO_ROOT / "schemas" / "avro"
CURRENT = SchemaCatalogue.load(AVRO_DIR)
_MAJOR = re.compile(r"(?:^|\.)v(\d+)(?:\.|$)")


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO_ROOT), *args], check=True, capture_output=True, text=True
    ).stdout


def _in_git() -> bool:
    try:
        return _git("rev-parse", "--is-inside-work-tree").strip() == "true"
    except (OSError, subprocess.CalledProcessError):
        return False


@cache
def _catalogue_at(commit: str) -> SchemaCatalogue:
    """The schema catalogue as committed at ``commit`` (all files, for cross-file refs)."""
    rel = AVRO_DIR.relative_to(REPO_ROOT).as_posix()
    current: dict[Path, Any] = {}
    history: dict[Path, Any] = {}
    for name in _git("ls-tree", "-r", "--name-only", commit, "--", rel).splitlines():
        if not name.endswith(".avsc"):
            continue
        doc = json.loads(_git("show", f"{commit}:{name}"))
        path = REPO_ROOT / name
        target = history if HISTORY_DIR in Path(name).parts else current
        target[path] = doc
    return SchemaCatalogue.from_documents(current, history)


def _versions(path: Path) -> list[str]:
    rel = path.relative_to(REPO_ROOT).as_posix()
    return _git("log", "--format=%H", "--follow", "--", rel).split()


def _major(full_name: str) -> int | None:
    found = _MAJOR.findall(full_name)
    return int(found[-1]) if found else None


def incompatibilities(old: str, new: str) -> list[str]:
    """Problems in either direction between two self-contained schema texts."""
    old_schema, new_schema = avro.schema.parse(old), avro.schema.parse(new)
    checker = ReaderWriterCompatibilityChecker()
    problems = []
    for direction, reader, writer in [
        ("backward (new reads old)", new_schema, old_schema),
        ("forward (old reads new)", old_schema, new_schema),
    ]:
        result = checker.get_compatibility(reader, writer)
        if result.compatibility is not SchemaCompatibilityType.compatible:
            problems.append(f"{direction}: {sorted(result.messages)} at {result.locations}")
    return problems


SCHEMA_FILES = sorted(CURRENT.files)


def test_the_checker_catches_incompatible_changes() -> None:
    """The compatibility check itself must be able to fail."""
    v1 = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "string"}]}
    required_added = {**v1, "fields": [*v1["fields"], {"name": "b", "type": "long"}]}
    optional_added = {
        **v1,
        "fields": [*v1["fields"], {"name": "b", "type": ["null", "long"], "default": None}],
    }
    enum = {"type": "enum", "name": "E", "symbols": ["x"]}
    enum_grown = {**enum, "symbols": ["x", "y"]}
    assert incompatibilities(json.dumps(v1), json.dumps(optional_added)) == []
    assert incompatibilities(json.dumps(v1), json.dumps(required_added))  # backward breaks
    assert incompatibilities(json.dumps(enum), json.dumps(enum_grown))  # no default: forward
    with_default = {**enum, "default": "x"}
    grown = {**enum_grown, "default": "x"}
    assert incompatibilities(json.dumps(with_default), json.dumps(grown)) == []
    assert _major("org.vigie.v1.Incident") == 1
    assert _major("org.vigie.v2.Incident") == 2


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.relative_to(AVRO_DIR).as_posix())
def test_schema_is_full_transitive_compatible_with_its_history(path: Path) -> None:
    current = CURRENT.get(CURRENT.files[path])
    assert current.canonical_form  # parses, even with no history at all
    if not _in_git():
        pytest.fail("the compatibility check needs the git history of schemas/avro")
    problems = []
    for commit in _versions(path):
        try:
            old_catalogue = _catalogue_at(commit)
        except Exception as exc:  # a broken commit cannot be a compatibility baseline
            problems.append(f"{commit[:10]}: its schemas do not load: {exc}")
            continue
        old_name = old_catalogue.files.get(path)
        if old_name is None:
            continue  # the file was deleted or renamed at that commit
        old = old_catalogue.get(old_name)
        if old.fingerprint == current.fingerprint:
            continue
        if old.name != current.name and _major(old.name) != _major(current.name):
            continue  # a new major version is a new schema
        problems += [f"{commit[:10]}: {p}" for p in incompatibilities(old.json, current.json)]
        if CURRENT.writer(old.fingerprint) is None:
            archive = AVRO_DIR / HISTORY_DIR / old.name / f"{old.fingerprint.hex()}.avsc"
            problems.append(
                f"{commit[:10]}: bytes written with that version would be unknown_schema: "
                f"archive it as {archive.relative_to(REPO_ROOT)} (its expanded JSON)"
            )
    assert not problems, f"{current.name} ({path.name}):\n" + "\n".join(problems)


def archive_missing() -> list[Path]:
    """Write every committed version that no fingerprint reaches into ``history/``."""
    written = []
    for path in SCHEMA_FILES:
        for commit in _versions(path):
            old_name = _catalogue_at(commit).files.get(path)
            if old_name is None:
                continue
            old = _catalogue_at(commit).get(old_name)
            if CURRENT.writer(old.fingerprint) is not None:
                continue
            target = AVRO_DIR / HISTORY_DIR / old.name / f"{old.fingerprint.hex()}.avsc"
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(old.expanded, indent=2) + "\n", encoding="utf-8")
                written.append(target)
    return written


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--archive"]:
        sys.exit("usage: python tests/unit/test_schema_compat.py --archive")
    for written_path in archive_missing():
        print(f"archived {written_path.relative_to(REPO_ROOT)}")
