"""``vigie smoke``: Avro records through Kafka and PyFlink into ClickHouse, then counted."""

from __future__ import annotations

import argparse
import sys

from vigie.config import load_settings
from vigie.stack.stack import LocalStack


def _smoke(args: argparse.Namespace) -> int:
    from vigie.smoke import run_smoke

    settings = load_settings()
    print("starting the local stack ...", file=sys.stderr, flush=True)
    LocalStack(settings).up(progress=lambda line: print(f"  {line}", file=sys.stderr))
    print(f"producing {args.records} Avro readings and running the Flink job ...", flush=True)
    result = run_smoke(settings, args.records)
    print(
        f"run {result.run_id}: produced {result.produced} to Kafka, "
        f"counted {result.counted} in ClickHouse -> {'OK' if result.ok else 'MISMATCH'}"
    )
    return 0 if result.ok else 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``vigie smoke``."""
    smoke = subparsers.add_parser("smoke", help="prove Kafka -> Flink -> ClickHouse works")
    smoke.add_argument("--records", type=int, default=1000, help="readings to produce")
    smoke.set_defaults(func=_smoke)
