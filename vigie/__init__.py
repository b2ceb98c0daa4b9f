"""Vigie: streaming data fusion for city operations.

The package is split in two on purpose: ``vigie.core`` is pure Python (event model, geometry,
linking, rules, serde) and imports no Flink, Kafka or ClickHouse client; everything else is a
thin adapter that moves data between the core and a real service.
"""

__version__ = "0.1.0"
