"""How fast the simulator prepares records and offers them to Kafka.

Run from the repository root (the broker part runs only when `vigie stack up` is running):

    .venv/bin/python bench/simulator_rate.py --loops 40

Stages measured on the default scenario (seed 0): generation (pure), rendering into the
agencies' formats, parsing by the real connectors, Avro encoding; then the offer loop into a
null producer (the Python cost alone) and into the real local broker on throw-away topics
(`bench.<uuid>.raw.*`, deleted afterwards), counting delivered records. Results go to
bench/results/simulator_rate.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vigie.config import REPO_ROOT, load_settings
from vigie.core.serde.catalogue import SchemaCatalogue
from vigie.core.serde.codec import AvroSerializer
from vigie.sim.city import load_city
from vigie.sim.connect import parse_output
from vigie.sim.files import write_scenario
from vigie.sim.kafka import offer, prepare
from vigie.sim.scenario import ScenarioConfig, generate

CITY_DIR = REPO_ROOT / "cities" / "marseille"
FEEDS = ("police", "fire", "camera", "transport", "weather", "permits")


class NullProducer:
    def produce(self, topic: str, value: bytes, key: bytes, on_delivery: Any) -> None:
        on_delivery(None, None)

    def poll(self, _timeout: float = 0) -> int:
        return 0

    def flush(self, _timeout: float = 0) -> int:
        return 0


def stages(seed: int) -> dict[str, Any]:
    settings = load_settings()
    city = load_city(CITY_DIR)
    t0 = time.perf_counter()
    sc = generate(city, ScenarioConfig(seed=seed))
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        write_scenario(sc, Path(tmp), city.timezone)
        t2 = time.perf_counter()
        n_parsed = sum(
            1 for _ in parse_output(Path(tmp), CITY_DIR, b"k" * 32, int(time.time() * 1e3))
        )
        t3 = time.perf_counter()
    n = len(sc.records)
    assert n_parsed == n
    ser = AvroSerializer(SchemaCatalogue.load(settings.schemas_dir / "avro"))
    t4 = time.perf_counter()
    pool = prepare(sc, CITY_DIR, city.timezone, ser, b"k" * 32, loop_suffix=True)
    t5 = time.perf_counter()

    def rate(a: float, b: float) -> int:
        return round(n / (b - a))

    return {
        "records": n,
        "generate_per_s": rate(t0, t1),
        "render_files_per_s": rate(t1, t2),
        "connector_parse_per_s": rate(t2, t3),
        "prepare_total_per_s": rate(t4, t5),
        "generate_plus_prepare_per_s": round(n / ((t1 - t0) + (t5 - t4))),
        "prepare_seconds": {k: round(v, 3) for k, v in pool.seconds.items()},
        "_pool": pool,
    }


def broker_offer(pool: Any, loops: int) -> dict[str, Any] | None:
    from confluent_kafka.admin import AdminClient, NewTopic

    from vigie.kafka.clients import make_producer

    settings = load_settings()
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    try:
        admin.list_topics(timeout=3)
    except Exception as exc:  # no broker: report and skip
        print(f"broker not reachable ({exc}); skipping the produce measurement")
        return None
    prefix = f"bench.{uuid.uuid4().hex[:8]}."
    names = [f"{prefix}raw.{f}" for f in FEEDS]
    for fut in admin.create_topics([NewTopic(t, 2, 1) for t in names]).values():
        fut.result(30)
    try:
        records = tuple(
            type(e)(prefix + e.topic, e.key, e.value, e.publish_time, e.id_end)
            for e in pool.records
        )
        producer = make_producer(
            settings,
            "bench-simulator",
            {"linger.ms": 50, "batch.size": 1_000_000, "queue.buffering.max.messages": 2_000_000},
        )
        stats = offer(producer, records, loops=loops)
        return {
            "offered": stats.offered,
            "delivered": stats.delivered,
            "failed": stats.failed,
            "seconds": round(stats.seconds, 2),
            "offered_per_s": round(stats.rate),
            "bytes_per_record": round(sum(len(e.value) for e in records) / len(records)),
        }
    finally:
        for fut in admin.delete_topics(names).values():
            fut.result(30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--loops", type=int, default=40, help="replays of the pool to the broker")
    ap.add_argument("--out", default=str(REPO_ROOT / "bench" / "results" / "simulator_rate.json"))
    args = ap.parse_args()
    result = stages(args.seed)
    pool = result.pop("_pool")
    t = time.perf_counter()
    null = offer(NullProducer(), pool.records, loops=args.loops)
    result["offer_null_producer_per_s"] = round(null.offered / (time.perf_counter() - t))
    result["broker"] = broker_offer(pool, args.loops)
    result["command"] = (
        f".venv/bin/python bench/simulator_rate.py --seed {args.seed} --loops {args.loops}"
    )
    result["machine"] = f"{platform.machine()}, {platform.python_version()}"
    result["when"] = datetime.now(tz=UTC).isoformat(timespec="seconds")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
