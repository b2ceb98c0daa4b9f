"""``vigie ack``: acknowledge, assign or release an incident from the terminal."""

from __future__ import annotations

import argparse
import getpass
import os


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``vigie ack``."""
    parser = subparsers.add_parser(
        "ack",
        help="acknowledge or assign an incident (Avro record on the acks topic)",
        description="Send an operator action on an incident to the acks topic.",
    )
    parser.add_argument("incident_id")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--assign", metavar="WHO", help="assign to a unit or person")
    group.add_argument("--release", action="store_true", help="withdraw an assignment")
    parser.add_argument("--note", help="free text (500 characters at most)")
    parser.add_argument(
        "--operator", help="login recorded on the ack (default VIGIE_OPERATOR or your login)"
    )
    parser.add_argument("--topic", help="acks topic (default VIGIE_INCIDENT_ACKS_TOPIC)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate, produce and confirm one acknowledgement."""
    import uuid

    from vigie.command_center.acks import AckRequest, build_ack
    from vigie.command_center.kafka_io import AckPublisher
    from vigie.command_center.watch import now_ms
    from vigie.config import load_settings

    settings = load_settings()
    action = "assign" if args.assign else "release" if args.release else "ack"
    operator = args.operator or os.environ.get("VIGIE_OPERATOR") or getpass.getuser()
    ack = build_ack(
        AckRequest(args.incident_id, action, args.assign, args.note),
        operator=operator,
        at_ms=now_ms(),
        ack_id=str(uuid.uuid4()),
    )
    publisher = AckPublisher(settings, args.topic)
    try:
        publisher.publish(ack)
    finally:
        publisher.close()
    print(f"{ack.action.value} {ack.incident_id} by {ack.operator} (ack {ack.ack_id})")
    return 0
