"""The normalise job's per-record path, fuzzed: every input comes out once, event or DLQ.

The connector parsers and the serde have their own fuzzing (tests/unit/connectors,
test_serde_properties). What sits between them in the job is ``NormalizeRecords``: Avro
bytes → decode → normalise. Schema-valid records with arbitrary field values (NaN and
out-of-range coordinates, any timestamps, empty ids) and arbitrary bytes must each give
exactly one output: a normalised event, or a dead letter carrying the original bytes.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_serde_properties import CATALOGUE, strategy_for

from connectors.feeds import RAW_SCHEMAS
from vigie.config import Settings
from vigie.core.events import NormalizedEvent
from vigie.core.serde import AvroSerializer
from vigie.flink.operators import NormalizeRecords, dlq_of
from vigie.kafka.dead_letter import H_REASON

pytestmark = pytest.mark.unit

FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SERIALIZER = AvroSerializer(CATALOGUE)


def _operator() -> NormalizeRecords:
    op = NormalizeRecords(Settings())
    op.open(None)  # type: ignore[arg-type]  # open() reads no runtime context
    return op


def _accounted_once(op: NormalizeRecords, feed: str, value: bytes) -> Any:
    topic = f"raw.{feed}"
    out = list(op.process_element((value, topic), None))  # type: ignore[arg-type]
    assert len(out) == 1, f"{len(out)} outputs for one input"
    (result,) = out
    if isinstance(result, NormalizedEvent):
        return result
    tag, row = result
    assert tag.tag_id == dlq_of(topic).tag_id, "a dead letter goes to its own topic's DLQ"
    assert bytes(row[1]) == value, "a dead letter keeps the original bytes"
    assert row[2][H_REASON], "and says why"
    return row


@pytest.mark.parametrize("feed", sorted(RAW_SCHEMAS))
def test_schema_valid_records_become_an_event_or_a_dead_letter(feed: str) -> None:
    op = _operator()
    name = RAW_SCHEMAS[feed]

    @FUZZ
    @given(strategy_for(CATALOGUE.get(name).expanded))
    def one_output(record: Any) -> None:
        _accounted_once(op, feed, SERIALIZER.serialize(name, record))

    one_output()


@pytest.mark.parametrize("feed", sorted(RAW_SCHEMAS))
def test_arbitrary_and_mutated_bytes_become_dead_letters(feed: str) -> None:
    op = _operator()
    name = RAW_SCHEMAS[feed]

    @FUZZ
    @given(strategy_for(CATALOGUE.get(name).expanded), st.binary(max_size=64), st.data())
    def dead(record: Any, noise: bytes, data: st.DataObject) -> None:
        good = SERIALIZER.serialize(name, record)
        cut = data.draw(st.integers(0, len(good) - 1))
        for value in (noise, good[:cut], b"\x07" + good[1:]):
            result = _accounted_once(op, feed, value)
            assert not isinstance(result, NormalizedEvent)

    dead()
