"""Replay pacing, rate limiting and the ``vigie simulate`` command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigie.cli.main import main
from vigie.sim.pace import Pacer, RateLimiter

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@given(speed=st.floats(min_value=0.5, max_value=1000), gaps=st.lists(st.integers(0, 60_000)))
def test_pacer_maps_city_time_onto_wall_time(speed: float, gaps: list[int]) -> None:
    clock = FakeClock()
    pacer = Pacer(1_000_000, speed, clock=clock, sleep=clock.sleep)
    t = 1_000_000
    pacer.wait_for(t)
    for gap in gaps:
        t += gap
        pacer.wait_for(t)
        assert clock.now == pytest.approx(100.0 + (t - 1_000_000) / 1000 / speed)


def test_speed_zero_never_waits() -> None:
    clock = FakeClock()
    pacer = Pacer(0, 0, clock=clock, sleep=clock.sleep)
    for t in (0, 10_000_000, 99_000_000):
        assert pacer.wait_for(t) == 0.0
    assert clock.slept == []


def test_rate_limiter_caps_the_average_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1000, clock=clock, sleep=clock.sleep)
    for _ in range(50):
        limiter.take(100)
    assert clock.now - 100.0 == pytest.approx(5.0)
    unlimited = RateLimiter(0, clock=clock, sleep=clock.sleep)
    unlimited.take(10**9)
    assert clock.now - 100.0 == pytest.approx(5.0)


def test_cli_writes_files_and_truth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "city"
    code = main(
        [
            "simulate",
            "--seed",
            "4",
            "--out",
            str(out),
            "--duration",
            "1h",
            "--incidents",
            "20",
            "--quiet",
        ]
    )
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 4 and manifest["incidents"] == 20
    assert manifest["end"] - manifest["start"] == 3600 * 1000
    assert (out / "police" / "calls.csv").exists()
    assert len((out / "ground_truth.jsonl").read_text().splitlines()) == 20
    assert "20 incidents" in capsys.readouterr().err


def test_cli_start_now_ends_now(tmp_path: Path) -> None:
    import time

    before = int(time.time() * 1000)
    assert (
        main(
            [
                "simulate",
                "--out",
                str(tmp_path),
                "--start",
                "now",
                "--duration",
                "10m",
                "--incidents",
                "3",
                "--quiet",
            ]
        )
        == 0
    )
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert before - 2000 <= manifest["end"] <= before + 2000


def test_cli_refuses_naive_start_and_bad_duration(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["simulate", "--out", "x", "--start", "2026-11-14T18:00:00"])
    assert "offset" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["simulate", "--out", "x", "--duration", "soon"])
    assert "--duration" in capsys.readouterr().err


def test_cli_needs_a_destination(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--duration", "10m", "--incidents", "3"]) == 2
    assert "--out" in capsys.readouterr().err
