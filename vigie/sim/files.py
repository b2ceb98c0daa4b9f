"""File adapter: write a scenario as the connectors' input files, plus the ground truth.

Layout under ``--out DIR`` (one folder per connector, so ``vigie connect <feed> --watch``
can point at it)::

    police/calls[-NNNN].csv       fire/dispatch[-NNNN].csv     camera/events[-NNNN].jsonl
    transport/feed-<epoch s>.pb   weather/observations[-NNNN].csv  weather/alert-NNNN.xml
    permits/permits-NNNN.geojson
    ground_truth.jsonl  background.jsonl  rejections.jsonl  manifest.json

Records are written in publish order. With ``chunk_s`` > 0 each CSV/JSONL feed is cut into one
file per ``chunk_s`` seconds of city time (a watched folder sees whole files appear, each
written to a temporary name and renamed); GTFS-Realtime is always one FeedMessage snapshot per
``snapshot_s``. The sink knows each record's file and 1-based record index, which is what the
rejection list needs to name a malformed record exactly as the connector's DLQ will.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from vigie.sim import render
from vigie.sim.model import Feed, Scenario, SimRecord, TruthRole

CSV_HEADERS: dict[Feed, tuple[str, ...]] = {
    Feed.POLICE: render.POLICE_COLUMNS,
    Feed.FIRE: render.FIRE_COLUMNS,
    Feed.WEATHER_OBS: render.WEATHER_COLUMNS,
}
#: Folder and base name of each line-oriented feed.
LINE_FILES: dict[Feed, tuple[str, str, str]] = {
    Feed.POLICE: ("police", "calls", "csv"),
    Feed.FIRE: ("fire", "dispatch", "csv"),
    Feed.CAMERA: ("camera", "events", "jsonl"),
    Feed.WEATHER_OBS: ("weather", "observations", "csv"),
}


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@dataclass
class _LineBuffer:
    folder: str
    stem: str
    ext: str
    header: str | None
    lines: list[str] = field(default_factory=list)
    chunk_start: int | None = None
    files: int = 0


class FileSink:
    """Writes records, in publish order, into the connectors' input formats."""

    def __init__(
        self,
        out: Path,
        timezone: str,
        *,
        chunk_s: int = 0,
        snapshot_s: int = 60,
        placed: dict[tuple[str, int], SimRecord] | None = None,
    ) -> None:
        self.out = out
        self.placed = placed  # filled with (file, record index) -> record, when given
        self.tz = ZoneInfo(timezone)
        self.chunk_ms = chunk_s * 1000
        self.snapshot_ms = snapshot_s * 1000
        self.file_counts: dict[str, int] = {}
        self.rejections: list[dict[str, Any]] = []
        self._lines: dict[Feed, _LineBuffer] = {
            feed: _LineBuffer(
                folder,
                stem,
                ext,
                ",".join(CSV_HEADERS[feed]) if feed in CSV_HEADERS else None,
            )
            for feed, (folder, stem, ext) in LINE_FILES.items()
        }
        self._pending: dict[str, list[tuple[SimRecord, int]]] = {}
        self._permits: list[tuple[SimRecord, dict[str, Any]]] = []
        self._permit_files = 0
        self._alerts = 0
        self._snapshot: Any = None
        self._snapshot_window: int | None = None
        self._snapshot_ids: set[str] = set()
        self._carry: list[SimRecord] = []
        for folder in ("police", "fire", "camera", "transport", "weather", "permits"):
            (out / folder).mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ per record
    def write(self, rec: SimRecord) -> None:
        """Add one record (records must come in publish order)."""
        if rec.feed is not Feed.PERMIT and self._permits:
            self._flush_permits()
        self._flush_due(rec.publish_time)
        if rec.feed in self._lines:
            self._write_line(rec)
        elif rec.feed is Feed.TRANSPORT:
            self._write_entity(rec)
        elif rec.feed is Feed.WEATHER_ALERT:
            self._alerts += 1
            name = f"weather/alert-{self._alerts:04d}.xml"
            _atomic_write(self.out / name, render.cap_document(rec, self.tz))
            self._count(name, [rec])
        else:
            self._permits.append((rec, render.permit_feature(rec, self.tz)))

    def _flush_due(self, now: int) -> None:
        """Close every chunk and snapshot whose window has passed, so a paced replay never
        holds a quiet feed's records back until that feed's next record."""
        if self.chunk_ms:
            for feed, buf in self._lines.items():
                start = buf.chunk_start
                if buf.lines and start is not None and now >= start + self.chunk_ms:
                    self._flush_lines(feed)
        if self._snapshot is not None and now // self.snapshot_ms != self._snapshot_window:
            self._flush_snapshot()

    def _render_line(self, rec: SimRecord) -> str:
        if rec.feed is Feed.POLICE:
            return render.police_line(rec, self.tz)
        if rec.feed is Feed.FIRE:
            return render.fire_line(rec, self.tz)
        if rec.feed is Feed.CAMERA:
            return render.camera_line(rec, self.tz)
        return render.weather_line(rec)

    def _write_line(self, rec: SimRecord) -> None:
        buf = self._lines[rec.feed]
        if (
            self.chunk_ms
            and buf.lines
            and buf.chunk_start is not None
            and rec.publish_time >= buf.chunk_start + self.chunk_ms
        ):
            self._flush_lines(rec.feed)
        if not buf.lines:
            buf.chunk_start = rec.publish_time
        buf.lines.append(self._render_line(rec))
        self._pending.setdefault(rec.feed.value, []).append((rec, len(buf.lines)))

    def _flush_lines(self, feed: Feed) -> None:
        buf = self._lines[feed]
        if not buf.lines:
            return
        buf.files += 1
        suffix = f"-{buf.files:04d}" if self.chunk_ms else ""
        name = f"{buf.folder}/{buf.stem}{suffix}.{buf.ext}"
        body = ([buf.header] if buf.header else []) + buf.lines
        _atomic_write(self.out / name, ("\n".join(body) + "\n").encode("utf-8"))
        recs = self._pending.pop(feed.value, [])
        self._count(name, [r for r, _ in recs], [i for _, i in recs])
        buf.lines = []
        buf.chunk_start = None

    def _write_entity(self, rec: SimRecord) -> None:
        window = rec.publish_time // self.snapshot_ms
        if self._snapshot_window is not None and window != self._snapshot_window:
            self._flush_snapshot()
        if self._snapshot is None:
            self._open_snapshot(window, (window + 1) * self.snapshot_ms // 1000)
        self._add_entity(rec)

    def _open_snapshot(self, window: int, timestamp_s: int) -> None:
        self._snapshot_window = window
        self._snapshot = render.new_feed_message(timestamp_s)
        self._snapshot_ids = set()
        carry, self._carry = self._carry, []
        for old in carry:
            self._add_entity(old)

    def _add_entity(self, rec: SimRecord) -> None:
        ent_id = rec.attrs.get("entity_id", rec.source_ref)
        if ent_id in self._snapshot_ids:  # one entity id per FeedMessage: next snapshot
            self._carry.append(rec)
            return
        render.add_entity(self._snapshot, rec)
        self._snapshot_ids.add(ent_id)
        self._pending.setdefault("transport", []).append((rec, len(self._snapshot.entity)))

    def _flush_snapshot(self) -> None:
        if self._snapshot is None:
            return
        name = f"transport/feed-{self._snapshot.header.timestamp}.pb"
        _atomic_write(self.out / name, self._snapshot.SerializeToString())
        recs = self._pending.pop("transport", [])
        self._count(name, [r for r, _ in recs], [i for _, i in recs])
        self._snapshot = None
        self._snapshot_window = None

    def _flush_permits(self) -> None:
        self._permit_files += 1
        name = f"permits/permits-{self._permit_files:04d}.geojson"
        _atomic_write(self.out / name, render.permits_document([f for _, f in self._permits]))
        self._count(name, [r for r, _ in self._permits])
        self._permits = []

    def _count(self, name: str, recs: list[SimRecord], idx: list[int] | None = None) -> None:
        self.file_counts[name] = len(recs)
        for k, rec in enumerate(recs):
            if self.placed is not None:
                self.placed[(name, idx[k] if idx else k + 1)] = rec
            if rec.defect is not None:
                self.rejections.append(
                    {
                        "source": rec.source.value,
                        "file": name,
                        "record": idx[k] if idx else k + 1,
                        "reason": rec.defect,
                        "source_ref": rec.source_ref,
                    }
                )

    def close(self) -> None:
        """Flush every open buffer to its file."""
        for feed in self._lines:
            self._flush_lines(feed)
        self._flush_snapshot()
        while self._carry:
            last = max(r.publish_time for r in self._carry) // 1000
            self._open_snapshot(-1, last + self.snapshot_ms // 1000)
            self._flush_snapshot()
        if self._permits:
            self._flush_permits()


# ---------------------------------------------------------------------- ground truth
def truth_lines(scenario: Scenario) -> list[dict[str, Any]]:
    """One dict per true incident (the ``ground_truth.jsonl`` contract)."""
    refs: dict[str, list[list[str]]] = {}
    seen: set[tuple[str, str]] = set()
    for rec in scenario.records:
        if rec.role is TruthRole.EVIDENCE and rec.incident and rec.defect is None:
            pair = (rec.source.value, rec.source_ref)
            if pair not in seen:
                seen.add(pair)
                refs.setdefault(rec.incident, []).append(list(pair))
    return [
        {
            "incident": inc.incident_id,
            "category": inc.category,
            "source_refs": refs.get(inc.incident_id, []),
            "context_refs": [list(p) for p in inc.context_refs],
            "start": inc.start,
            "lon": inc.lon,
            "lat": inc.lat,
            "sector": inc.sector,
            "tags": list(inc.tags),
            **({"related": list(inc.related)} if inc.related else {}),
        }
        for inc in scenario.incidents
    ]


def background_lines(scenario: Scenario) -> list[dict[str, Any]]:
    """Every valid record of no incident, once per ``(source, source_ref)``."""
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for rec in scenario.records:
        if rec.incident is None and rec.defect is None:
            pair = (rec.source.value, rec.source_ref)
            if pair not in seen:
                seen.add(pair)
                out.append(
                    {
                        "source": pair[0],
                        "source_ref": pair[1],
                        "kind": rec.kind,
                        "role": rec.role.value,
                    }
                )
    return out


def _jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    _atomic_write(
        path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    )


def write_scenario(
    scenario: Scenario,
    out: Path,
    timezone: str,
    *,
    chunk_s: int = 0,
    snapshot_s: int = 60,
    pace: Callable[[SimRecord], object] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Write every record and the truth files; returns the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    sink = FileSink(out, timezone, chunk_s=chunk_s, snapshot_s=snapshot_s)
    total = len(scenario.records)
    for k, rec in enumerate(scenario.records, start=1):
        if pace is not None:
            pace(rec)
        sink.write(rec)
        if progress is not None and (k % 5000 == 0 or k == total):
            progress(k, total)
    sink.close()
    _jsonl(out / "ground_truth.jsonl", truth_lines(scenario))
    _jsonl(out / "background.jsonl", background_lines(scenario))
    _jsonl(out / "rejections.jsonl", sink.rejections)
    manifest = build_manifest(scenario, sink.file_counts, len(sink.rejections))
    _atomic_write(
        out / "manifest.json", (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    )
    return manifest


def build_manifest(
    scenario: Scenario, file_counts: dict[str, int], rejected: int
) -> dict[str, Any]:
    """Seed, options, time window and counts, for tests and for ``vigie evaluate``."""
    per_source: dict[str, dict[str, int]] = {}
    for rec in scenario.records:
        c = per_source.setdefault(rec.source.value, {"written": 0, "duplicates": 0, "rejected": 0})
        c["written"] += 1
        c["duplicates"] += int(rec.duplicate)
        c["rejected"] += int(rec.defect is not None)
    tags: dict[str, int] = {}
    for inc in scenario.incidents:
        for t in inc.tags:
            tags[t] = tags.get(t, 0) + 1
    return {
        "seed": scenario.seed,
        "city": scenario.city,
        "start": scenario.start,
        "end": scenario.end,
        "options": scenario.options,
        "incidents": len(scenario.incidents),
        "hard_cases": dict(sorted(tags.items())),
        "records": len(scenario.records),
        "rejected": rejected,
        "per_source": dict(sorted(per_source.items())),
        "files": dict(sorted(file_counts.items())),
    }
