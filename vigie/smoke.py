"""The smoke pipeline: prove Kafka, PyFlink and ClickHouse work together, end to end.

Produces a run's worth of Avro readings with confluent-kafka, runs the bounded PyFlink job
``jobs/smoke.py`` on the embedded MiniCluster, and counts the run's rows in ClickHouse.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from vigie.config import Settings
from vigie.errors import VigieError

TOPIC = "smoke.readings"
TABLE = "smoke_readings"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class SmokeResult:
    """What one smoke run produced and what ClickHouse counted."""

    run_id: str
    produced: int
    counted: int

    @property
    def ok(self) -> bool:
        """Every produced reading arrived, none twice."""
        return self.produced == self.counted


def _table(settings: Settings) -> str:
    database = settings.clickhouse_database
    if not _IDENTIFIER.match(database):
        msg = f"VIGIE_CLICKHOUSE_DATABASE={database!r} is not a plain identifier"
        raise VigieError(msg)
    return f"{database}.{TABLE}"


def _clickhouse(settings: Settings):  # type: ignore[no-untyped-def]
    from clickhouse_driver import Client

    return Client(
        host=settings.clickhouse_address,
        port=settings.clickhouse_port,
        user=settings.clickhouse_user,
        password=settings.clickhouse_password.get_secret_value(),
    )


def prepare(settings: Settings) -> None:
    """Create the smoke topic when missing."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    if TOPIC not in admin.list_topics(timeout=10).topics:
        futures = admin.create_topics([NewTopic(TOPIC, settings.topic_partitions, 1)])
        for future in futures.values():
            try:
                future.result()
            except Exception as exc:  # TOPIC_ALREADY_EXISTS in a race is fine
                if "already exists" not in str(exc).lower():
                    raise
    # The table comes from migration 0005 (`vigie stack up` migrates).


def produce(settings: Settings, run_id: str, count: int) -> int:
    """Produce ``count`` readings of one run with an idempotent producer."""
    from confluent_kafka import Producer

    from vigie.core.serde.catalogue import SchemaCatalogue
    from vigie.core.serde.codec import AvroSerializer

    catalogue = SchemaCatalogue.load(settings.schemas_dir / "avro")
    encoder = AvroSerializer(catalogue)
    producer = Producer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 20,
        }
    )
    now = datetime.now(tz=UTC)
    for i in range(count):
        value = encoder.serialize(
            "org.vigie.smoke.v1.SmokeReading",
            {
                "run_id": run_id,
                "reading_id": i,
                "sensor": f"sensor-{i % 7}",
                "at": now,
                "value": float(i) / 10,
            },
        )
        producer.produce(TOPIC, key=f"{run_id}:{i}".encode(), value=value)
        producer.poll(0)
    remaining = producer.flush(30)
    if remaining:
        msg = f"{remaining} smoke records were not acknowledged by Kafka"
        raise VigieError(msg)
    return count


def count_rows(settings: Settings, run_id: str) -> int:
    """Rows of one run in ClickHouse."""
    rows = _clickhouse(settings).execute(
        f"SELECT count() FROM {_table(settings)} WHERE run_id = %(run_id)s", {"run_id": run_id}
    )
    return int(rows[0][0])


def run_smoke(settings: Settings, count: int = 1000) -> SmokeResult:
    """Produce, run the Flink job, count; the job reads the whole topic up to now."""
    from jobs import smoke as smoke_job

    prepare(settings)
    run_id = uuid.uuid4().hex
    since_ms = int(datetime.now(tz=UTC).timestamp() * 1000) - 1000
    produced = produce(settings, run_id, count)
    smoke_job.run(settings, TOPIC, _table(settings), since_ms)
    return SmokeResult(run_id=run_id, produced=produced, counted=count_rows(settings, run_id))
