"""Pure arithmetic of the benchmark: percentiles, update latencies, rates, flatness, verdicts.

Kept apart from the runner (processes, Kafka, /proc) so each number the report quotes comes
from a small function that a unit test pins down.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; None when there are none."""
    if not values:
        return None
    if not 0 <= q <= 100:
        msg = f"percentile {q} is outside 0..100"
        raise ValueError(msg)
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Version:
    """One incident version as the bench saw it arrive on the incidents topic."""

    arrived: float  # wall clock, seconds
    incident_id: str
    event_ids: tuple[str, ...]


def update_latencies(versions: Iterable[Version], offered_at: Mapping[str, float]) -> list[float]:
    """Seconds from offering the newest event of an update to its incident version arriving.

    Only versions that add events the bench offered count: a version that closes an
    incident on the watermark carries no new event, so it has no ingest-to-update latency.
    ``versions`` must be in arrival order.
    """
    seen: dict[str, set[str]] = {}
    out: list[float] = []
    for version in versions:
        known = seen.setdefault(version.incident_id, set())
        new = [e for e in version.event_ids if e not in known and e in offered_at]
        known.update(version.event_ids)
        if new:
            out.append(version.arrived - max(offered_at[e] for e in new))
    return out


def sustained_rate(offered: int, first_offer: float, last_output: float) -> float:
    """Records per second from the first offer to the last output they caused."""
    span = last_output - first_offer
    if offered <= 0 or span <= 0:
        return 0.0
    return offered / span


def capacity(phases: Sequence[Mapping[str, Any]]) -> float | None:
    """A job's throughput capacity: the median sustained rate of the phases it could not
    keep up with (each measures the same ceiling), or, if it kept up with every offered
    rate, the highest one (then only a lower bound)."""
    if not phases:
        return None
    saturated = [float(p["sustained_per_s"]) for p in phases if p.get("saturated")]
    if saturated:
        return statistics.median(saturated)
    return max(float(p["sustained_per_s"]) for p in phases)


def ratios(report: Mapping[str, object]) -> dict[str, object]:
    """Capacity of every job kind measured, and fusion's ratios to the passthrough.

    ``ratio`` compares like with like, the pipeline and the passthrough each as one job in
    one JVM; ``ratio_apart`` is production's two-job shape against the same passthrough.
    """
    tops = {
        kind: capacity(phases)
        for kind in ("pipeline", "apart", "passthrough")
        if isinstance(phases := report.get(kind), list) and phases
    }
    out: dict[str, object] = {"capacity_per_s": tops} if tops else {}
    ref = tops.get("passthrough")
    for kind, key in (("pipeline", "ratio"), ("apart", "ratio_apart")):
        top = tops.get(kind)
        if top and ref:
            out[key] = round(top / ref, 3)
    return out


def active_rate(samples: Sequence[tuple[float, int]]) -> float:
    """Rate of a growing counter over the time it actually grew (e.g. sink commits).

    ``samples`` are (time, cumulative count) in time order; the span runs from the last
    sample before the first increase to the first sample at the final count.
    """
    if len(samples) < 2:
        return 0.0
    start_count = samples[0][1]
    end_count = samples[-1][1]
    if end_count <= start_count:
        return 0.0
    start_t = next(t for (t, _), (_, c) in itertools.pairwise(samples) if c > start_count)
    end_t = next(t for t, c in samples if c == end_count)
    span = end_t - start_t
    return (end_count - start_count) / span if span > 0 else 0.0


def flatness(samples: Sequence[tuple[float, float]], warmup_share: float = 0.2) -> dict[str, float]:
    """How much a series (e.g. RSS over a soak) still grows once warmed up.

    Compares the mean of the second fifth of the run (just after warm-up) with the mean of
    the last fifth, and fits a least-squares slope over everything after warm-up.
    """
    if len(samples) < 10:
        msg = f"{len(samples)} samples are too few to judge flatness (10 at least)"
        raise ValueError(msg)
    t0 = samples[0][0]
    span = samples[-1][0] - t0
    steady = [(t, v) for t, v in samples if t - t0 >= warmup_share * span]
    early = [v for t, v in steady if t - t0 < 2 * warmup_share * span]
    late = [v for t, v in steady if t - t0 >= (1 - warmup_share) * span]
    early_mean = sum(early) / len(early)
    late_mean = sum(late) / len(late)
    n = len(steady)
    mt = sum(t for t, _ in steady) / n
    mv = sum(v for _, v in steady) / n
    var = sum((t - mt) ** 2 for t, _ in steady)
    slope = sum((t - mt) * (v - mv) for t, v in steady) / var if var else 0.0
    return {
        "early_mean": early_mean,
        "late_mean": late_mean,
        "growth_ratio": late_mean / early_mean if early_mean else 0.0,
        "slope_per_minute": slope * 60,
    }


@dataclass(frozen=True)
class Targets:
    """The issue's targets for this 2-core machine."""

    sustained_per_s: float = 10_000
    p99_s_at: tuple[int, float] = (5_000, 1.0)
    ratio: float = 0.5
    memory_growth: float = 1.10  # late/early RSS after warm-up


def verdicts(report: Mapping[str, object], targets: Targets = Targets()) -> dict[str, bool | None]:
    """Which targets a report meets (None: not measured in this run)."""
    phases = report.get("pipeline", [])
    assert isinstance(phases, list)
    best = capacity(phases)
    rate, limit = targets.p99_s_at
    at = [p for p in phases if int(p["offered_rate"]) == rate]
    p99 = at[0]["latency_s"]["p99"] if at else None
    ratio = report.get("ratio")
    soak = report.get("soak")
    growth = None
    if isinstance(soak, dict) and "rss" in soak:
        growth = float(soak["rss"]["growth_ratio"])
    return {
        "sustained": None if best is None else best >= targets.sustained_per_s,
        "p99_at_5k": None if p99 is None else float(p99) <= limit,
        "ratio": None if ratio is None else float(str(ratio)) >= targets.ratio,
        "memory_flat": None if growth is None else growth <= targets.memory_growth,
    }
