"""Constants shared by the connector tests (imported by name: this folder is on sys.path)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "connectors" / "samples"
#: 2026-11-29T12:00:00Z: after every sample record, so none is "in the future".
INGEST = 1_795_953_600_000
KEY = b"unit-test-key"
