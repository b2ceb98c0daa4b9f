"""Normalise and fuse in one Flink job: raw.<feed> → events.normalized → incidents.

The local stack runs this one (one JVM instead of two); production may run
``jobs/normalize.py`` and ``jobs/fuse.py`` apart. Settings come from ``VIGIE_*``.
"""

from __future__ import annotations

from vigie.config import load_settings
from vigie.flink.environment import make_environment
from vigie.flink.kafka_io import KafkaSinks
from vigie.flink.pipeline import fuse, normalize


def main() -> None:
    """Build the graph and run it until cancelled."""
    settings = load_settings()
    env = make_environment(settings)
    sinks = KafkaSinks(env, settings)
    fuse(normalize(env, settings, sinks), settings, sinks)
    sinks.attach()
    env.execute("vigie-pipeline")


if __name__ == "__main__":
    main()
