"""The streaming graph, assembled from the operators: normalise, then fuse.

The deployable jobs in ``jobs/`` are a few lines over these functions: ``normalize`` and
``fuse`` run apart in production (two FlinkDeployments, ``events.normalized`` between them);
``pipeline`` runs both in one job, which is what the local stack does to spare a JVM.
"""

from __future__ import annotations

from pyflink.common import Duration, Types, WatermarkStrategy
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream import DataStream, StreamExecutionEnvironment

from vigie.config import Settings
from vigie.core.events import NormalizedEvent, Source
from vigie.flink.kafka_io import KEYED_RECORD, KafkaSinks, bytes_source
from vigie.flink.operators import (
    DLQ,
    CellKeys,
    DecodeEvents,
    DropDuplicates,
    FuseCell,
    KeyedAvro,
    NormalizeRecords,
)

EVENTS_TOPIC = "events.normalized"
INCIDENTS_TOPIC = "incidents"


class EventTime(TimestampAssigner):
    """Event time of a normalised event, in epoch millis."""

    def extract_timestamp(self, value: NormalizedEvent, record_timestamp: int) -> int:
        """The time the event happened, not when Kafka got it."""
        return value.event_time


def _watermarks(settings: Settings, delay_s: int) -> WatermarkStrategy:
    return (
        WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(delay_s))
        .with_timestamp_assigner(EventTime())
        .with_idleness(Duration.of_seconds(settings.idle_after_s))
    )


def _source_watermarks(settings: Settings, delay_s: int) -> WatermarkStrategy:
    return WatermarkStrategy.for_bounded_out_of_orderness(
        Duration.of_seconds(delay_s)
    ).with_idleness(Duration.of_seconds(settings.idle_after_s))


def normalize(env: StreamExecutionEnvironment, settings: Settings, sinks: KafkaSinks) -> DataStream:
    """raw.<feed> → deduplicated events (returned) + ``events.normalized`` + ``dlq.<feed>``."""
    group = f"{settings.job_group_prefix}-normalize"
    per_feed: list[DataStream] = []
    for source in Source:
        topic = f"raw.{source.value}"
        delay = settings.watermark_delay_s.get(source.value, 300)
        # Watermarks in the source, per partition, from the Kafka timestamp (the connectors
        # stamp the event time): a partition read ahead of another cannot make the
        # other's records late, and no Python runs to find the time.
        raw = env.from_source(
            bytes_source(settings, topic, group), _source_watermarks(settings, delay), topic
        ).name(f"read {topic}")
        normalised = raw.process(
            NormalizeRecords(settings, topic), output_type=Types.PICKLED_BYTE_ARRAY()
        ).name(f"normalise {source.value}")
        sinks.add(normalised.get_side_output(DLQ), f"dlq.{source.value}")
        per_feed.append(normalised)
    events = per_feed[0].union(*per_feed[1:])
    unique = (
        events.key_by(lambda e: e.event_id, key_type=Types.STRING())
        .process(
            DropDuplicates(settings.dedupe_window_s * 1000),
            output_type=Types.PICKLED_BYTE_ARRAY(),
        )
        .name("drop duplicate records")
    )
    keyed = unique.map(KeyedAvro(settings), output_type=KEYED_RECORD).name("encode events")
    sinks.add(keyed, EVENTS_TOPIC)
    return unique


def events_from_topic(
    env: StreamExecutionEnvironment, settings: Settings, sinks: KafkaSinks
) -> DataStream:
    """``events.normalized`` read back (the fuse job on its own); bad bytes → dlq.normalize."""
    group = f"{settings.job_group_prefix}-fuse"
    raw = env.from_source(
        bytes_source(settings, EVENTS_TOPIC, group), WatermarkStrategy.no_watermarks(), EVENTS_TOPIC
    )
    decoded = raw.process(
        DecodeEvents(settings, EVENTS_TOPIC), output_type=Types.PICKLED_BYTE_ARRAY()
    )
    sinks.add(decoded.get_side_output(DLQ), "dlq.normalize")
    delay = max(settings.watermark_delay_s.values(), default=300)
    return decoded.assign_timestamps_and_watermarks(_watermarks(settings, delay))


def fuse(events: DataStream, settings: Settings, sinks: KafkaSinks) -> DataStream:
    """Events → incident versions on ``incidents`` (key = incident id, compacted)."""
    incidents = (
        events.flat_map(CellKeys(settings), output_type=Types.PICKLED_BYTE_ARRAY())
        .name("route to spatial cells")
        .key_by(lambda pair: pair[0], key_type=Types.STRING())
        .process(FuseCell(settings), output_type=Types.PICKLED_BYTE_ARRAY())
        .name("fuse incidents")
    )
    keyed = incidents.map(KeyedAvro(settings), output_type=KEYED_RECORD).name("encode incidents")
    sinks.add(keyed, INCIDENTS_TOPIC)
    return incidents
