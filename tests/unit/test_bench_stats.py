"""The benchmark's arithmetic: each number in bench/results comes from these functions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vigie.bench.load import shifted, time_fields
from vigie.bench.stats import (
    Version,
    active_rate,
    capacity,
    flatness,
    percentile,
    ratios,
    sustained_rate,
    update_latencies,
    verdicts,
)
from vigie.config import REPO_ROOT
from vigie.flink.checkpoints import latest_checkpoint

pytestmark = pytest.mark.unit


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError, match="outside"):
        percentile(values, 101)


def test_update_latency_counts_only_versions_that_add_offered_events() -> None:
    offered = {"a": 10.0, "b": 11.0, "c": 12.5}
    versions = [
        Version(10.5, "i1", ("a",)),  # opened by a: 0.5 s
        Version(11.25, "i1", ("a", "b")),  # b added: 0.25 s
        Version(30.0, "i1", ("a", "b")),  # closed on the watermark: no new event
        Version(13.0, "i2", ("c", "x")),  # x was not offered by the bench: c counts
        Version(14.0, "i3", ("x",)),  # nothing offered: no latency
    ]
    assert update_latencies(versions, offered) == [0.5, 0.25, 0.5]


def test_sustained_rate_and_active_rate() -> None:
    assert sustained_rate(1000, 100.0, 102.0) == 500.0
    assert sustained_rate(0, 100.0, 102.0) == 0.0
    assert sustained_rate(10, 100.0, 100.0) == 0.0
    # A counter idle, then growing 100 per second for 3 s, then idle again.
    samples = [(0.0, 0), (1.0, 0), (2.0, 100), (3.0, 200), (4.0, 300), (5.0, 300)]
    assert active_rate(samples) == pytest.approx(100.0)
    assert active_rate([(0.0, 5), (1.0, 5)]) == 0.0


def test_flatness_tells_flat_from_growing() -> None:
    flat = [(float(t), 900.0 + (t % 3)) for t in range(0, 600, 10)]
    growing = [(float(t), 900.0 + t) for t in range(0, 600, 10)]
    assert flatness(flat)["growth_ratio"] == pytest.approx(1.0, abs=0.01)
    assert abs(flatness(flat)["slope_per_minute"]) < 1
    assert flatness(growing)["growth_ratio"] > 1.3
    assert flatness(growing)["slope_per_minute"] == pytest.approx(60.0)
    with pytest.raises(ValueError, match="too few"):
        flatness(flat[:5])


def test_capacity_is_the_median_of_saturated_phases() -> None:
    phases = [
        {"sustained_per_s": 990, "saturated": False},
        {"sustained_per_s": 400, "saturated": True},
        {"sustained_per_s": 900, "saturated": True},
        {"sustained_per_s": 380, "saturated": True},
    ]
    assert capacity(phases) == 400
    assert capacity(phases[:1]) == 990  # kept up with everything: a lower bound
    assert capacity([]) is None


def test_verdicts_read_the_report() -> None:
    report = {
        "pipeline": [
            {"offered_rate": 5000, "sustained_per_s": 4000, "latency_s": {"p99": 2.0}},
            {
                "offered_rate": 20000,
                "sustained_per_s": 11000,
                "latency_s": {"p99": 9.0},
                "saturated": True,
            },
        ],
        "ratio": 0.6,
        "soak": {"rss": {"growth_ratio": 1.02}},
    }
    assert verdicts(report) == {
        "sustained": True,
        "p99_at_5k": False,
        "ratio": True,
        "memory_flat": True,
    }
    assert verdicts({"pipeline": []})["sustained"] is None


def test_ratios_compare_each_fusing_kind_with_the_passthrough() -> None:
    def saturated(rate: int) -> dict[str, object]:
        return {"offered_rate": 10_000, "sustained_per_s": rate, "saturated": True}

    report = {
        "pipeline": [saturated(800), saturated(700), saturated(900)],
        "apart": [saturated(1000)],
        "passthrough": [saturated(2000)],
    }
    assert ratios(report) == {
        "capacity_per_s": {"pipeline": 800, "apart": 1000, "passthrough": 2000},
        "ratio": 0.4,
        "ratio_apart": 0.5,
    }
    assert ratios({"pipeline": [saturated(800)]}) == {"capacity_per_s": {"pipeline": 800}}
    assert ratios({}) == {}


def test_load_shifts_every_event_time_but_not_the_ingest_clock() -> None:
    schema = json.loads((REPO_ROOT / "schemas/avro/raw/transport.avsc").read_text())
    fields = time_fields(schema)
    assert "ingest_time" not in fields
    assert {"observed_at", "start", "end"} <= fields
    record = {
        "record_id": "r1",
        "ingest_time": 5,
        "vehicle": {"observed_at": 100, "label": None},
        "alert": {"active_periods": [{"start": 10, "end": None}]},
    }
    moved = shifted(record, fields, 1000)
    assert moved == {
        "record_id": "r1",
        "ingest_time": 5,
        "vehicle": {"observed_at": 1100, "label": None},
        "alert": {"active_periods": [{"start": 1010, "end": None}]},
    }
    assert record["vehicle"] == {"observed_at": 100, "label": None}  # the base is untouched


def test_latest_checkpoint_is_the_newest_complete_one(tmp_path: Path) -> None:
    assert latest_checkpoint(tmp_path / "none") is None
    old = tmp_path / "job1" / "chk-3"
    old.mkdir(parents=True)
    (old / "_metadata").write_bytes(b"x")
    new = tmp_path / "job1" / "chk-7"
    new.mkdir()
    (new / "_metadata").write_bytes(b"x")
    (tmp_path / "job1" / "chk-8").mkdir()  # still being written: no _metadata
    assert latest_checkpoint(tmp_path) == new
