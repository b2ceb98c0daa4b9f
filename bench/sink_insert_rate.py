"""Insert rate of the sink's ClickHouse writer (IncidentStore), in rows per second.

Command (the local stack must be up: `vigie stack up`):

    .venv/bin/python bench/sink_insert_rate.py [--repeats 5] [--batch 20000]

Writes bench/results/sink_insert_rate.json with the medians over the repeats, every
repeat's figure, and what the machine and versions were. Each repeat inserts into fresh
databases (``vigie_bench_<hex>``, dropped afterwards), never into the stack's own ``vigie``.

What is measured: ``IncidentStore.insert_events``, ``insert_incidents`` and ``insert_acks``
with batches as the sink gives them, end to end over the native protocol: row building,
the privacy split, the driver's encoding, the server's parsing and part writing, and the
materialised views that keep the rollups. Rows counted are every row sent (an event with
personal attributes is two rows: one per database; an incident version brings its links).
A "replay" figure inserts the same batch again, as after a sink restart.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from vigie.config import REPO_ROOT, load_settings
from vigie.core.events import Incident, IncidentAck, LinkEvidence, NormalizedEvent
from vigie.store.engine import connect
from vigie.store.incident_store import IncidentStore, InsertCounts
from vigie.store.sample_data import build_sample
from vigie.store.schema import Databases, drop_databases, load_migrations, migrate

RESULT = REPO_ROOT / "bench" / "results" / "sink_insert_rate.json"


def _machine() -> dict[str, object]:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    total_kb = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(total_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "os": platform.platform(),
        "python": platform.python_version(),
        "clickhouse_driver": version("clickhouse-driver"),
    }


HOUR_MS = 3_600_000
EVENT_TIMES = ("event_time", "ingest_time", "valid_from", "valid_until")
INCIDENT_TIMES = ("first_event_time", "last_event_time", "created_at", "updated_at")


def _fold(record: object, fields: tuple[str, ...], anchor: int, span_ms: int) -> dict[str, int]:
    """Time fields shifted by one whole number of spans, so the record lands in the window."""
    first = getattr(record, fields[0])
    shift = ((first - anchor) // span_ms) * span_ms
    return {f: getattr(record, f) - shift for f in fields if getattr(record, f) is not None}


def _batches(
    size: int, span_ms: int | None
) -> tuple[list[NormalizedEvent], list[Incident], list[IncidentAck]]:
    """``size`` events, incident versions and acks, cycled from the simulated city.

    With ``span_ms`` every record is moved into one window of that length (what a live
    sink sees: one or two partitions per insert); without, they spread over the city's
    week (a backfill or a long replay: one part per day and data class).
    """
    city = build_sample(1_795_878_000_000, hours=168)
    anchor = city.end_ms - (span_ms or 0)

    def fold(record: object, fields: tuple[str, ...]) -> dict[str, int]:
        return _fold(record, fields, anchor, span_ms) if span_ms else {}

    events = [
        dataclasses.replace(e, event_id=f"{e.event_id}#{n}", **fold(e, EVENT_TIMES))
        for n in range(size // len(city.events) + 1)
        for e in city.events
    ][:size]
    incidents = [
        dataclasses.replace(
            i,
            incident_id=f"{i.incident_id}#{n}",
            links=tuple(
                LinkEvidence(
                    f"{k.event_a}#{n}", f"{k.event_b}#{n}", k.rule, k.distance_m, k.time_gap_ms
                )
                for k in i.links
            ),
            **fold(i, INCIDENT_TIMES),
        )
        for n in range(size // len(city.incidents) + 1)
        for i in city.incidents
    ][:size]
    acks = [
        dataclasses.replace(
            a, ack_id=f"{a.ack_id}#{n}", incident_id=f"{a.incident_id}#{n}", **fold(a, ("at",))
        )
        for n in range(size // len(city.acks) + 1)
        for a in city.acks
    ][:size]
    return events, incidents, acks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=20_000, help="records per insert call")
    args = parser.parse_args(argv)

    settings = load_settings()
    admin = connect(settings, "admin")
    server_version = str(admin.version())
    migrations = load_migrations(REPO_ROOT / "schemas" / "clickhouse")
    medians: dict[str, dict[str, int]] = {}
    all_runs: dict[str, dict[str, list[int]]] = {}
    rows_per_call: dict[str, dict[str, int]] = {}
    for profile, span_ms in (("live_one_hour", HOUR_MS), ("backfill_one_week", None)):
        events, incidents, acks = _batches(args.batch, span_ms)
        runs: dict[str, list[float]] = {"events": [], "incidents": [], "acks": [], "replay": []}
        rows_per_batch: dict[str, int] = {}
        for repeat in range(args.repeats):
            suffix = uuid.uuid4().hex[:8]
            dbs = Databases(f"vigie_bench_{suffix}", f"vigie_bench_{suffix}_private")
            migrate(admin, dbs, migrations)
            store = IncidentStore(admin, dbs)
            try:
                steps: list[tuple[str, Callable[[Any], InsertCounts], list[Any]]] = [
                    ("events", store.insert_events, events),
                    ("incidents", store.insert_incidents, incidents),
                    ("acks", store.insert_acks, acks),
                    ("replay", store.insert_events, events),
                ]
                for name, insert, batch in steps:
                    start = time.perf_counter()
                    rows = insert(batch).total
                    seconds = time.perf_counter() - start
                    rows_per_batch[name] = rows
                    runs[name].append(rows / seconds)
                    print(
                        f"{profile} repeat {repeat + 1}: {name:9s} {rows:7d} rows in "
                        f"{seconds:6.3f} s = {rows / seconds:9.0f} rows/s",
                        file=sys.stderr,
                    )
            finally:
                drop_databases(admin, dbs)
        medians[profile] = {k: round(statistics.median(v)) for k, v in runs.items()}
        all_runs[profile] = {k: [round(x) for x in v] for k, v in runs.items()}
        rows_per_call[profile] = rows_per_batch
    admin.close()

    result = {
        "command": "python bench/sink_insert_rate.py "
        f"--repeats {args.repeats} --batch {args.batch}",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "what": "IncidentStore inserts over the native protocol, rows sent per second "
        "(median over repeats; each repeat into fresh databases)",
        "server": f"ClickHouse {server_version} at "
        f"{settings.clickhouse_address}:{settings.clickhouse_port}",
        "machine": _machine(),
        "records_per_call": args.batch,
        "profiles": {
            "live_one_hour": "every record within one hour, as the streaming sink sees them",
            "backfill_one_week": "records spread over a week: one part per day and class",
        },
        "rows_per_call": rows_per_call,
        "median_rows_per_s": medians,
        "runs_rows_per_s": all_runs,
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(medians, indent=2))
    print(f"written to {RESULT.relative_to(REPO_ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
