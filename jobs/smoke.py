"""Smoke job: Avro readings from Kafka, decoded in Python, inserted into ClickHouse.

It proves the three services work together on this machine. Bounded: it reads the topic
from the first record at or after ``--since`` (epoch millis) to the offsets current at start,
then finishes, so a re-run does not re-insert earlier runs.

    python -m jobs.smoke --topic smoke.readings --table vigie.smoke_readings
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from pyflink.common import Types, WatermarkStrategy
from pyflink.common.serialization import ByteArraySchema
from pyflink.datastream import ProcessFunction, RuntimeContext
from pyflink.datastream.connectors.kafka import KafkaOffsetsInitializer, KafkaSource

from vigie.config import Settings, load_settings
from vigie.core.serde.catalogue import SchemaCatalogue
from vigie.core.serde.codec import AvroDeserializer
from vigie.flink.environment import make_environment

BATCH_ROWS = 500
READING = "org.vigie.smoke.v1.SmokeReading"


class InsertReadings(ProcessFunction):
    """Decode each record and insert readings into ClickHouse in batches."""

    def __init__(self, settings: Settings, table: str) -> None:
        self.settings = settings
        self.table = table
        self.rows: list[tuple[Any, ...]] = []

    def open(self, runtime_context: RuntimeContext) -> None:
        """Connect once per parallel instance, not per record."""
        from clickhouse_driver import Client

        self.client = Client(
            host=self.settings.clickhouse_address,
            port=self.settings.clickhouse_port,
            user=self.settings.clickhouse_user,
            password=self.settings.clickhouse_password.get_secret_value(),
        )
        catalogue = SchemaCatalogue.load(self.settings.schemas_dir / "avro")
        self.decoder = AvroDeserializer(catalogue)

    def process_element(self, value: bytes, ctx: ProcessFunction.Context) -> Any:
        """Buffer the decoded reading; yield the batch size whenever a batch is written."""
        record = self.decoder.deserialize(value, READING).record
        at = record["at"]
        if not isinstance(at, datetime):
            at = datetime.fromtimestamp(at / 1000, tz=UTC)
        self.rows.append(
            (record["run_id"], record["reading_id"], record["sensor"], at, record["value"])
        )
        if len(self.rows) >= BATCH_ROWS:
            yield self._flush()

    def _flush(self) -> int:
        count = len(self.rows)
        if count:
            self.client.execute(
                f"INSERT INTO {self.table} (run_id, reading_id, sensor, at, value) VALUES",
                self.rows,
            )
            self.rows = []
        return count

    def close(self) -> None:
        """Write the last partial batch before the job finishes."""
        self._flush()
        self.client.disconnect()


def run(settings: Settings, topic: str, table: str, since_ms: int = 0) -> None:
    """Build and run the bounded smoke job to completion."""
    env = make_environment(settings, streaming=False)
    source = (
        KafkaSource.builder()
        .set_bootstrap_servers(settings.bootstrap_servers)
        .set_topics(topic)
        .set_group_id(f"vigie-smoke-{topic}")
        .set_starting_offsets(KafkaOffsetsInitializer.timestamp(since_ms))
        .set_bounded(KafkaOffsetsInitializer.latest())
        .set_value_only_deserializer(ByteArraySchema())
        .build()
    )
    stream = env.from_source(source, WatermarkStrategy.no_watermarks(), f"kafka:{topic}")
    stream.process(InsertReadings(settings, table), output_type=Types.INT())
    env.execute("vigie-smoke")


def main() -> None:
    """Command-line entry point for `flink run -py jobs/smoke.py` or `python -m`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--topic", default="smoke.readings")
    parser.add_argument("--table", default="vigie.smoke_readings")
    parser.add_argument("--since", type=int, default=0, help="epoch millis to start from")
    args = parser.parse_args()
    run(load_settings(), args.topic, args.table, args.since)


if __name__ == "__main__":
    main()
