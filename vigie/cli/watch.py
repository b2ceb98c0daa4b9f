"""``vigie watch``: follow the incidents topic in the terminal (table or JSON lines)."""

from __future__ import annotations

import argparse

from vigie.command_center.filters import IncidentFilter
from vigie.config import load_settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``vigie watch``."""
    parser = subparsers.add_parser(
        "watch",
        help="live table of incidents (filters, --json for piping)",
        description="Follow the incidents topic from the beginning and show the current "
        "incidents live; reconnects by itself when the broker restarts.",
    )
    parser.add_argument("--min-severity", type=int, default=1, metavar="N", help="1..5")
    parser.add_argument(
        "--category", action="append", default=[], help="only these (repeat or comma list)"
    )
    parser.add_argument(
        "--sector", action="append", default=[], help="only these sector ids (repeat or commas)"
    )
    parser.add_argument("--bbox", help="min_lon,min_lat,max_lon,max_lat (WGS84)")
    parser.add_argument(
        "--all", action="store_true", help="also closed and merged incidents (hidden otherwise)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON line per incident change")
    parser.add_argument("--once", action="store_true", help="print the current state and exit")
    parser.add_argument("--topic", help="incidents topic (default VIGIE_INCIDENTS_TOPIC)")
    parser.add_argument("--acks-topic", help="acks topic (default VIGIE_INCIDENT_ACKS_TOPIC)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``vigie watch``."""
    from vigie.command_center.watch import run_watch

    settings = load_settings()
    flt = IncidentFilter.build(
        min_severity=args.min_severity,
        categories=args.category,
        sectors=args.sector,
        bbox=args.bbox,
        include_closed=args.all,
    )
    return run_watch(
        settings,
        flt,
        as_json=args.json,
        once=args.once,
        incidents_topic=args.topic or settings.incidents_topic,
        acks_topic=args.acks_topic or settings.incident_acks_topic,
    )
