"""Run the simulator's files through the real connector parsers.

Used by the Kafka adapter (so the raw records it produces are exactly what the connectors
would produce from the same files) and by the tests (so a format drift between the writers and
the connectors breaks a test instead of a demo).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.base import ParseContext, Rejection, load_city
from connectors.feeds import FEEDS, build_parser

#: Folder of the simulator's output -> the connector feed reading it (one folder per feed).
FOLDER_FEED: dict[str, str] = {feed: feed for feed in FEEDS}


@dataclass(frozen=True)
class Parsed:
    """One connector result for one input record."""

    feed: str
    file: str  # relative to the output folder
    result: Any  # a raw record (with record_id) or a Rejection

    @property
    def rejected(self) -> bool:
        """Whether the connector refused the record."""
        return isinstance(self.result, Rejection)


def parsers(city_dir: Path) -> dict[str, Any]:
    """One parser per feed, set up as the connectors set them up for this city."""
    return {feed: build_parser(feed, city_dir) for feed in FEEDS}


def context(city_dir: Path, key: bytes, ingest_time: int) -> ParseContext:
    """The parse context the connectors would use for this city."""
    return ParseContext(load_city(city_dir), key, ingest_time)


def parse_output(out: Path, city_dir: Path, key: bytes, ingest_time: int) -> Iterator[Parsed]:
    """Every record of every written feed file, as the connectors parse it."""
    by_feed = parsers(city_dir)
    ctx = context(city_dir, key, ingest_time)
    for folder, feed in FOLDER_FEED.items():
        for path in sorted((out / folder).glob("*")):
            if path.name.startswith(".") or not path.is_file():
                continue
            rel = f"{folder}/{path.name}"
            for result in by_feed[feed].parse(path.read_bytes(), rel, ctx):
                yield Parsed(feed, rel, result)
