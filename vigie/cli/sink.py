"""``vigie sink``: events, incidents and acknowledgements from Kafka into ClickHouse."""

from __future__ import annotations

import argparse
import sys

from vigie.config import load_settings


def _sink(args: argparse.Namespace) -> int:
    from vigie.metrics import export_sink_stats, start_http_server
    from vigie.sink import ClickHouseSink, SinkStats

    settings = load_settings()
    if not args.no_metrics:
        start_http_server(settings.metrics_port)

    def report(stats: SinkStats) -> None:
        export_sink_stats(stats)
        if not args.quiet:
            written = ", ".join(f"{k} {v}" for k, v in sorted(stats.written.items()))
            print(f"\rsink: {written or 'nothing yet'}", end="", file=sys.stderr, flush=True)

    sink = ClickHouseSink(settings, batch_size=args.batch_size)
    stats = sink.run(until_idle_s=args.until_idle, on_batch=report)
    print(
        f"\nsink done: written {dict(stats.written)}, dead letters {dict(stats.dead_letters)}, "
        f"retries {stats.retries}",
        file=sys.stderr,
    )
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``vigie sink``."""
    p = subparsers.add_parser("sink", help="write events, incidents and acks to ClickHouse")
    p.add_argument("--batch-size", type=int, default=5000, help="records per insert batch")
    p.add_argument(
        "--until-idle", type=float, default=None, metavar="S", help="stop after S idle seconds"
    )
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.add_argument("--no-metrics", action="store_true", help="do not serve /metrics")
    p.set_defaults(func=_sink)
