"""Entry point of the ``vigie`` command.

Each command group lives in its own module under ``vigie.cli`` and exposes
``register(subparsers)``; adding a group means adding its module name to ``COMMAND_GROUPS``.
Errors meant for users (:class:`vigie.errors.VigieError`) print one clear line and exit 2;
nothing else is caught, so a real bug still shows its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from vigie.errors import VigieError

#: Modules under ``vigie.cli`` that add sub-commands, in the order ``--help`` lists them.
COMMAND_GROUPS: tuple[str, ...] = (
    "stack",
    "smoke",
    "run",
    "sink",
    "simulate",
    "evaluate",
    "connect",
    "watch",
    "serve",
    "ack",
    "topics",
    "db",
    "sql",
    "bench",
)


def build_parser() -> argparse.ArgumentParser:
    """Assemble the parser from every command group."""
    parser = argparse.ArgumentParser(
        prog="vigie", description="Streaming data fusion for city operations."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_GROUPS:
        module = importlib.import_module(f"vigie.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except VigieError as exc:
        print(f"vigie: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vigie: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
