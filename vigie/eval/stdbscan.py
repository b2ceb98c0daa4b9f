"""ST-DBSCAN (Birant & Kut 2007), the baseline fusion is measured against.

Density clustering in space and time: a point's neighbours are the points within ``eps1``
metres *and* ``eps2`` milliseconds; a point with at least ``min_pts`` neighbours (itself
included) is a core point; clusters grow from core points through their neighbours; points
reached by no core point are noise (singletons here, as the truth counts them). The paper's
third threshold (delta-epsilon, on a non-spatial value's cluster average) has no meaning for
categorical kinds and is left out. Parameters are tuned by grid search on the scored data
itself, which flatters the baseline: fusion has to beat its best case.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from vigie.core.events import NormalizedEvent


@dataclass(frozen=True, slots=True)
class StParams:
    """One ST-DBSCAN setting."""

    eps1_m: float
    eps2_ms: int
    min_pts: int

    def __str__(self) -> str:
        return f"eps1={self.eps1_m:g} m, eps2={self.eps2_ms / 60_000:g} min, min_pts={self.min_pts}"


def st_dbscan(events: Sequence[NormalizedEvent], params: StParams) -> dict[str, int]:
    """Cluster label per event id; noise points get labels of their own (singletons)."""
    ordered = sorted(events, key=lambda e: (e.event_time, e.event_id))
    times = [e.event_time for e in ordered]

    def neighbours(i: int) -> list[int]:
        e = ordered[i]
        lo = bisect.bisect_left(times, e.event_time - params.eps2_ms)
        hi = bisect.bisect_right(times, e.event_time + params.eps2_ms)
        return [
            j
            for j in range(lo, hi)
            if math.hypot(ordered[j].x - e.x, ordered[j].y - e.y) <= params.eps1_m
        ]

    label: list[int | None] = [None] * len(ordered)
    noise = -1
    cluster = 0
    for i in range(len(ordered)):
        if label[i] is not None:
            continue
        seeds = neighbours(i)
        if len(seeds) < params.min_pts:
            label[i] = noise  # may still be claimed as a border point later
            noise -= 1
            continue
        cluster += 1
        label[i] = cluster
        stack = [j for j in seeds if j != i]
        while stack:
            j = stack.pop()
            current = label[j]
            if current is not None and current >= 0:
                continue
            label[j] = cluster
            if current is None or current < 0:
                more = neighbours(j)
                if len(more) >= params.min_pts:
                    stack.extend(k for k in more if label[k] is None or (label[k] or 0) < 0)
    return {ordered[i].event_id: int(label[i] or 0) for i in range(len(ordered))}


def default_grid() -> list[StParams]:
    """The grid searched by ``vigie evaluate``."""
    return [
        StParams(eps1, eps2 * 60_000, min_pts)
        for eps1 in (50.0, 75.0, 100.0, 150.0, 200.0, 300.0, 400.0, 500.0, 700.0)
        for eps2 in (1, 2, 3, 5, 10, 15, 20, 30, 45, 60)
        for min_pts in (1, 2, 3)
    ]


def grid_search(
    events: Sequence[NormalizedEvent],
    objective: Callable[[dict[str, int]], float],
    grid: Iterable[StParams] | None = None,
) -> tuple[StParams, dict[str, int], float]:
    """The setting maximising ``objective`` (ties: the first in grid order)."""
    best: tuple[StParams, dict[str, int], float] | None = None
    for params in grid if grid is not None else default_grid():
        labels = st_dbscan(events, params)
        value = objective(labels)
        if best is None or value > best[2]:
            best = (params, labels, value)
    if best is None:
        msg = "empty parameter grid"
        raise ValueError(msg)
    return best
