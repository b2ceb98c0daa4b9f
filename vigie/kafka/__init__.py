"""Kafka adapters: client factories, topics, dead letters and the schema-registry client.

Everything here does I/O; the pure parts (schemas, framings, conversions) are in
``vigie.core.serde`` and are usable without a broker.
"""
