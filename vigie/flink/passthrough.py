"""The benchmark's reference graph: normalise as in production, fusion replaced by identity.

``vigie bench`` runs it beside the real pipeline on the same records, sources and sinks, so
the fusion/passthrough throughput ratio shows what fusion itself costs: the passthrough job
pays for reading, Avro decoding, normalising, deduplication, the ``events.normalized`` sink
and one Avro record out per event, exactly like the pipeline; it only skips the cell keying
and the fusion engine. Its identity output goes to its own topic so it never mixes with
real incidents.
"""

from __future__ import annotations

from pyflink.datastream import DataStream

from vigie.config import Settings
from vigie.flink.kafka_io import KEYED_RECORD, KafkaSinks
from vigie.flink.operators import AvroRows

PASSTHROUGH_TOPIC = "bench.passthrough"


def passthrough(
    events: DataStream, settings: Settings, sinks: KafkaSinks, topic: str = PASSTHROUGH_TOPIC
) -> DataStream:
    """Events → the same events, Avro-encoded, on ``topic`` (fusion's place, no fusion)."""
    keyed = events.map(AvroRows(settings), output_type=KEYED_RECORD).name("identity out")
    sinks.add(keyed, topic)
    return events
