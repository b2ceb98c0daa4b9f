"""Normalise job: raw.<feed> → events.normalized (deduplicated), bad records → dlq.<feed>."""

from __future__ import annotations

from vigie.config import load_settings
from vigie.flink.environment import make_environment
from vigie.flink.kafka_io import KafkaSinks
from vigie.flink.pipeline import normalize


def main() -> None:
    """Build the graph and run it until cancelled."""
    settings = load_settings()
    env = make_environment(settings)
    sinks = KafkaSinks(env, settings)
    normalize(env, settings, sinks)
    sinks.attach()
    env.execute("vigie-normalize")


if __name__ == "__main__":
    main()
