"""Turn the simulator's output folder into normalised events, offline.

``vigie simulate --out DIR`` writes the connectors' input files. To score fusion without a
broker, this module runs them through exactly what the live pipeline runs: the connectors'
parsers (:func:`vigie.sim.connect.parse_output`), the Avro form of each raw record, and the
normalise job's :class:`~vigie.core.normalize.Normalizer` (kinds from the rules' raw codes,
projection and sector from the city geometry). Duplicate deliveries keep their first copy,
as the normalise job's deduplication does.

Also reads events already normalised, one JSON object per line (the field names of
``NormalizedEvent``), for scoring the output of the live pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

from connectors.base import now_ms, to_avro
from connectors.feeds import RAW_SCHEMAS
from vigie.core.events import NormalizedEvent, Role, Source
from vigie.core.geo import CityGeometry
from vigie.core.normalize import Normalizer
from vigie.core.rules import Rules
from vigie.errors import VigieError
from vigie.sim.connect import parse_output

#: The key only matters for pseudonyms, which fusion never reads.
_EVAL_KEY = b"vigie-evaluate-offline"


class EvaluationInputError(VigieError):
    """The events or truth given to ``vigie evaluate`` cannot be read."""


def load_simulated(sim_dir: Path, city_dir: Path, rules: Rules) -> list[NormalizedEvent]:
    """Parse and normalise every feed file of a simulator output folder."""
    normalizer = Normalizer(CityGeometry.load(city_dir), rules)
    events: dict[str, NormalizedEvent] = {}
    for parsed in parse_output(sim_dir, city_dir, _EVAL_KEY, ingest_time=now_ms()):
        if parsed.rejected:
            continue
        event = normalizer.normalize(RAW_SCHEMAS[parsed.feed], to_avro(parsed.result))
        if isinstance(event, NormalizedEvent) and event.event_id not in events:
            events[event.event_id] = event
    return list(events.values())


def load_jsonl_events(path: Path) -> list[NormalizedEvent]:
    """Events already normalised: JSON lines (a file, or every ``*.jsonl`` of a folder)."""
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    names = {f.name for f in fields(NormalizedEvent)}
    events: list[NormalizedEvent] = []
    for file in files:
        for n, line in enumerate(_lines(file), start=1):
            try:
                raw = json.loads(line)
                data = {k: v for k, v in raw.items() if k in names}
                data["source"] = Source(data["source"])
                data["role"] = Role(data["role"])
                events.append(NormalizedEvent(**data))
            except (ValueError, KeyError, TypeError) as exc:
                msg = f"{file}:{n}: not a normalised event: {exc}"
                raise EvaluationInputError(msg) from exc
    return events


def _lines(file: Path) -> Iterator[str]:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"cannot read {file}: {exc}"
        raise EvaluationInputError(msg) from exc
    return (line for line in text.splitlines() if line.strip())


def load_events(path: Path, city_dir: Path, rules: Rules) -> list[NormalizedEvent]:
    """A simulator folder (it has ``manifest.json``) or normalised JSON lines."""
    if path.is_dir() and (path / "manifest.json").exists():
        return load_simulated(path, city_dir, rules)
    if not path.exists():
        msg = f"no events at {path}"
        raise EvaluationInputError(msg)
    return load_jsonl_events(path)
