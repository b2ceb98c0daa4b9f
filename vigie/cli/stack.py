"""``vigie stack up|down|status|logs``: the real services on this machine."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import asdict

from vigie.config import load_settings
from vigie.stack.stack import LocalStack


def _progress(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


def _up(args: argparse.Namespace) -> int:
    stack = LocalStack(load_settings())
    started = stack.up(progress=_progress)
    print("stack up" + (f" (started: {', '.join(started)})" if started else " (already running)"))
    return _status(args)


def _down(args: argparse.Namespace) -> int:
    stopped = LocalStack(load_settings()).down(progress=_progress)
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def _status(args: argparse.Namespace) -> int:
    statuses = LocalStack(load_settings()).status()
    if getattr(args, "json", False):
        print(json.dumps([asdict(s) for s in statuses], default=str, indent=2))
    else:
        print(f"{'component':<11} {'state':<9} {'version':<10} {'ports':<13} data")
        for s in statuses:
            ports = ",".join(str(p) for p in s.ports) or "-"
            print(f"{s.name:<11} {s.state:<9} {s.version:<10} {ports:<13} {s.data_dir}")
            if s.detail:
                print(f"{'':<11} {s.detail}")
    return 0 if all(s.healthy for s in statuses) else 1


def _logs(args: argparse.Namespace) -> int:
    comp = LocalStack(load_settings()).component(args.component)
    log = comp.log_file
    if not log.exists():
        print(f"{args.component} has not written a log yet ({log})")
        return 1
    cmd = ["tail", "-n", str(args.lines)] + (["-F"] if args.follow else []) + [str(log)]
    return subprocess.call(cmd)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``vigie stack``."""
    stack = subparsers.add_parser("stack", help="run the local Kafka, ClickHouse and Flink")
    sub = stack.add_subparsers(dest="stack_command", metavar="ACTION", required=True)
    up = sub.add_parser("up", help="install on first use, start, wait until healthy")
    up.set_defaults(func=_up)
    down = sub.add_parser("down", help="stop every component cleanly")
    down.set_defaults(func=_down)
    status = sub.add_parser("status", help="health, version, ports and data folder")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=_status)
    logs = sub.add_parser("logs", help="tail a component's log")
    logs.add_argument("component", choices=["kafka", "clickhouse", "flink"])
    logs.add_argument("-n", "--lines", type=int, default=50)
    logs.add_argument("-f", "--follow", action="store_true")
    logs.set_defaults(func=_logs)
