"""Avro records produced to Kafka are read by PyFlink and land in ClickHouse, once each."""

from __future__ import annotations

import pytest

from vigie.config import Settings
from vigie.smoke import run_smoke

pytestmark = pytest.mark.integration


def test_smoke_pipeline_counts_every_record_once(stack: Settings) -> None:
    first = run_smoke(stack, count=700)
    assert (first.produced, first.counted) == (700, 700)
    # A second run starts from its own records: the first run's rows are not inserted again.
    second = run_smoke(stack, count=300)
    assert (second.produced, second.counted) == (300, 300)
    from vigie.smoke import count_rows

    assert count_rows(stack, first.run_id) == 700
