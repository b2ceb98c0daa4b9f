"""``python -m vigie.deploy sync|check|validate``: the chart's copies and its validation."""

from __future__ import annotations

import argparse
import sys
import time

from vigie.deploy import chart
from vigie.errors import VigieError


def main(argv: list[str] | None = None) -> int:
    """Run one sub-command; problems print one clear message and exit 1."""
    parser = argparse.ArgumentParser(prog="python -m vigie.deploy", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("sync", help="link the chart to the topics, rules and city files")
    sub.add_parser("check", help="list chart links that are broken")
    sub.add_parser("readme", help="write the chart's README.md from the values' comments")
    sub.add_parser("validate", help="helm lint + template both profiles, validate every manifest")
    args = parser.parse_args(argv)
    try:
        if args.command == "sync":
            for line in chart.sync() or ["chart links already in place"]:
                print(line)
        elif args.command == "readme":
            target = chart.CHART_DIR / "README.md"
            target.write_text(chart.readme(), encoding="utf-8")
            print(f"wrote {target}")
        elif args.command == "check":
            problems = chart.out_of_sync()
            for line in problems or ["chart links in place"]:
                print(line)
            return 1 if problems else 0
        else:
            start = time.monotonic()
            for label, report in chart.check_all():
                print(f"{label}: {len(report.checked)} manifests valid")
            print(f"chart valid in {time.monotonic() - start:.1f}s")
    except VigieError as exc:
        print(f"vigie.deploy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
