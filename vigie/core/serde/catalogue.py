"""The schemas under ``schemas/avro/``, parsed once and indexed by name and fingerprint.

Every ``.avsc`` file defines one named type (record or enum) and may refer to types defined in
other files by full name (``org.vigie.v1.Source``); files are parsed in whatever order
resolves those references. Each type is kept twice: parsed for fastavro (reading, writing)
and *expanded* (every referenced type inlined) — the self-contained form a registry stores,
the Java library parses, and the fingerprint is computed from.

Files under a ``history/`` folder are earlier versions of current schemas, kept so that a
reader can still resolve bytes written before a schema changed: they are indexed by
fingerprint as writer schemas only, never used as reader schemas, and must be
self-contained (expanded) because they reuse the current types' names.

Loading reads files and nothing else; the catalogue itself is immutable.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastavro.schema import parse_schema, to_parsing_canonical_form

from vigie.core.serde.errors import SchemaCatalogueError
from vigie.core.serde.fingerprint import fingerprint_bytes

#: Folder name (anywhere under the root) holding archived writer-only schema versions.
HISTORY_DIR = "history"

_PRIMITIVE_SIZES = {"null": 0, "boolean": 1, "int": 1, "long": 1, "float": 4, "double": 8}
_PRIMITIVE_SIZES |= {"bytes": 1, "string": 1}


@dataclass(frozen=True, slots=True)
class CatalogueSchema:
    """One named Avro type: its full name, both parsed forms and its identity."""

    name: str
    parsed: Any  # fastavro's parsed schema (references resolved through its named types)
    expanded: Mapping[str, Any]  # self-contained JSON form, every named type inlined
    canonical_form: str
    fingerprint: bytes  # 8 bytes, little-endian CRC-64-AVRO, as on the wire
    path: Path | None = None
    #: Same schema with logical types dropped: reads timestamps as int milliseconds and
    #: UUIDs as text, about twice as fast as building datetimes (the conversions want ints).
    parsed_plain: Any = None

    @property
    def json(self) -> str:
        """The expanded schema as compact JSON text (what a registry stores)."""
        return json.dumps(self.expanded, separators=(",", ":"), sort_keys=False)


@dataclass(frozen=True, slots=True)
class SchemaCatalogue:
    """Current schemas by full name, and every known writer schema by fingerprint."""

    current: Mapping[str, CatalogueSchema]
    by_fingerprint: Mapping[bytes, CatalogueSchema]
    files: Mapping[Path, str] = field(default_factory=dict)  # file -> full name it defines

    def __contains__(self, name: object) -> bool:
        return name in self.current

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.current))

    def get(self, name: str) -> CatalogueSchema:
        """The current schema of a full name (``org.vigie.v1.Incident``) or a unique short one."""
        found = self.current.get(name)
        if found is not None:
            return found
        matches = [s for full, s in self.current.items() if full.rsplit(".", 1)[-1] == name]
        if len(matches) == 1:
            return matches[0]
        msg = f"no schema named {name!r} in the catalogue" + (
            f" (ambiguous: {sorted(m.name for m in matches)})" if matches else ""
        )
        raise KeyError(msg)

    def writer(self, fingerprint: bytes) -> CatalogueSchema | None:
        """The writer schema, current or archived, whose fingerprint this is."""
        return self.by_fingerprint.get(fingerprint)

    @classmethod
    def load(cls, root: Path) -> SchemaCatalogue:
        """Parse every ``.avsc`` under ``root`` (``schemas/avro``)."""
        current_files: dict[Path, Any] = {}
        history_files: dict[Path, Any] = {}
        for path in sorted(root.rglob("*.avsc")):
            target = history_files if HISTORY_DIR in path.relative_to(root).parts else current_files
            target[path] = _read_json(path)
        return cls.from_documents(current_files, history_files)

    @classmethod
    def from_documents(
        cls,
        documents: Mapping[Path, Any],
        history: Mapping[Path, Any] | None = None,
    ) -> SchemaCatalogue:
        """Build a catalogue from already-read JSON documents (one named type each)."""
        named: dict[str, Any] = {}
        parsed_by_path: dict[Path, Any] = {}
        pending = dict(documents)
        while pending:
            progressed = False
            errors: dict[Path, str] = {}
            for path, doc in list(pending.items()):
                attempt = dict(named)
                try:
                    parsed = parse_schema(doc, attempt)
                except Exception as exc:  # fastavro raises several types for bad schemas
                    errors[path] = f"{type(exc).__name__}: {exc}"
                    continue
                named = attempt
                parsed_by_path[path] = parsed
                del pending[path]
                progressed = True
            if not progressed:
                problems = "; ".join(f"{p}: {e}" for p, e in sorted(errors.items()))
                msg = f"cannot parse schemas: {problems}"
                raise SchemaCatalogueError(msg)

        current: dict[str, CatalogueSchema] = {}
        files: dict[Path, str] = {}
        for path, parsed in parsed_by_path.items():
            if not isinstance(parsed, dict) or "name" not in parsed:
                msg = f"{path}: a schema file must define one named type (record or enum)"
                raise SchemaCatalogueError(msg)
            files[path] = parsed["name"]
        for full_name in sorted(named):
            entry = _entry(full_name, named[full_name], named, _path_of(files, full_name))
            _check_no_empty_array_items(entry.expanded, full_name)
            current[full_name] = entry

        by_fp: dict[bytes, CatalogueSchema] = {s.fingerprint: s for s in current.values()}
        for path, doc in sorted((history or {}).items()):
            try:
                archived: Any = parse_schema(doc, {})
                entry = _entry(archived["name"], archived, {}, path)
            except Exception as exc:
                msg = f"{path}: archived schemas must be self-contained named types: {exc}"
                raise SchemaCatalogueError(msg) from exc
            by_fp.setdefault(entry.fingerprint, entry)
        return cls(current=current, by_fingerprint=by_fp, files=files)


def expand(schema: Any, named: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Inline every named type ``schema`` refers to (the form registries and Java expect)."""
    expanded: Any = parse_schema(schema, dict(named or {}), expand=True)
    if not isinstance(expanded, dict):
        msg = "only named types (records, enums, fixed) can be catalogue entries"
        raise SchemaCatalogueError(msg)
    return expanded


def parse_standalone(schema_json: str) -> CatalogueSchema:
    """Parse a self-contained schema text (from a registry) into a writer schema."""
    doc = json.loads(schema_json)
    parsed = parse_schema(doc, {})
    name = parsed["name"] if isinstance(parsed, dict) and "name" in parsed else "<anonymous>"
    return _entry(name, parsed, {}, None)


def _entry(name: str, parsed: Any, named: Mapping[str, Any], path: Path | None) -> CatalogueSchema:
    expanded = expand(parsed, named)
    canonical = to_parsing_canonical_form(expanded)
    return CatalogueSchema(
        name=name,
        parsed=parse_schema(expanded, {}),
        expanded=_strip_fastavro_keys(expanded),
        canonical_form=canonical,
        fingerprint=fingerprint_bytes(canonical),
        path=path,
        parsed_plain=parse_schema(_strip_logical_types(expanded), {}),
    )


def _strip_logical_types(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [_strip_logical_types(v) for v in schema]
    return schema


def _strip_fastavro_keys(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_fastavro_keys(v) for k, v in schema.items() if not k.startswith("__")}
    if isinstance(schema, list):
        return [_strip_fastavro_keys(v) for v in schema]
    return schema


def _path_of(files: Mapping[Path, str], full_name: str) -> Path | None:
    for path, name in files.items():
        if name == full_name:
            return path
    return None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"{path}: not a readable JSON schema: {exc}"
        raise SchemaCatalogueError(msg) from exc


def _min_size(schema: Any, seen: frozenset[str] = frozenset()) -> int:
    """Smallest number of bytes one value of ``schema`` can be encoded in."""
    if isinstance(schema, str):
        return _PRIMITIVE_SIZES.get(schema, 1)
    if isinstance(schema, list):
        return 1  # the union branch index
    kind = schema.get("type")
    if kind in ("array", "map", "enum"):
        return 1
    if kind == "fixed":
        return int(schema.get("size", 0))
    if kind in ("record", "error"):
        name = schema.get("name", "")
        if name in seen:
            return 1  # recursion goes through a union or array, each at least one byte
        return sum(_min_size(f["type"], seen | {name}) for f in schema.get("fields", []))
    return _min_size(kind, seen)


def _check_no_empty_array_items(schema: Any, owner: str) -> None:
    """Refuse arrays whose items may take zero bytes.

    A decoder told that such an array holds 2**62 items would build them without reading a
    byte, so a few hostile bytes could exhaust memory. No domain needs such an array.
    """
    if isinstance(schema, list):
        for branch in schema:
            _check_no_empty_array_items(branch, owner)
        return
    if not isinstance(schema, dict):
        return
    kind = schema.get("type")
    if kind == "array":
        if _min_size(schema["items"]) == 0:
            msg = f"{owner}: array items that encode to zero bytes are not allowed"
            raise SchemaCatalogueError(msg)
        _check_no_empty_array_items(schema["items"], owner)
    elif kind == "map":
        _check_no_empty_array_items(schema["values"], owner)
    elif kind in ("record", "error"):
        for fld in schema.get("fields", []):
            _check_no_empty_array_items(fld["type"], owner)
    elif isinstance(kind, dict | list):
        _check_no_empty_array_items(kind, owner)
