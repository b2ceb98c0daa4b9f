"""Fusion core: link events into incidents, assess them, follow their lifecycle.

Pure Python (no Flink, Kafka or ClickHouse import) so the PyFlink operators stay thin
wrappers and every behaviour is testable in milliseconds. Start with
:class:`~vigie.core.fusion.engine.FusionEngine` (streaming) or
:func:`~vigie.core.fusion.batch.fuse` (offline, same result).
"""

from vigie.core.fusion.batch import fuse
from vigie.core.fusion.engine import FusionEngine, incident_id_for
from vigie.core.fusion.keying import CellGrid
from vigie.core.fusion.linking import link, link_events

__all__ = ["CellGrid", "FusionEngine", "fuse", "incident_id_for", "link", "link_events"]
