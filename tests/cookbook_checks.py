"""What a plausible answer to each cookbook question looks like, on any engine.

Shared by the unit tests (chdb) and the integration tests (the 18.16 server): beyond "some
rows", each check encodes what the simulated city is known to contain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vigie.store.engine import QueryResult


def _col(result: QueryResult, name: str) -> list[Any]:
    index = result.columns.index(name)
    return [row[index] for row in result.rows]


def _by(result: QueryResult, key: str) -> dict[Any, dict[str, Any]]:
    return {row[key]: row for row in result.dicts()}


def _weather(r: QueryResult) -> None:
    rows = _by(r, "weather")
    assert rows["alert"]["fire_calls_per_hour"] > rows["no alert"]["fire_calls_per_hour"]


def _camera(r: QueryResult) -> None:
    rows = _by(r, "kind")
    assert rows["fight"]["corroborated"] > 0 and rows["crowd"]["corroborated"] == 0
    assert all(0 <= p <= 100 for p in _col(r, "corroborated_pct"))


def _permits(r: QueryResult) -> None:
    assert set(_col(r, "category")) <= {"noise", "gathering"}
    assert all(row["severity_explained"] < row["severity_other"] for row in r.dicts())


def _response(r: QueryResult) -> None:
    assert all(0 < row["median_s"] <= row["p90_s"] for row in r.dicts())
    by_severity: dict[int, list[float]] = {}
    for row in r.dicts():
        by_severity.setdefault(row["severity"], []).append(row["median_s"])
    # Severe incidents are picked up faster in the simulated city.
    assert max(by_severity[5]) < min(by_severity[2])


#: What a plausible answer looks like, beyond "some rows".
CHECKS: dict[str, Callable[[QueryResult], None]] = {
    "incidents_per_sector_hour": lambda r: assert_true(
        all(s >= v for s, v in zip(_col(r, "started"), _col(r, "severe_started"), strict=True))
    ),
    "multi_agency_incidents": lambda r: assert_true(
        set(_col(r, "category")) >= {"road_accident", "structure_fire"}
        and all(0 < p <= 100 for p in _col(r, "multi_agency_pct"))
    ),
    "creation_delay": lambda r: assert_true(
        all(
            0 <= m <= p < 120
            for m, p in zip(_col(r, "median_delay_s"), _col(r, "p90_delay_s"), strict=True)
        )
    ),
    "camera_corroborated_by_police": _camera,
    "explained_by_permits": _permits,
    "weather_alerts_fire_calls": _weather,
    "transport_lines_affected": lambda r: assert_true(
        all(c >= 1 for c in _col(r, "incidents")) and len(r.rows) >= 3
    ),
    "response_times": _response,
    "repeat_hotspots": lambda r: assert_true(
        all(d >= 2 for d in _col(r, "days")) and _col(r, "sector")[0] in {"13201", "13203"}
    ),
    "severe_unacknowledged": lambda r: assert_true(all(s >= 4 for s in _col(r, "severity"))),
    "night_camera_detections": lambda r: assert_true(
        sum(d for k, h, d in r.rows if k == "loud_music" and (h >= 21 or h < 3))
        > sum(d for k, h, d in r.rows if k == "loud_music" and 3 <= h < 21)
    ),
    "link_rules": lambda r: assert_true(
        set(_col(r, "rule")) <= {"violence", "fire", "road", "night_noise"}
        and all(0 < d < 1000 for d in _col(r, "median_distance_m"))
    ),
}


def assert_true(condition: bool) -> None:
    assert condition
