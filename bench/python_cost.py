"""The Python work one event costs in the pipeline, stage by stage, with no Flink around it.

Command (no stack needed):

    .venv/bin/python bench/python_cost.py [--records 20000] [--repeats 3]

Why: in PyFlink's thread mode every Python operator of a job shares one interpreter, so
the sum of these costs bounds what one job can carry whatever Flink itself costs. Stages,
on the benchmark's own load (``CityLoad``: the simulated city, Avro-encoded as the
connectors make it, in publication order):

- ``decode``: raw Avro → record (``AvroDeserializer``);
- ``normalise``: record → ``NormalizedEvent`` (projection, sectors, pseudonymised ids);
- ``crossings``: the event pickled and unpickled twice, as it crosses from normalise to
  deduplication and from there to fusion (``Types.PICKLED_BYTE_ARRAY``);
- ``encode_event``: the event's Avro for ``events.normalized``;
- ``fuse``: one ``FusionEngine`` per spatial cell, each event to every cell that must see
  it, arriving in publication order, the watermark the newest event time less the largest
  feed delay (the job's watermark follows the slowest active feed, with quiet feeds idle:
  this is its lower bound, so at least as much is held and rolled back), ``on_watermark``
  every 5 minutes of event time per cell, as ``FuseCell`` does, and a flush at the end so
  every event's work is counted;
- ``encode_incidents``: the Avro of the incident versions fusion emits, per event.

Writes bench/results/python_cost.json: microseconds per event of each stage (median over
the repeats), their sum, and the events/s one interpreter could carry if Flink cost
nothing (1e6 / sum).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import pickle
import platform
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from vigie.bench.load import CityLoad
from vigie.config import REPO_ROOT, load_settings
from vigie.core.events import Incident, NormalizedEvent
from vigie.core.fusion.batch import run_stream
from vigie.core.fusion.engine import FusionEngine
from vigie.core.geo import CityGeometry
from vigie.core.normalize import Normalizer, Rejection
from vigie.core.rules import rules_for_city
from vigie.core.serde import (
    INCIDENT,
    NORMALIZED_EVENT,
    AvroDeserializer,
    AvroSerializer,
    SchemaCatalogue,
    event_to_record,
    incident_to_record,
)
from vigie.flink.operators import city_grid

RESULT = REPO_ROOT / "bench" / "results" / "python_cost.json"
TIMER_STEP_MS = 300_000


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds ``work`` took, and what it returned."""
    start = time.perf_counter()
    out = work()
    return time.perf_counter() - start, out


def fuse_in_arrival_order(settings: Any, events: list[NormalizedEvent]) -> list[Incident]:
    """What ``CellKeys`` and ``FuseCell`` do with these events, minus Flink (module docstring)."""
    rules = rules_for_city(settings.city_dir)
    grid = city_grid(settings, rules)
    delay = max(settings.watermark_delay_s.values()) * 1000
    arrivals: dict[str, list[tuple[NormalizedEvent, int]]] = defaultdict(list)
    newest = -(2**62)
    for event in events:
        newest = max(newest, event.event_time)
        for cell in grid.cell_keys(event, rules):
            arrivals[cell].append((event, newest - delay))
    out: list[Incident] = []
    for cell, arrived in arrivals.items():  # cells are independent: one after the other
        owns = functools.partial(grid.owns, cell)
        engine = FusionEngine(rules, owns=owns, ahead_ms=settings.fusion_ahead_s * 1000 or None)
        out += run_stream(engine, arrived, watermark_every_ms=TIMER_STEP_MS)
    return out


def one_repeat(settings: Any, records: int) -> dict[str, float]:
    """Microseconds per accepted event of every stage, in one pass over the load."""
    offers, _ = CityLoad(settings, seed=0, hours=12).take(records, 0)
    catalogue = SchemaCatalogue.load(settings.schemas_dir / "avro")
    reader, writer = AvroDeserializer(catalogue), AvroSerializer(catalogue)
    normalizer = Normalizer(CityGeometry.load(settings.city_dir), rules_for_city(settings.city_dir))

    t_decode, decoded = timed(lambda: [reader.deserialize(o.value) for o in offers])
    t_norm, results = timed(
        lambda: [normalizer.normalize(d.schema_name, d.record) for d in decoded]
    )
    events = [r for r in results if not isinstance(r, Rejection)]

    def crossings() -> None:
        for event in events:
            pickle.loads(pickle.dumps(pickle.loads(pickle.dumps(event))))

    t_cross, _ = timed(crossings)
    t_enc, _ = timed(
        lambda: [writer.serialize(NORMALIZED_EVENT, event_to_record(e)) for e in events]
    )
    t_fuse, versions = timed(lambda: fuse_in_arrival_order(settings, events))
    t_inc, _ = timed(lambda: [writer.serialize(INCIDENT, incident_to_record(i)) for i in versions])
    per = 1e6 / len(events)
    return {
        "decode": t_decode * per,
        "normalise": t_norm * per,
        "crossings": t_cross * per,
        "encode_event": t_enc * per,
        "fuse": t_fuse * per,
        "encode_incidents": t_inc * per,
        "events": len(events),
        "incident_versions": len(versions),
    }


def main() -> None:
    """Measure, print, and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=20_000, help="raw records per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    settings = load_settings()
    runs = []
    for n in range(args.repeats):
        runs.append(one_repeat(settings, args.records))
        print(f"repeat {n + 1}/{args.repeats}: " + ", ".join(
            f"{k} {v:.0f}" for k, v in runs[-1].items()), flush=True)  # fmt: skip
    stages = ("decode", "normalise", "crossings", "encode_event", "fuse", "encode_incidents")
    median = {s: round(statistics.median(r[s] for r in runs), 1) for s in stages}
    total = sum(median.values())
    result = {
        "command": f"python bench/python_cost.py --records {args.records} --repeats {args.repeats}",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "what": "Python work per accepted event, microseconds, median over repeats; no Flink",
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_end": list(os.getloadavg()),
        },
        "fusion_cell_m": settings.fusion_cell_m,
        "fusion_ahead_s": settings.fusion_ahead_s,
        "events_per_repeat": runs[0]["events"],
        "incident_versions_per_repeat": runs[0]["incident_versions"],
        "us_per_event": median,
        "us_per_event_total": round(total, 1),
        "one_interpreter_ceiling_per_s": round(1e6 / total),
        "repeats": runs,
    }
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"total {total:.0f} us per event: one interpreter carries at most "
          f"{1e6 / total:.0f} events/s; {RESULT}")  # fmt: skip


if __name__ == "__main__":
    main()
