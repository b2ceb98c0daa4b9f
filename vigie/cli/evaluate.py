"""``vigie evaluate``: score fusion against the simulator's ground truth, beside ST-DBSCAN.

``vigie simulate --seed 0 --out /tmp/city && vigie evaluate --events /tmp/city --truth
/tmp/city/ground_truth.jsonl`` runs the fusion core offline over the events in event-time
order (the same engine the fuse job runs) and the tuned ST-DBSCAN baseline over the same
evidence, and prints B-cubed precision, recall and F1 and category accuracy side by side.
``--events`` takes a simulator output folder (parsed with the connectors' own parsers) or
normalised events as JSON lines.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from vigie.config import load_settings
from vigie.core.rules import load_rules, rules_for_city
from vigie.eval.feeds import load_events
from vigie.eval.metrics import load_truth
from vigie.eval.run import Report, evaluate


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``vigie evaluate``."""
    p = subparsers.add_parser(
        "evaluate",
        help="score fusion (and an ST-DBSCAN baseline) against simulated ground truth",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--events", required=True, type=Path, help="simulator folder or JSON lines")
    p.add_argument("--truth", required=True, type=Path, help="ground_truth.jsonl")
    p.add_argument("--rules", type=Path, help="fusion rules (default: the city's, else shipped)")
    p.add_argument("--city-dir", type=Path, help="city folder (default: cities/<VIGIE_CITY>)")
    p.add_argument("--no-baseline", action="store_true", help="skip the ST-DBSCAN grid search")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    city_dir: Path = args.city_dir or load_settings().city_dir
    rules = load_rules(args.rules) if args.rules else rules_for_city(city_dir)
    events = load_events(args.events, city_dir, rules)
    truth = load_truth(args.truth)
    report = evaluate(events, truth, rules, baseline=not args.no_baseline)
    if args.json:
        print(json.dumps(asdict(report), default=str, indent=2))
    else:
        print(render(report))
    return 0


def render(report: Report) -> str:
    """The side-by-side table."""
    rows = [("", "fusion", "ST-DBSCAN (tuned)")]
    base = report.baseline

    def cell(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    for label, attr in (
        ("B-cubed precision", "precision"),
        ("B-cubed recall", "recall"),
        ("B-cubed F1", "f1"),
        ("category accuracy", "category_accuracy"),
    ):
        rows.append(
            (
                label,
                cell(getattr(report.fusion, attr)),
                cell(None if base is None else getattr(base, attr)),
            )
        )
    rows.append(
        (
            "incidents / clusters",
            str(report.fusion.predicted_clusters),
            "-" if base is None else str(base.predicted_clusters),
        )
    )
    for tag, (exact, total) in report.fusion.exact_by_tag.items():
        other = None if base is None else base.exact_by_tag.get(tag)
        rows.append(
            (
                f"exact incidents: {tag}",
                f"{exact}/{total}",
                "-" if other is None else f"{other[0]}/{other[1]}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(3)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(
        f"{report.events} events ({report.evidence_events} evidence, scored over "
        f"{report.fusion.items}); fusion ran in {report.fusion_seconds:.1f} s"
    )
    if report.baseline_params is not None:
        lines.append(f"ST-DBSCAN best setting by B-cubed F1: {report.baseline_params}")
    return "\n".join(lines)
