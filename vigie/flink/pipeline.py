"""The streaming graph, assembled from the operators: normalise, then fuse.

The deployable jobs in ``jobs/`` are a few lines over these functions: ``normalize`` and
``fuse`` run apart in production (two FlinkDeployments, ``events.normalized`` between them);
``pipeline`` runs both in one job, which is what the local stack does to spare a JVM.
"""

from __future__ import annotations

from pyflink.common import Types
from pyflink.datastream import DataStream, StreamExecutionEnvironment

from vigie.config import Settings
from vigie.core.events import Source
from vigie.flink.kafka_io import KEYED_RECORD, KafkaSinks
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
    sinks.add(unique.get_side_output(EVENTS_OUT), EVENTS_TOPIC, stamped=True)
    return unique


def events_from_topic(
    env: StreamExecutionEnvironment, settings: Settings, sinks: KafkaSinks
) -> DataStream:
    """``events.normalized`` read back (the fuse job on its own); bad bytes → dlq.normalize.

    Watermarks per partition, from the event time normalise stamps on each record, less
    the largest feed delay: a stream-wide watermark would let one partition read ahead
    (a backlog after a restart) make the other's events late past the allowed lateness.
    """
    group = f"{settings.job_group_prefix}-fuse"
    delay = max(settings.watermark_delay_s.values(), default=300)
    raw = sinks.tagged_source({EVENTS_TOPIC: delay}, group, name="normalized_events")
    decoded = raw.process(
        DecodeEvents(settings, EVENTS_TOPIC), output_type=Types.PICKLED_BYTE_ARRAY()
    ).name("decode events")
    sinks.add(decoded.get_side_output(DLQ), "dlq.normalize")
    return decoded


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
