"""``vigie run``: the main job — the live pipeline on the simulated city, with a summary."""

from __future__ import annotations

import argparse
import sys
import time

from vigie.config import load_settings
from vigie.errors import VigieError


def _run(args: argparse.Namespace) -> int:
    from vigie.live import (
        DLQ,
        EVENTS,
        INCIDENTS,
        RAW,
        IncidentTracker,
        LiveRun,
        OffsetMonitor,
        Snapshot,
        expected_raw,
        score_incidents,
    )

    settings = load_settings()
    run = LiveRun(settings, seed=args.seed, speed=args.speed, duration=args.duration)
    print("preparing the stack, topics and tables ...", file=sys.stderr, flush=True)
    run.prepare()
    monitor = OffsetMonitor(settings)
    monitor.mark((*RAW, *DLQ, EVENTS, INCIDENTS))
    tracker = IncidentTracker(settings)
    tracker.start()
    out = run.start()
    print(f"pipeline started; logs in {run.home / 'logs'}", file=sys.stderr, flush=True)
    started = time.monotonic()
    stable = 0
    previous: tuple[int, int] | None = None
    try:
        while True:
            time.sleep(2)
            for proc in run.processes:
                if proc.name != "simulate" and proc.pid() is None:
                    msg = f"{proc.name} stopped unexpectedly; see {proc.log_file}"
                    raise VigieError(msg)
            tracker.poll()
            totals = monitor.totals((*RAW, *DLQ, EVENTS, INCIDENTS))
            opened, closed = tracker.counts()
            snap = Snapshot(
                raw={t: totals[t] for t in RAW},
                dlq={t: totals[t] for t in DLQ},
                events=totals[EVENTS],
                incident_versions=tracker.versions,
                open_incidents=opened,
                closed_incidents=closed,
                sink_lag=monitor.lag("vigie-sink", (EVENTS, INCIDENTS)),
            )
            snap.job_lag = job_lag = monitor.lag(f"{run.group_prefix}-normalize", RAW)
            elapsed = time.monotonic() - started
            print(snap.line(elapsed), file=sys.stderr, flush=True)
            expected = expected_raw(out)
            through = expected is not None and sum(snap.raw.values()) >= expected
            now = (snap.events, snap.incident_versions)
            drained = through and job_lag == 0 and snap.sink_lag == 0 and snap.events > 0
            stable = stable + 1 if drained and now == previous else 0
            previous = now
            if stable >= 3 and not args.keep_running:
                break
            if elapsed > args.timeout:
                msg = f"the city's records were not through after {args.timeout:.0f}s"
                raise VigieError(msg)
    finally:
        if not args.keep_running:
            run.stop()
        monitor.close()
    scores = score_incidents(out / "ground_truth.jsonl", list(tracker.latest.values()))
    tracker.close()
    print(
        f"\ndone: {snap.events} events, {len(tracker.latest)} incidents "
        f"({snap.open_incidents} open, {snap.closed_incidents} closed), "
        f"{sum(snap.dlq.values())} records in dead-letter topics\n"
        f"quality against the simulator's truth: B-cubed precision {scores.precision:.3f} "
        f"recall {scores.recall:.3f} F1 {scores.f1:.3f}, "
        f"category accuracy {scores.category_accuracy:.3f}\n"
        f'query it: .venv/bin/vigie sql "SELECT category, count() FROM vigie.incidents FINAL '
        f'GROUP BY category"'
    )
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``vigie run``."""
    p = subparsers.add_parser("run", help="the live pipeline on the simulated city")
    p.add_argument("--seed", type=int, default=7, help="scenario seed (deterministic)")
    p.add_argument(
        "--speed", type=float, default=0, help="city seconds per real second; 0 = flat out"
    )
    p.add_argument("--duration", default="6h", help="city time to simulate, e.g. 6h or 90m")
    p.add_argument("--timeout", type=float, default=1800, help="give up after S seconds")
    p.add_argument("--keep-running", action="store_true", help="leave the pipeline running")
    p.set_defaults(func=_run)
