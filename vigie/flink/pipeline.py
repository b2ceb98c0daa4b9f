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
    EVENTS_OUT,
    CellKeys,
    DecodeEvents,
    DropDuplicates,
    FuseCell,
    NormalizeRecords,
    dlq_of,
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


def normalize(env: StreamExecutionEnvironment, settings: Settings, sinks: KafkaSinks) -> DataStream:
    """raw.<feed> → deduplicated events (returned) + ``events.normalized`` + ``dlq.<feed>``."""
    group = f"{settings.job_group_prefix}-normalize"
    delays = {f"raw.{s.value}": settings.watermark_delay_s.get(s.value, 300) for s in Source}
    # One source for every feed, watermarks per partition from the event-time Kafka
    # timestamp less the feed's delay: see KafkaSinks.tagged_source.
    raw = sinks.tagged_source(delays, group)
    events = raw.process(NormalizeRecords(settings), output_type=Types.PICKLED_BYTE_ARRAY()).name(
        "normalise"
    )
    for topic in delays:
        sinks.add(events.get_side_output(dlq_of(topic)), "dlq." + topic.removeprefix("raw."))
    unique = (
        events.key_by(lambda e: e.event_id, key_type=Types.STRING())
        .process(
            DropDuplicates(settings, settings.dedupe_window_s * 1000),
            output_type=Types.PICKLED_BYTE_ARRAY(),
        )
        .name("drop duplicate records")
    )
    sinks.add(unique.get_side_output(EVENTS_OUT), EVENTS_TOPIC)
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
    """Events → incident versions, Avro rows keyed by incident id, on ``incidents``."""
    incidents = (
        events.flat_map(CellKeys(settings), output_type=Types.PICKLED_BYTE_ARRAY())
        .name("route to spatial cells")
        .key_by(lambda pair: pair[0], key_type=Types.STRING())
        .process(FuseCell(settings), output_type=KEYED_RECORD)
        .name("fuse incidents")
    )
    sinks.add(incidents, INCIDENTS_TOPIC)
    return incidents
