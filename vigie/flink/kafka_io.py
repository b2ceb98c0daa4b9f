"""Kafka sources and sinks for the PyFlink jobs.

Both go through the Table API's Kafka connector. The source hands Python the raw value
bytes (``raw`` format) with the topic, so Python owns the Avro decoding and can route
anything it cannot read to a dead-letter topic, and it makes watermarks per partition from
the Kafka timestamps. The sinks are the way PyFlink can set a record *key* (the
``incidents`` topic is compacted by ``incident_id``), *headers* (the DLQ's reason) and the
*timestamp* (event time on ``events.normalized``).
"""

from __future__ import annotations

import re

from pyflink.common import Types
from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment
from pyflink.table.expressions import col, to_timestamp_ltz

from vigie.config import Settings

_KEYED_FIELDS = ["k", "v", "headers"]
_KEYED_TYPES = [
    Types.STRING(),
    Types.PRIMITIVE_ARRAY(Types.BYTE()),
    Types.MAP(Types.STRING(), Types.PRIMITIVE_ARRAY(Types.BYTE())),
]
#: A keyed Kafka record as the jobs emit it: key text, value bytes, header map.
KEYED_RECORD = Types.ROW_NAMED(_KEYED_FIELDS, _KEYED_TYPES)
#: A keyed record stamped with its event time (epoch ms) as the Kafka timestamp.
STAMPED_RECORD = Types.ROW_NAMED([*_KEYED_FIELDS, "ts"], [*_KEYED_TYPES, Types.LONG()])

_TABLE_NAME = re.compile(r"[^A-Za-z0-9_]")


def _interval(seconds: int) -> str:
    """A SQL interval literal of any length (``INTERVAL '1800' SECOND`` overflows SECOND(2))."""
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"INTERVAL '{days} {hours:02d}:{minutes:02d}:{secs:02d}' DAY TO SECOND"


class KafkaSinks:
    """Keyed Kafka sinks of one job, attached together to its execution environment.

    It also owns the job's table environment, which :meth:`tagged_source` uses too.
    """

    def __init__(self, env: StreamExecutionEnvironment, settings: Settings) -> None:
        self.settings = settings
        self.tenv = StreamTableEnvironment.create(env)
        self._statements = self.tenv.create_statement_set()

    def tagged_source(
        self, topics: dict[str, int], group_id: str, name: str = "raw_records"
    ) -> DataStream:
        """Rows of (value bytes, topic) from several topics through one Kafka source.

        ``topics`` maps each topic to its watermark delay in seconds. One source (one task,
        one Python operator after it) instead of one per topic: in thread mode every Python
        operator shares one interpreter lock, so fewer of them contend for it. Watermarks
        are made in the source, per partition, from the Kafka timestamp (the event time the
        connectors stamp) less the delay of the partition's topic; a partition quiet for
        ``idle_after_s`` stops holding time back. Offsets: the group's committed ones, else
        the earliest, committed again on each checkpoint.
        """
        delay = " ".join(f"WHEN '{t}' THEN {_interval(d)}" for t, d in topics.items())
        self.tenv.get_config().set(
            "table.exec.source.idle-timeout", f"{self.settings.idle_after_s} s"
        )
        options = self._options(
            ";".join(topics),
            {
                "properties.group.id": group_id,
                "properties.isolation.level": "read_committed",
                "properties.auto.offset.reset": "earliest",
                "properties.max.partition.fetch.bytes": str(self.settings.source_fetch_bytes),
                "scan.startup.mode": "group-offsets",
                "scan.topic-partition-discovery.interval": "60 s",
                "value.format": "raw",
            },
        )
        self.tenv.execute_sql(
            f"""CREATE TEMPORARY TABLE IF NOT EXISTS `{name}` (
                  v BYTES,
                  topic STRING METADATA VIRTUAL,
                  ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
                  WATERMARK FOR ts AS ts - CASE topic {delay} ELSE {_interval(300)} END
                ) WITH ({options})"""
        )
        return self.tenv.to_data_stream(self.tenv.sql_query(f"SELECT v, topic FROM `{name}`"))

    def _options(self, topic: str, options: dict[str, str]) -> str:
        """The WITH options of a Kafka table on this job's brokers, one per line."""
        every = {
            "connector": "kafka",
            "topic": topic,
            "properties.bootstrap.servers": self.settings.bootstrap_servers,
            **options,
        }
        return ",\n".join(f"'{key}' = '{value}'" for key, value in every.items())

    def add(self, stream: DataStream, topic: str, *, stamped: bool = False) -> None:
        """Send a stream of :data:`KEYED_RECORD` rows to ``topic`` (key, value, headers).

        ``stamped``: the rows are :data:`STAMPED_RECORD` and their event time becomes the
        Kafka timestamp, so a job reading the topic makes per-partition watermarks from it
        (:meth:`tagged_source`), as normalise does from the connectors' stamps.

        At-least-once: every record a checkpoint covers is flushed before the checkpoint
        completes. Downstream is idempotent (compacted topic, versioned incidents), so a
        replay after a failure repeats versions but never invents or loses one.
        """
        name = "sink_" + _TABLE_NAME.sub("_", topic)
        options = self._options(
            topic,
            {
                "properties.enable.idempotence": "true",
                "properties.acks": "all",
                "properties.linger.ms": "20",
                "key.format": "raw",
                "key.fields": "k",
                "value.format": "raw",
                "value.fields-include": "EXCEPT_KEY",
                "sink.delivery-guarantee": "at-least-once",
            },
        )
        stamp = ", ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp'" if stamped else ""
        self.tenv.execute_sql(
            f"""CREATE TEMPORARY TABLE IF NOT EXISTS `{name}` (
                  k STRING, v BYTES, headers MAP<STRING, BYTES> METADATA{stamp}
                ) WITH ({options})"""
        )
        rows = self.tenv.from_data_stream(stream)
        if stamped:
            rows = rows.select(col("k"), col("v"), col("headers"), to_timestamp_ltz(col("ts"), 3))
        self._statements.add_insert(name, rows)

    def attach(self) -> None:
        """Add the sinks to the environment; ``env.execute()`` then runs them with the rest."""
        self._statements.attach_as_datastream()
