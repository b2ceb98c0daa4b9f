"""Normalise, then identity instead of fusion: the reference job of ``vigie bench``.

Same sources and sinks as ``jobs/pipeline.py``; its output goes to ``bench.passthrough``.
"""

from __future__ import annotations

from vigie.config import load_settings
from vigie.flink.environment import make_environment
from vigie.flink.kafka_io import KafkaSinks
from vigie.flink.passthrough import passthrough
from vigie.flink.pipeline import normalize


def main() -> None:
    """Build the graph and run it until cancelled."""
    settings = load_settings()
    env = make_environment(settings)
    sinks = KafkaSinks(env, settings)
    passthrough(normalize(env, settings, sinks), settings, sinks)
    sinks.attach()
    env.execute("vigie-passthrough")


if __name__ == "__main__":
    main()
