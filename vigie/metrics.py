"""Counters and gauges for Prometheus, in pure Python: connectors and the sink expose them.

A :class:`Registry` holds metrics; each has a name, a help text and label names, and keeps one
value per combination of label values. :func:`render_prometheus` writes them in Prometheus'
text exposition format (version 0.0.4); :func:`start_http_server` serves that on
``/metrics`` from a daemon thread, on ``VIGIE_METRICS_PORT`` unless told otherwise.

    from vigie.metrics import CONNECTOR_RECORDS, start_http_server

    start_http_server()                      # once, at the start of a long-running command
    CONNECTOR_RECORDS.labels(feed="police", outcome="produced").inc()

The metrics declared at the bottom are the ones ``deploy/grafana/vigie-pipeline.json``
charts; use them rather than new names for the same thing. Code that already keeps its own
running totals (``connectors.runtime.RunStats``, ``vigie.sink.SinkStats``) hands them to
:func:`export_connector_stats` / :func:`export_sink_stats` after each payload or batch: only
the increase since the previous call is added, so the counters stay monotonic.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar, Literal, Protocol

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class MetricError(ValueError):
    """A metric was declared or used the wrong way (name, labels, negative increment)."""


class _Child:
    """The value of one metric for one combination of label values."""

    def __init__(self, lock: threading.Lock, monotonic: bool) -> None:
        self._lock = lock
        self._monotonic = monotonic
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        """Add ``amount`` (a counter refuses a negative one)."""
        if self._monotonic and amount < 0:
            msg = f"a counter only goes up, not by {amount}"
            raise MetricError(msg)
        with self._lock:
            self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        """Subtract ``amount`` (gauges only)."""
        if self._monotonic:
            msg = "a counter cannot go down; use a gauge"
            raise MetricError(msg)
        with self._lock:
            self.value -= amount

    def set(self, value: float) -> None:
        """Set the value (gauges only)."""
        if self._monotonic:
            msg = "a counter cannot be set; use a gauge"
            raise MetricError(msg)
        with self._lock:
            self.value = float(value)


class Metric:
    """A counter or a gauge with fixed label names."""

    kind: ClassVar[Literal["counter", "gauge"]]

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        if not _NAME.match(name):
            msg = f"{name!r} is not a valid metric name"
            raise MetricError(msg)
        for label in labelnames:
            if not _LABEL.match(label) or label.startswith("__"):
                msg = f"{label!r} is not a valid label name (metric {name})"
                raise MetricError(msg)
        self.name = name
        self.help = help_text
        self.labelnames = tuple(labelnames)
        self._lock = threading.Lock()
        self._children: dict[tuple[str, ...], _Child] = {}
        if not self.labelnames:
            self._children[()] = _Child(self._lock, self.kind == "counter")

    def labels(self, **values: object) -> _Child:
        """The value for these label values (created at 0 on first use)."""
        if set(values) != set(self.labelnames):
            msg = f"{self.name} takes labels {list(self.labelnames)}, got {sorted(values)}"
            raise MetricError(msg)
        key = tuple(str(values[label]) for label in self.labelnames)
        with self._lock:
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = _Child(self._lock, self.kind == "counter")
        return child

    def _unlabelled(self) -> _Child:
        if self.labelnames:
            msg = f"{self.name} has labels {list(self.labelnames)}: use .labels(...)"
            raise MetricError(msg)
        return self._children[()]

    def value(self, **values: object) -> float:
        """Current value for these label values (0 if never touched)."""
        key = tuple(str(values[label]) for label in self.labelnames)
        with self._lock:
            child = self._children.get(key)
            return child.value if child else 0.0

    def samples(self) -> Iterator[tuple[tuple[str, ...], float]]:
        """(label values, value) pairs, in a stable order."""
        with self._lock:
            items = sorted((k, c.value) for k, c in self._children.items())
        yield from items


class Counter(Metric):
    """A value that only goes up (records read, rows written); name it ``*_total``."""

    kind = "counter"

    def inc(self, amount: float = 1.0) -> None:
        """Add to an unlabelled counter."""
        self._unlabelled().inc(amount)


class Gauge(Metric):
    """A value that goes up and down (lag, open incidents)."""

    kind = "gauge"

    def inc(self, amount: float = 1.0) -> None:
        """Add to an unlabelled gauge."""
        self._unlabelled().inc(amount)

    def dec(self, amount: float = 1.0) -> None:
        """Subtract from an unlabelled gauge."""
        self._unlabelled().dec(amount)

    def set(self, value: float) -> None:
        """Set an unlabelled gauge."""
        self._unlabelled().set(value)


class Registry:
    """A set of metrics with distinct names."""

    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}
        self._lock = threading.Lock()

    def _add(self, metric: Metric) -> Metric:
        with self._lock:
            existing = self._metrics.get(metric.name)
            if existing is not None:
                if type(existing) is type(metric) and existing.labelnames == metric.labelnames:
                    return existing  # declared twice the same way (module reloaded): one metric
                msg = f"metric {metric.name} is already declared differently"
                raise MetricError(msg)
            self._metrics[metric.name] = metric
            return metric

    def counter(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Counter:
        """Declare (or get back) a counter."""
        metric = self._add(Counter(name, help_text, labelnames))
        assert isinstance(metric, Counter)
        return metric

    def gauge(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Gauge:
        """Declare (or get back) a gauge."""
        metric = self._add(Gauge(name, help_text, labelnames))
        assert isinstance(metric, Gauge)
        return metric

    def metrics(self) -> list[Metric]:
        """Every metric, by name."""
        with self._lock:
            return [self._metrics[name] for name in sorted(self._metrics)]


#: The process-wide registry the declared metrics below live in.
REGISTRY = Registry()


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def render_prometheus(registry: Registry = REGISTRY) -> str:
    """Every metric in Prometheus' text exposition format 0.0.4."""
    lines: list[str] = []
    for metric in registry.metrics():
        help_text = metric.help.replace("\\", "\\\\").replace("\n", "\\n")
        lines.append(f"# HELP {metric.name} {help_text}")
        lines.append(f"# TYPE {metric.name} {metric.kind}")
        for values, value in metric.samples():
            labels = ",".join(
                f'{name}="{_escape_label(v)}"'
                for name, v in zip(metric.labelnames, values, strict=True)
            )
            series = f"{metric.name}{{{labels}}}" if labels else metric.name
            lines.append(f"{series} {_format_value(value)}")
    return "\n".join(lines) + "\n"


def start_http_server(
    port: int | None = None, host: str = "0.0.0.0", registry: Registry = REGISTRY
) -> ThreadingHTTPServer:
    """Serve ``/metrics`` from a daemon thread; port None means ``VIGIE_METRICS_PORT``.

    Port 0 picks a free port (``server.server_address[1]`` tells which). Call
    ``server.shutdown()`` to stop it; the process exiting stops it too.
    """
    if port is None:
        from vigie.config import load_settings

        port = load_settings().metrics_port

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] not in ("/metrics", "/"):
                self.send_error(404)
                return
            body = render_prometheus(registry).encode()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # scraped every few seconds: no access log

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="vigie-metrics", daemon=True).start()
    return server


# --- The pipeline's metrics (charted by deploy/grafana/vigie-pipeline.json) ---------------

CONNECTOR_RECORDS = REGISTRY.counter(
    "vigie_connector_records_total",
    "Records a connector handled, by feed and outcome (read, produced, rejected).",
    ("feed", "outcome"),
)
CONNECTOR_REJECTED = REGISTRY.counter(
    "vigie_connector_rejected_total",
    "Records a connector sent to dlq.<feed>, by feed and reason (docs/feeds.md).",
    ("feed", "reason"),
)
CONSUMER_LAG = REGISTRY.gauge(
    "vigie_consumer_lag_records",
    "Records between a consumer group's committed offset and the end of a topic.",
    ("group", "topic"),
)
SINK_ROWS = REGISTRY.counter(
    "vigie_sink_rows_written_total",
    "Rows the sink wrote to ClickHouse, by table.",
    ("table",),
)
SINK_INCIDENT_VERSIONS = REGISTRY.counter(
    "vigie_sink_incident_versions_total",
    "Incident versions the sink stored, by status (open, updated, closed, merged).",
    ("status",),
)
INCIDENTS_OPEN = REGISTRY.gauge(
    "vigie_incidents_open",
    "Incidents whose latest version the sink stored is not closed or merged.",
)
SINK_CONSUMED = REGISTRY.counter(
    "vigie_sink_records_consumed_total",
    "Records the sink read, by topic.",
    ("topic",),
)
SINK_DEAD_LETTERS = REGISTRY.counter(
    "vigie_sink_dead_letters_total",
    "Records the sink could not store and sent to a dead-letter topic, by reason.",
    ("reason",),
)


# --- Adapters from running totals ---------------------------------------------------------


class ConnectorTotals(Protocol):
    """What :func:`export_connector_stats` reads (``connectors.runtime.RunStats`` has it)."""

    @property
    def feed(self) -> str:
        """The feed's name (label ``feed``)."""

    @property
    def read(self) -> int:
        """Records read so far."""

    @property
    def produced(self) -> int:
        """Records produced to ``raw.<feed>`` so far."""

    @property
    def rejected(self) -> Mapping[str, int]:
        """Records rejected so far, by reason."""


class SinkTotals(Protocol):
    """What :func:`export_sink_stats` reads (``vigie.sink.SinkStats`` has it)."""

    @property
    def consumed(self) -> Mapping[str, int]:
        """Records read so far, by topic."""

    @property
    def written(self) -> Mapping[str, int]:
        """Rows written so far, by table."""

    @property
    def dead_letters(self) -> Mapping[str, int]:
        """Records sent to a dead-letter topic so far, by reason."""


_seen: dict[tuple[str, tuple[str, ...]], float] = {}
_seen_lock = threading.Lock()


def _advance(metric: Counter, total: float, **labels: object) -> None:
    """Add to ``metric`` what ``total`` grew by since the last call for these labels."""
    key = (metric.name, tuple(str(labels[name]) for name in metric.labelnames))
    with _seen_lock:
        previous = _seen.get(key, 0.0)
        _seen[key] = max(previous, float(total))
    if total > previous:
        metric.labels(**labels).inc(total - previous)


def export_connector_stats(stats: ConnectorTotals) -> None:
    """Publish a connector's running totals (call after each payload; cheap)."""
    _advance(CONNECTOR_RECORDS, stats.read, feed=stats.feed, outcome="read")
    _advance(CONNECTOR_RECORDS, stats.produced, feed=stats.feed, outcome="produced")
    rejected = sum(stats.rejected.values())
    _advance(CONNECTOR_RECORDS, rejected, feed=stats.feed, outcome="rejected")
    for reason, count in stats.rejected.items():
        _advance(CONNECTOR_REJECTED, count, feed=stats.feed, reason=reason)


def export_sink_stats(stats: SinkTotals) -> None:
    """Publish the sink's running totals (call after each batch)."""
    for topic, count in stats.consumed.items():
        _advance(SINK_CONSUMED, count, topic=topic)
    for table, count in stats.written.items():
        _advance(SINK_ROWS, count, table=table)
    for reason, count in stats.dead_letters.items():
        _advance(SINK_DEAD_LETTERS, count, reason=reason)
