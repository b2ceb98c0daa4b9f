"""``vigie topics apply|list``: the Kafka topics declared in ``schemas/topics.yaml``."""

from __future__ import annotations

import argparse
import json

from vigie.config import load_settings
from vigie.kafka.topics import apply_topics, declared_topics, describe_topics


def _apply(args: argparse.Namespace) -> int:
    settings = load_settings()
    changes = apply_topics(settings)
    if args.json:
        print(json.dumps([{"topic": c.topic, "kind": c.kind, "detail": c.detail} for c in changes]))
        return 0
    if not changes:
        print(f"topics up to date on {settings.bootstrap_servers}")
    for change in changes:
        print(change)
    return 0


def _list(args: argparse.Namespace) -> int:
    from confluent_kafka.admin import AdminClient

    settings = load_settings()
    specs = declared_topics(settings)
    live = {}
    if not args.declared_only:
        admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
        live = describe_topics(admin, [s.name for s in specs], timeout=args.timeout)
    rows = []
    for spec in specs:
        state = live.get(spec.name)
        days = spec.retention_days
        rows.append(
            {
                "topic": spec.name,
                "partitions": spec.partitions,
                "replication": spec.replication_factor,
                "class": spec.data_class,
                "retention": "compact" if days is None else f"{days:g}d",
                "on_broker": None if args.declared_only else state is not None,
                "broker_partitions": state.partitions if state else None,
            }
        )
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'topic':<20} {'parts':>5} {'repl':>4} {'class':<12} {'retention':<9} broker")
    for row in rows:
        where = (
            "-"
            if args.declared_only
            else (f"present ({row['broker_partitions']} parts)" if row["on_broker"] else "missing")
        )
        print(
            f"{row['topic']:<20} {row['partitions']:>5} {row['replication']:>4} "
            f"{row['class']:<12} {row['retention']:<9} {where}"
        )
    missing = [r["topic"] for r in rows if r["on_broker"] is False]
    return 1 if missing else 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``vigie topics``."""
    topics = subparsers.add_parser("topics", help="create and align the declared Kafka topics")
    sub = topics.add_subparsers(dest="topics_command", metavar="ACTION", required=True)
    apply = sub.add_parser("apply", help="create missing topics, set declared configs (idempotent)")
    apply.add_argument("--json", action="store_true", help="print the changes as JSON")
    apply.set_defaults(func=_apply)
    lst = sub.add_parser("list", help="declared topics and whether the broker has them")
    lst.add_argument("--json", action="store_true", help="print JSON rows")
    lst.add_argument("--declared-only", action="store_true", help="do not contact the broker")
    lst.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for Kafka")
    lst.set_defaults(func=_list)
