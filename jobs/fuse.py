"""Fuse job: events.normalized → incidents (compacted, key = incident id)."""

from __future__ import annotations

from vigie.config import load_settings
from vigie.flink.environment import make_environment
from vigie.flink.kafka_io import KafkaSinks
from vigie.flink.pipeline import events_from_topic, fuse


def main() -> None:
    """Build the graph and run it until cancelled."""
    settings = load_settings()
    env = make_environment(settings)
    sinks = KafkaSinks(env, settings)
    fuse(events_from_topic(env, settings, sinks), settings, sinks)
    sinks.attach()
    env.execute("vigie-fuse")


if __name__ == "__main__":
    main()
