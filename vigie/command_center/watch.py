"""``vigie watch``: the incidents as a live terminal table, or JSON lines for piping.

The table is redrawn from the board twice a second; ``--json`` prints one line per change
of an incident that passes the filters (the current state first, as the compacted topic is
read from the beginning). ``--once`` prints the current state and exits, for scripts.
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import UTC, datetime
from typing import TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table

from vigie.command_center.board import incident_view, table_row
from vigie.command_center.filters import IncidentFilter
from vigie.command_center.hub import Hub
from vigie.command_center.kafka_io import Follow, Follower, KafkaUnavailable
from vigie.config import Settings
from vigie.kafka.serde import deserializer

SEVERITY_STYLE = {1: "dim", 2: "green", 3: "yellow", 4: "bold dark_orange", 5: "bold red"}


def now_ms() -> int:
    """The current instant in epoch milliseconds."""
    return int(datetime.now(tz=UTC).timestamp() * 1000)


def render_table(hub: Hub, flt: IncidentFilter, at_ms: int, limit: int = 50) -> Table:
    """The rich table of the current incidents passing ``flt``."""
    with hub.lock:
        chosen = hub.board.select(flt)
        rows = [table_row(i, hub.board.acks.get(i.incident_id), at_ms) for i in chosen[:limit]]
    title = f"Vigie incidents: {len(chosen)} shown ({hub.state})"
    table = Table(title=title, expand=True)
    for name in ("sev", "category", "sector", "sources", "age", "status", "incident"):
        table.add_column(name, no_wrap=name != "status")
    for row in rows:
        style = SEVERITY_STYLE.get(row.severity, "")
        table.add_row(
            str(row.severity),
            row.category,
            row.sector,
            row.sources,
            row.age,
            row.status,
            row.incident_id,
            style=style,
        )
    return table


def build_follower(settings: Settings, hub: Hub, incidents_topic: str, acks_topic: str) -> Follower:
    """A follower of the incidents and acks topics from the beginning, feeding ``hub``."""
    return Follower(
        settings,
        [Follow(incidents_topic, hub.on_incident), Follow(acks_topic, hub.on_ack)],
        on_state=hub.set_state,
    )


def run_watch(
    settings: Settings,
    flt: IncidentFilter,
    *,
    as_json: bool,
    once: bool,
    incidents_topic: str,
    acks_topic: str,
    out: TextIO = sys.stdout,
) -> int:
    """Follow the topics and show them until interrupted (or caught up with ``once``)."""
    hub = Hub(deserializer(settings))
    changed = _Changes()
    wake = threading.Event()

    def on_change(incident_id: str) -> None:
        if incident_id:
            changed.add(incident_id)
        wake.set()

    hub.listen(on_change)
    follower = build_follower(settings, hub, incidents_topic, acks_topic).start()
    try:
        if as_json:
            return _json_loop(hub, flt, follower, changed, wake, once=once, out=out)
        if once:
            _wait_caught_up(follower, settings)
            Console(file=out).print(render_table(hub, flt, now_ms()))
            return 0
        with Live(render_table(hub, flt, now_ms()), refresh_per_second=2, screen=False) as live:
            while True:
                wake.wait(0.5)
                wake.clear()
                live.update(render_table(hub, flt, now_ms()))
    finally:
        follower.stop()


def _json_loop(
    hub: Hub,
    flt: IncidentFilter,
    follower: Follower,
    changed: _Changes,
    wake: threading.Event,
    *,
    once: bool,
    out: TextIO,
) -> int:
    if once:
        _wait_caught_up(follower, follower.settings)
    while True:
        wake.wait(0.2)
        wake.clear()
        done = once and follower.caught_up.is_set()
        ids = changed.take()
        at = now_ms()
        lines = []
        with hub.lock:
            for incident_id in ids:
                incident = hub.board.incidents.get(incident_id)
                if incident is None or not flt.matches(incident):
                    continue
                view = incident_view(incident, hub.board.acks.get(incident_id), at)
                lines.append(json.dumps(view, sort_keys=True))
        for line in lines:
            out.write(line + "\n")
        out.flush()
        if done:
            return 0


class _Changes:
    """Incident ids changed since the last look, filled by the consumer thread."""

    def __init__(self) -> None:
        self._ids: set[str] = set()
        self._lock = threading.Lock()

    def add(self, incident_id: str) -> None:
        with self._lock:
            self._ids.add(incident_id)

    def take(self) -> list[str]:
        with self._lock:
            ids, self._ids = sorted(self._ids), set()
        return ids


def _wait_caught_up(follower: Follower, settings: Settings, timeout_s: float = 30.0) -> None:
    """Wait until the current state is read, or say Kafka is unreachable."""
    if not follower.caught_up.wait(timeout_s):
        msg = (
            f"could not read the current incidents from {settings.bootstrap_servers} within "
            f"{timeout_s:.0f} s: is `vigie stack up` running and the topic created?"
        )
        raise KafkaUnavailable(msg)
