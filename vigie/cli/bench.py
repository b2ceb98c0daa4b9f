"""``vigie bench``: the whole pipeline on the local stack at rising rates, then a soak.

Results go to ``bench/results/pipeline-<UTC time>.json`` with a PNG of latency against rate;
docs/performance.md explains them. The machine is shared and noisy: compare numbers of one
run with each other (ratios), not with another run's absolute times.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from vigie.config import Settings


def _rates(text: str) -> list[int]:
    return [int(float(x)) for x in text.split(",") if x.strip()]


def _bench(args: argparse.Namespace) -> int:
    from vigie.bench.load import CityLoad
    from vigie.bench.plot import plot_latency
    from vigie.bench.runner import JOB_KINDS, machine, run_rates, run_soak
    from vigie.bench.stats import ratios, verdicts
    from vigie.config import REPO_ROOT, load_settings
    from vigie.live import LiveRun
    from vigie.stack.process import ManagedProcess

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    kinds = [k for k in args.jobs.split(",") if k]
    unknown = [k for k in kinds if k not in JOB_KINDS]
    if unknown:
        say(f"vigie bench: unknown job kind(s) {unknown}; choose among {sorted(JOB_KINDS)}")
        return 2
    settings = load_settings()
    home = settings.data_dir / "bench"
    LiveRun(settings, say=say).prepare()
    _passthrough_topic(settings)
    say("preparing the simulated city ...")
    load = CityLoad(settings, seed=args.seed, hours=args.city_hours)
    report: dict[str, object] = {
        "command": "vigie bench " + " ".join(sys.argv[2:]),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "seconds_per_rate": args.seconds,
        "records_per_city_loop": len(load.records),
    }
    sink = ManagedProcess("bench-sink", home / "sink.pid", home / "sink.log")
    sink.stop()
    sink.start([sys.executable, "-m", "vigie.cli.main", "sink", "--quiet", "--no-metrics"],
               cwd=Path.cwd())  # fmt: skip
    sink_pid = sink.pid()
    out = Path(args.out) if args.out else REPO_ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out / f"pipeline-{stamp}.json"
    next_loop = 0
    try:
        for kind in kinds:
            report[kind], used = run_rates(
                settings, load, kind, args.rates, args.seconds, home, say, sink_pid
            )
            next_loop = max(next_loop, used)
            path.write_text(json.dumps(report, indent=2) + "\n")  # a partial run is kept
        report.update(ratios(report))
        if args.soak_minutes > 0:
            report["soak"] = run_soak(
                settings, load, args.soak_rate, args.soak_minutes, home, say, sink_pid, next_loop
            )
    finally:
        sink.stop()
    report["targets_met"] = verdicts(report)
    path.write_text(json.dumps(report, indent=2) + "\n")
    plot_latency(report, out / f"pipeline-{stamp}.png")
    say(f"results: {path} (+ .png); targets met: {report['targets_met']}")
    return 0


def _passthrough_topic(settings: Settings) -> None:
    """The passthrough job's output topic: one hour of retention, it is only measured."""
    from vigie.flink.passthrough import PASSTHROUGH_TOPIC
    from vigie.kafka.topics import TopicSpec, apply_topics

    spec = TopicSpec(
        PASSTHROUGH_TOPIC,
        settings.topic_partitions,
        settings.topic_replication_factor,
        "operational",
        {"retention.ms": "3600000"},
    )
    apply_topics(settings, [spec])


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``vigie bench``."""
    p = subparsers.add_parser(
        "bench",
        help="benchmark the whole pipeline on the local stack (results in bench/results/)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--rates", type=_rates, default=[500, 1000, 2500, 5000, 10000],
                   help="offered raw records/s, comma-separated")  # fmt: skip
    p.add_argument("--seconds", type=float, default=10, help="offered time per rate")
    p.add_argument(
        "--jobs",
        default="pipeline,apart,passthrough",
        help="job kinds to measure, in order: pipeline (normalise + fuse in one job), apart "
        "(normalise and fuse as two jobs, production's shape), passthrough (fusion replaced "
        "by identity)",
    )
    p.add_argument("--soak-minutes", type=float, default=10, help="memory run; 0 = none")
    p.add_argument(
        "--soak-rate",
        type=int,
        default=500,
        help="records/s of the memory run (below the pipeline's capacity, docs/performance.md)",
    )
    p.add_argument("--seed", type=int, default=0, help="scenario seed")
    p.add_argument(
        "--city-hours", type=int, default=2, help="city hours per loop of the replayed scenario"
    )
    p.add_argument("--out", help="results folder (default bench/results)")
    p.set_defaults(func=_bench)
