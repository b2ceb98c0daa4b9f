"""The ClickHouse store: migrations, the idempotent writer, roles, retention, cookbook.

An adapter around the pure core: it turns :mod:`vigie.core.events` records into rows and
back, and never decides anything about fusion.
"""
