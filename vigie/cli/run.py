"""``vigie run``: the main job — the live pipeline on the simulated city, with a summary."""

from __future__ import annotations

import argparse
import sys

from vigie.config import load_settings


def _run(args: argparse.Namespace) -> int:
    from vigie.live import LiveRun

    settings = load_settings()
    run = LiveRun(settings, seed=args.seed, speed=args.speed, duration=args.duration)
    print("preparing the stack, topics and tables ...", file=sys.stderr, flush=True)
    run.prepare()
    result = run.watch(timeout_s=args.timeout, keep_running=args.keep_running)
    scores = result.scores
    snap = result.last
    print(
        f"\ndone: {snap.events} events, {len(result.incidents)} incidents "
        f"({snap.open_incidents} open, {snap.closed_incidents} closed), "
        f"{sum(snap.dlq.values())} records in dead-letter topics\n"
        f"quality against the simulator's truth: B-cubed precision {scores.precision:.3f} "
        f"recall {scores.recall:.3f} F1 {scores.f1:.3f}, "
        f"category accuracy {scores.category_accuracy:.3f}\n"
        f'next: .venv/bin/vigie sql "SELECT category, count() FROM vigie.incidents FINAL '
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
