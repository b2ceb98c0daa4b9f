"""``vigie connect <feed>``: run one feed connector from a file, a watched folder or a URL.

The connector parses what the agency publishes, produces raw records to ``raw.<feed>`` and
rejections to ``dlq.<feed>``, and prints a summary (read, produced, rejected by reason) when
it ends: after the file, after one scan/poll with ``--once``, or on Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import signal
import threading
from pathlib import Path
from typing import Any

from vigie.errors import VigieError

_FEEDS = ("police", "fire", "transport", "weather", "permits", "camera")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``vigie connect``."""
    parser = subparsers.add_parser(
        "connect",
        help="run a feed connector (file, watched folder or polled URL) into Kafka",
        description=(
            "Read an agency feed, produce raw records to raw.<feed> and rejections to "
            "dlq.<feed>, then print a summary. Formats: docs/feeds.md."
        ),
    )
    parser.add_argument("feed", choices=_FEEDS)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", type=Path, help="read one file, then exit")
    source.add_argument("--watch", type=Path, metavar="DIR", help="watch a folder for new files")
    source.add_argument("--url", help="poll an http(s) endpoint")
    parser.add_argument(
        "--interval",
        type=float,
        default=None,
        help="seconds between scans (--watch, default 1) or polls (--url, default 30)",
    )
    parser.add_argument("--once", action="store_true", help="one scan or poll, then exit")
    parser.add_argument(
        "--state", type=Path, help="file remembering processed files (--watch; default data dir)"
    )
    parser.add_argument("--cameras", type=Path, help="camera registry (default city's)")
    parser.add_argument("--gtfs", type=Path, help="static GTFS folder (default city's)")
    parser.add_argument(
        "--dry-run", action="store_true", help="parse and count, produce nothing to Kafka"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "--no-metrics",
        action="store_true",
        help="do not serve /metrics on VIGIE_METRICS_PORT (long-running sources serve it)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the connector from the settings and run it to the end."""
    from connectors.base import ParseContext, load_city, now_ms
    from connectors.feeds import build_parser
    from connectors.runtime import (
        FileSource,
        FolderSource,
        HttpSource,
        MemorySink,
        RunStats,
        Sink,
        Source,
    )
    from connectors.runtime import run as run_connector
    from vigie.config import load_settings

    settings = load_settings()
    key = settings.pseudonym_key_bytes()  # refuses the production profile without a key
    city = load_city(settings.city_dir)
    parser = build_parser(args.feed, settings.city_dir, args.cameras, args.gtfs)
    source: Source
    if args.file is not None:
        if not args.file.is_file():
            msg = f"--file {args.file}: no such file"
            raise VigieError(msg)
        source = FileSource(args.file)
    elif args.watch is not None:
        if not args.watch.is_dir():
            msg = f"--watch {args.watch}: no such folder"
            raise VigieError(msg)
        digest = hashlib.sha256(str(args.watch.resolve()).encode()).hexdigest()[:12]
        state = args.state or settings.data_dir / "connectors" / f"{args.feed}-{digest}.jsonl"
        source = FolderSource(args.watch, state, args.interval or 1.0, args.once)
    else:
        try:
            source = HttpSource(args.url, args.interval or 30.0, args.once)
        except ValueError as exc:
            raise VigieError(str(exc)) from exc

    sink: Sink
    if args.dry_run:
        sink = MemorySink()
    else:
        from connectors.kafka_sink import KafkaSink

        sink = KafkaSink(settings, args.feed)

    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in _STOP_SIGNALS}
    stats = RunStats(args.feed)
    export = None
    if not args.no_metrics and not args.once and args.file is None:
        from vigie.metrics import export_connector_stats, start_http_server

        start_http_server(settings.metrics_port)
        export = export_connector_stats
    try:
        run_connector(
            parser, source, sink, lambda: ParseContext(city, key, now_ms()), stop, stats, export
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _print(stats.as_dict() if args.json else stats.summary())
        if args.dry_run and not args.json:
            _print("(dry run: nothing was sent to Kafka)")
    return 0


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _print(summary: Any) -> None:
    print(json.dumps(summary) if isinstance(summary, dict) else summary, flush=True)
