"""``vigie simulate``: the simulated city, as connector input files or straight to Kafka.

``vigie simulate --seed 7 --out /tmp/city`` writes one folder per feed plus the ground truth
(docs/simulator.md); ``vigie simulate --to-kafka --rate 50000`` produces the raw records
straight to the ``raw.<feed>`` topics for load. Generation is pure; this module only parses
options, paces, reports progress and hands the scenario to an adapter.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from vigie.config import load_settings
from vigie.errors import VigieError
from vigie.sim.scenario import DEFAULT_START, ScenarioConfig


def _parse_duration(text: str) -> int:
    """``90``, ``90s``, ``15m``, ``6h`` -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        scale = units.get(text[-1:], 0)
        value = int(float(text[:-1]) * scale) if scale else int(text)
    except ValueError as exc:
        msg = f"--duration {text!r}: use seconds or a number with s/m/h, e.g. 6h"
        raise argparse.ArgumentTypeError(msg) from exc
    if value <= 0:
        msg = "--duration must be positive"
        raise argparse.ArgumentTypeError(msg)
    return value


@dataclass(frozen=True)
class StartOption:
    """Parsed ``--start``: an instant, and whether it is the end ('now') rather than the start."""

    when: datetime
    is_end: bool = False


def _parse_start(text: str) -> StartOption:
    if text == "now":
        return StartOption(datetime.now(tz=UTC).replace(microsecond=0), is_end=True)
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        msg = f"--start {text!r}: use ISO 8601 with an offset, or 'now'"
        raise argparse.ArgumentTypeError(msg) from exc
    if when.tzinfo is None:
        msg = f"--start {text!r} has no UTC offset; add one (e.g. +01:00 or Z)"
        raise argparse.ArgumentTypeError(msg)
    return StartOption(when)


def config_from_args(args: argparse.Namespace) -> ScenarioConfig:
    """The scenario config the options describe."""
    start: StartOption = args.start
    duration: int = args.duration
    start_ms = int(start.when.timestamp() * 1000)
    if start.is_end:  # --start now: the scenario ends now, so nothing is in the future
        start_ms -= duration * 1000
    return ScenarioConfig(
        seed=args.seed,
        start_ms=start_ms,
        duration_s=duration,
        incidents=args.incidents,
        background_per_hour=args.background_rate,
        duplicate_share=args.duplicate_share,
        malformed_share=args.malformed_share,
        vehicle_interval_s=args.vehicle_interval,
    )


def _progress(label: str) -> Callable[[int, int], None]:
    started = time.monotonic()

    def report(done: int, total: int) -> None:
        rate = done / max(1e-9, time.monotonic() - started)
        print(
            f"\r{label}: {done}/{total} records ({100 * done // max(1, total)}%, {rate:,.0f}/s)",
            end="\n" if done >= total else "",
            file=sys.stderr,
            flush=True,
        )

    return report


def _simulate(args: argparse.Namespace) -> int:
    from vigie.sim.city import load_city
    from vigie.sim.files import write_scenario
    from vigie.sim.pace import Pacer
    from vigie.sim.scenario import generate

    settings = load_settings()
    city_dir = Path(args.city_dir) if args.city_dir else settings.city_dir
    cfg = config_from_args(args)
    city = load_city(city_dir)
    t0 = time.monotonic()
    scenario = generate(city, cfg)
    print(
        f"scenario seed={cfg.seed}: {len(scenario.incidents)} incidents, "
        f"{len(scenario.records)} records over {cfg.duration_s // 60} min of city time "
        f"(generated in {time.monotonic() - t0:.2f}s)",
        file=sys.stderr,
    )
    if args.to_kafka:
        from vigie.sim.kafka import run_to_kafka

        return run_to_kafka(scenario, city_dir, settings, args)
    if args.out is None:
        msg = "give --out DIR (files for the connectors) or --to-kafka"
        raise VigieError(msg)
    pacer = Pacer(scenario.start, args.speed)
    manifest = write_scenario(
        scenario,
        Path(args.out),
        city.timezone,
        chunk_s=args.chunk if args.chunk is not None else (60 if args.speed > 0 else 0),
        pace=(lambda r: pacer.wait_for(r.publish_time)) if args.speed > 0 else None,
        progress=None if args.quiet else _progress("writing"),
    )
    print(
        f"wrote {manifest['records']} records ({manifest['rejected']} malformed on purpose) "
        f"in {len(manifest['files'])} files, ground truth in {args.out}/ground_truth.jsonl",
        file=sys.stderr,
    )
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``vigie simulate``."""
    p = subparsers.add_parser(
        "simulate",
        help="generate the simulated city: connector input files or raw Kafka records",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--seed", type=int, default=0, help="scenario seed (same seed, same output)")
    p.add_argument("--out", help="folder to write the connectors' input files and ground truth")
    p.add_argument("--city-dir", help="city folder (default: cities/<VIGIE_CITY>)")
    p.add_argument(
        "--start",
        type=_parse_start,
        default=StartOption(DEFAULT_START),
        help="city start time, ISO 8601 with offset, or 'now' (then the scenario ends now)",
    )
    p.add_argument("--duration", type=_parse_duration, default=6 * 3600, help="e.g. 6h, 90m")
    p.add_argument("--incidents", type=int, default=300, help="true incidents to plant")
    p.add_argument(
        "--background-rate", type=float, default=90.0, help="unrelated reports per city hour"
    )
    p.add_argument("--duplicate-share", type=float, default=0.03)
    p.add_argument("--malformed-share", type=float, default=0.01)
    p.add_argument("--vehicle-interval", type=int, default=60, help="seconds between positions")
    p.add_argument(
        "--speed",
        type=float,
        default=0.0,
        help="replay speed factor: 1 = real time, 60 = an hour per minute, 0 = as fast as possible",
    )
    p.add_argument(
        "--chunk",
        type=int,
        default=None,
        help="cut CSV/JSONL feeds into one file per N s of city time (default: 60 with --speed)",
    )
    p.add_argument("--to-kafka", action="store_true", help="produce raw records to Kafka")
    p.add_argument("--rate", type=float, default=0.0, help="Kafka: max records/s (0 = no cap)")
    p.add_argument(
        "--loops", type=int, default=1, help="Kafka: replay the encoded records N times (load)"
    )
    p.add_argument(
        "--topic-prefix", default="", help="Kafka: prefix of the raw topics (e.g. bench.)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=_simulate)
