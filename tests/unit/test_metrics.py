"""vigie.metrics: the exact text Prometheus reads, misuse refused, and the HTTP endpoint."""

from __future__ import annotations

import urllib.request

import pytest

from vigie.config import Settings
from vigie.metrics import (
    CONNECTOR_RECORDS,
    CONNECTOR_REJECTED,
    CONTENT_TYPE,
    SINK_ROWS,
    MetricError,
    Registry,
    export_connector_stats,
    export_sink_stats,
    render_prometheus,
    start_http_server,
)

pytestmark = pytest.mark.unit


def test_exposition_text_is_exact() -> None:
    registry = Registry()
    rejected = registry.counter("vigie_rejected_total", "Rejected records.", ("feed", "reason"))
    lag = registry.gauge("vigie_lag", "Lag with a \\ and\na newline.")
    rejected.labels(feed="police", reason="bad_time").inc()
    rejected.labels(feed="police", reason='quote"d\\').inc(2)
    rejected.labels(feed="fire", reason="bad_time").inc(0.5)
    lag.set(7)
    lag.dec(2)
    assert render_prometheus(registry) == (
        "# HELP vigie_lag Lag with a \\\\ and\\na newline.\n"
        "# TYPE vigie_lag gauge\n"
        "vigie_lag 5\n"
        "# HELP vigie_rejected_total Rejected records.\n"
        "# TYPE vigie_rejected_total counter\n"
        'vigie_rejected_total{feed="fire",reason="bad_time"} 0.5\n'
        'vigie_rejected_total{feed="police",reason="bad_time"} 1\n'
        'vigie_rejected_total{feed="police",reason="quote\\"d\\\\"} 2\n'
    )
    assert rejected.value(feed="police", reason="bad_time") == 1
    assert rejected.value(feed="camera", reason="x") == 0


def test_misuse_is_refused() -> None:
    registry = Registry()
    counter = registry.counter("c_total", "c", ("feed",))
    with pytest.raises(MetricError, match="only goes up"):
        counter.labels(feed="x").inc(-1)
    with pytest.raises(MetricError, match="takes labels"):
        counter.labels(reason="x")
    with pytest.raises(MetricError, match=r"use \.labels"):
        counter.inc()
    with pytest.raises(MetricError, match="declared differently"):
        registry.gauge("c_total", "c", ("feed",))
    with pytest.raises(MetricError, match="not a valid metric name"):
        registry.counter("bad-name", "x")
    with pytest.raises(MetricError, match="not a valid label name"):
        registry.counter("ok_total", "x", ("__reserved",))
    assert registry.counter("c_total", "again", ("feed",)) is counter


def test_http_endpoint_serves_the_registry() -> None:
    registry = Registry()
    registry.counter("vigie_rows_total", "Rows.", ("table",)).labels(table="events").inc(3)
    server = start_http_server(0, host="127.0.0.1", registry=registry)
    try:
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            assert resp.headers["Content-Type"] == CONTENT_TYPE
            assert 'vigie_rows_total{table="events"} 3' in resp.read().decode()
    finally:
        server.shutdown()
        server.server_close()


def test_metrics_port_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIE_METRICS_PORT", "9200")
    assert Settings().metrics_port == 9200
    assert Settings.model_fields["metrics_port"].default == 9108


def test_running_totals_are_exported_as_increases() -> None:
    from collections import Counter
    from dataclasses import dataclass, field

    from connectors.runtime import RunStats

    stats = RunStats(feed="zz-test-feed")
    stats.read, stats.produced = 10, 8
    stats.rejected.update({"bad_time": 2})
    export_connector_stats(stats)
    stats.read, stats.produced = 15, 12
    stats.rejected.update({"bad_time": 1, "outside_city": 1})
    export_connector_stats(stats)
    export_connector_stats(stats)  # nothing new: nothing added
    assert CONNECTOR_RECORDS.value(feed="zz-test-feed", outcome="read") == 15
    assert CONNECTOR_RECORDS.value(feed="zz-test-feed", outcome="produced") == 12
    assert CONNECTOR_RECORDS.value(feed="zz-test-feed", outcome="rejected") == 4
    assert CONNECTOR_REJECTED.value(feed="zz-test-feed", reason="bad_time") == 3
    assert CONNECTOR_REJECTED.value(feed="zz-test-feed", reason="outside_city") == 1

    @dataclass
    class Sink:
        consumed: Counter[str] = field(default_factory=Counter)
        written: Counter[str] = field(default_factory=Counter)
        dead_letters: Counter[str] = field(default_factory=Counter)

    sink = Sink()
    sink.written["zz_table"] += 500
    export_sink_stats(sink)
    sink.written["zz_table"] += 250
    export_sink_stats(sink)
    assert SINK_ROWS.value(table="zz_table") == 750
