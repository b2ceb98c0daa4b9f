"""The simulator's files parse with the real connectors, exactly as the ground truth says."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from vigie.config import REPO_ROOT
from vigie.sim.city import load_city
from vigie.sim.connect import Parsed, parse_output
from vigie.sim.files import write_scenario
from vigie.sim.scenario import ScenarioConfig, generate

pytestmark = pytest.mark.unit

CITY_DIR = REPO_ROOT / "cities" / "marseille"
KEY = b"test-key-test-key-test-key-12345"


def _write(out: Path, cfg: ScenarioConfig, **kw: Any) -> dict[str, Any]:
    city = load_city(CITY_DIR)
    return write_scenario(generate(city, cfg), out, city.timezone, **kw)


def _parse(out: Path) -> list[Parsed]:
    return list(parse_output(out, CITY_DIR, KEY, int(time.time() * 1000)))


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def default_out(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("sim")
    return out, _write(out, ScenarioConfig(seed=0))


@pytest.fixture(scope="module")
def default_parsed(default_out: tuple[Path, dict[str, Any]]) -> list[Parsed]:
    return _parse(default_out[0])


def test_produced_plus_rejected_equals_written(
    default_out: tuple[Path, dict[str, Any]], default_parsed: list[Parsed]
) -> None:
    _, manifest = default_out
    per_file = Counter(p.file for p in default_parsed)
    assert dict(per_file) == manifest["files"]
    assert len(default_parsed) == manifest["records"]
    assert sum(p.rejected for p in default_parsed) == manifest["rejected"] > 0


def test_rejections_are_exactly_the_planted_ones(
    default_out: tuple[Path, dict[str, Any]], default_parsed: list[Parsed]
) -> None:
    out, _ = default_out
    got = {
        (p.file, p.result.position.index): p.result.reason.value
        for p in default_parsed
        if p.rejected
    }
    want = {(r["file"], r["record"]): r["reason"] for r in _jsonl(out / "rejections.jsonl")}
    assert got == want


def test_produced_records_match_the_ground_truth(
    default_out: tuple[Path, dict[str, Any]], default_parsed: list[Parsed]
) -> None:
    out, _ = default_out
    truth = _jsonl(out / "ground_truth.jsonl")
    background = _jsonl(out / "background.jsonl")
    evidence = [(s, ref) for inc in truth for s, ref in inc["source_refs"]]
    assert len(evidence) == len(set(evidence)), "a record in two incidents"
    noise = [(b["source"], b["source_ref"]) for b in background]
    assert not set(evidence) & set(noise)
    produced = {(p.feed, p.result.record_id) for p in default_parsed if not p.rejected}
    assert produced == set(evidence) | set(noise)
    contexts = {tuple(c) for inc in truth for c in inc["context_refs"]}
    assert contexts <= {n for n, b in zip(noise, background, strict=True) if b["role"] == "context"}


def test_ground_truth_lines_follow_the_contract(default_out: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = default_out
    truth = _jsonl(out / "ground_truth.jsonl")
    assert len(truth) == manifest["incidents"] == 300
    for inc in truth:
        assert set(inc) >= {"incident", "category", "source_refs", "context_refs", "tags"}
        assert inc["source_refs"], inc
        for source, ref in inc["source_refs"]:
            assert source in {"police", "fire", "camera", "transport", "weather", "permits"}
            assert isinstance(ref, str) and ref


def test_duplicates_are_sent_twice_with_the_same_ref(
    default_parsed: list[Parsed], default_out: tuple[Path, dict[str, Any]]
) -> None:
    _, manifest = default_out
    dup_total = sum(s["duplicates"] for s in manifest["per_source"].values())
    ids = Counter(
        (p.feed, p.result.record_id)
        for p in default_parsed
        if not p.rejected and p.feed in ("police", "camera")
    )
    assert dup_total > 0
    assert sum(n - 1 for n in ids.values()) == sum(
        manifest["per_source"][f]["duplicates"] for f in ("police", "camera")
    )


def test_chunked_output_round_trips_too(tmp_path: Path) -> None:
    cfg = ScenarioConfig(seed=5, duration_s=3600, incidents=30, vehicle_interval_s=300)
    manifest = _write(tmp_path, cfg, chunk_s=300, snapshot_s=120)
    assert len(list((tmp_path / "police").glob("calls-*.csv"))) > 3
    parsed = _parse(tmp_path)
    assert dict(Counter(p.file for p in parsed)) == manifest["files"]
    assert sum(p.rejected for p in parsed) == manifest["rejected"]
    assert not list(tmp_path.rglob(".*.tmp"))


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    cfg = ScenarioConfig(seed=9, duration_s=1800, incidents=15, vehicle_interval_s=300)
    _write(tmp_path / "a", cfg)
    _write(tmp_path / "b", cfg)
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.*"))
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*.*"))
    assert files_a == files_b
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_paced_chunks_are_closed_as_soon_as_their_window_passes(tmp_path: Path) -> None:
    from vigie.sim.files import FileSink

    city = load_city(CITY_DIR)
    cfg = ScenarioConfig(seed=2, duration_s=1800, incidents=10, vehicle_interval_s=600)
    sc = generate(city, cfg)
    sink = FileSink(tmp_path, city.timezone, chunk_s=60, snapshot_s=60)
    for rec in sc.records:
        sink.write(rec)
        on_disk = {p.name for p in tmp_path.rglob("*") if p.is_file()}
        for buf in sink._lines.values():  # nothing older than one chunk waits in memory
            assert not buf.lines or rec.publish_time < (buf.chunk_start or 0) + 60_000
        assert len(on_disk) == len(sink.file_counts)
    sink.close()
    parsed = _parse(tmp_path)
    assert dict(Counter(p.file for p in parsed)) == sink.file_counts
