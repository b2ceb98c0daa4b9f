"""The thin runtime around the pure parsers: where payloads come from and where results go.

Sources are a file, a watched folder, or an HTTP endpoint polled on an interval; sinks are
Kafka (``connectors.kafka_sink``) or memory (tests, dry runs). The loop is the same for all:
read a payload, parse it, send every record or rejection, flush, and only then remember the
payload as done, so a crash replays a payload rather than losing it (at-least-once; records
carry their agency id so downstream deduplication makes that exactly-once in effect).

Bad input never stops the loop: the parsers turn it into rejections, and a parser bug on one
payload sends that whole payload to the DLQ instead of killing the connector.
"""

from __future__ import annotations

import hashlib
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from threading import Event
from typing import Any, Protocol

from connectors.base import ParseContext, Parser, Reason, Rejection, SourcePosition

log = logging.getLogger(__name__)

#: Files a writer is still producing (write to a temporary name, then rename).
_IN_PROGRESS_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload")


@dataclass(frozen=True, slots=True)
class Payload:
    """One unit of input: a file's bytes or one HTTP response body."""

    uri: str
    data: bytes
    identity: str  # what makes it "already processed" (path + content hash, URL + hash)


class Sink(Protocol):
    """Where parsed results go."""

    def record(self, feed: str, record: Any) -> None:
        """Send one accepted raw record."""
        ...

    def reject(self, feed: str, rejection: Rejection) -> None:
        """Send one rejection to the dead-letter topic."""
        ...

    def flush(self) -> None:
        """Block until everything sent is delivered; raise if anything failed."""
        ...


class Source(Protocol):
    """Where payloads come from."""

    def payloads(self, stop: Event) -> Iterator[Payload]:
        """Yield payloads until exhausted or ``stop`` is set."""
        ...

    def done(self, payload: Payload) -> None:
        """Remember a payload as fully delivered."""
        ...

    @property
    def errors(self) -> int:
        """Failed reads so far (unreachable endpoint, unreadable file): retried, not fatal."""
        ...


@dataclass
class RunStats:
    """Counters of one connector run, printed as its summary and exposed to callers."""

    feed: str
    payloads: int = 0
    read: int = 0
    produced: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    source_errors: int = 0

    @property
    def rejected_total(self) -> int:
        """All rejections, whatever the reason."""
        return sum(self.rejected.values())

    def as_dict(self) -> dict[str, Any]:
        """The counters as plain data (JSON output, metrics)."""
        return {
            "feed": self.feed,
            "payloads": self.payloads,
            "read": self.read,
            "produced": self.produced,
            "rejected": self.rejected_total,
            "rejected_by_reason": dict(sorted(self.rejected.items())),
            "source_errors": self.source_errors,
        }

    def add(self, other: RunStats) -> None:
        """Add another run's (or payload's) counters to these."""
        self.payloads += other.payloads
        self.read += other.read
        self.produced += other.produced
        self.rejected.update(other.rejected)
        self.source_errors += other.source_errors

    def summary(self) -> str:
        """One human line: ``police: 3 payloads, 120 read, 118 produced, 2 rejected (...)``."""
        reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(self.rejected.items()))
        text = (
            f"{self.feed}: {self.payloads} payload(s), {self.read} read, "
            f"{self.produced} produced, {self.rejected_total} rejected"
        )
        if reasons:
            text += f" ({reasons})"
        if self.source_errors:
            text += f", {self.source_errors} source error(s)"
        return text


@dataclass
class MemorySink:
    """Keeps everything in lists: for tests and ``--dry-run``."""

    records: list[tuple[str, Any]] = field(default_factory=list)
    rejections: list[tuple[str, Rejection]] = field(default_factory=list)
    flushes: int = 0

    def record(self, feed: str, record: Any) -> None:
        """Keep an accepted record."""
        self.records.append((feed, record))

    def reject(self, feed: str, rejection: Rejection) -> None:
        """Keep a rejection."""
        self.rejections.append((feed, rejection))

    def flush(self) -> None:
        """Nothing to wait for."""
        self.flushes += 1


def process_payload(
    parser: Parser, payload: Payload, ctx: ParseContext, sink: Sink, stats: RunStats
) -> None:
    """Parse one payload and send every result; a parser bug rejects the whole payload."""
    stats.payloads += 1
    try:
        results = list(parser.parse(payload.data, payload.uri, ctx))
    except Exception as exc:  # a bug, not bad input: keep the bytes, keep running
        log.exception("%s parser failed on %s; payload sent to the DLQ", parser.feed, payload.uri)
        detail = f"connector error {type(exc).__name__} on this payload"
        results = [
            Rejection(Reason.UNPARSABLE, SourcePosition(payload.uri, 0), payload.data, detail)
        ]
    for result in results:
        stats.read += 1
        if isinstance(result, Rejection):
            sink.reject(parser.feed, result)
            stats.rejected[result.reason.value] += 1
            log.debug("rejected %s: %s (%s)", result.position, result.reason, result.detail)
        else:
            sink.record(parser.feed, result)
            stats.produced += 1


def run(
    parser: Parser,
    source: Source,
    sink: Sink,
    context: Callable[[], ParseContext],
    stop: Event | None = None,
    stats: RunStats | None = None,
    on_payload: Callable[[RunStats], None] | None = None,
) -> RunStats:
    """Move every payload of ``source`` through ``parser`` into ``sink``; return the counters.

    ``context`` is called per payload, so each gets its own ingest time. A payload counts in
    the stats once everything it produced is delivered.
    """
    stop = stop or Event()
    stats = stats or RunStats(parser.feed)
    for payload in source.payloads(stop):
        current = RunStats(parser.feed)
        process_payload(parser, payload, context(), sink, current)
        sink.flush()  # raises if anything was not delivered: nothing is counted or remembered
        stats.add(current)
        source.done(payload)
        if on_payload is not None:  # metrics export
            on_payload(stats)
    stats.source_errors = source.errors
    return stats


# --- sources ---------------------------------------------------------------------------------


def _identity(name: str, data: bytes) -> str:
    return f"{name}:{hashlib.sha256(data).hexdigest()}"


@dataclass
class FileSource:
    """A single file, read once."""

    path: Path

    def payloads(self, stop: Event) -> Iterator[Payload]:
        """The file's bytes (a missing file is a user error, raised as OSError)."""
        data = self.path.read_bytes()
        yield Payload(str(self.path), data, _identity(str(self.path), data))

    def done(self, payload: Payload) -> None:
        """Nothing to remember for a single file."""

    @property
    def errors(self) -> int:
        """A single file either reads or raises."""
        return 0


@dataclass
class FolderSource:
    """A folder watched for new files; processed ones are remembered in a state file.

    A file is identified by its name and content hash, so a file seen before is never read
    twice, even across restarts, while a file replaced by new content is read again. Hidden
    files and names ending in ``.tmp``/``.part`` are skipped: writers should write under such
    a name and rename when complete. Files are taken in name order (time-stamped names keep
    time order).
    """

    folder: Path
    state_file: Path
    interval_s: float = 1.0
    once: bool = False
    errors: int = field(default=0, init=False)
    _seen: set[str] = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        if not self.state_file.exists():
            return
        for number, line in enumerate(self.state_file.read_text("utf-8").splitlines(), 1):
            try:
                self._seen.add(str(json.loads(line)["identity"]))
            except (ValueError, KeyError, TypeError):
                # A torn last line after a crash: that payload was not fully remembered and
                # will be read again (at-least-once), which is the safe side.
                log.warning("%s line %d is not a state entry; ignored", self.state_file, number)

    def payloads(self, stop: Event) -> Iterator[Payload]:
        """New files, scan after scan, until stopped (or after one scan with ``once``)."""
        while not stop.is_set():
            for path in sorted(self.folder.iterdir()):
                if stop.is_set():
                    return
                if not path.is_file() or path.name.startswith("."):
                    continue
                if path.name.endswith(_IN_PROGRESS_SUFFIXES):
                    continue
                try:
                    data = path.read_bytes()
                except OSError as exc:
                    self.errors += 1
                    log.warning("cannot read %s: %s; will retry", path, exc.strerror)
                    continue
                identity = _identity(path.name, data)
                if identity not in self._seen:
                    yield Payload(str(path), data, identity)
            if self.once:
                return
            stop.wait(self.interval_s)

    def done(self, payload: Payload) -> None:
        """Append the payload's identity to the state file (durably, before moving on)."""
        self._seen.add(payload.identity)
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        with self.state_file.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"identity": payload.identity, "uri": payload.uri}) + "\n")
            out.flush()


@dataclass
class HttpSource:
    """An HTTP(S) endpoint polled every ``interval_s`` seconds.

    Conditional requests (ETag / Last-Modified) and a content hash avoid reading the same
    response twice. Network errors are logged and counted, never fatal: the next poll
    retries.
    """

    url: str
    interval_s: float = 30.0
    once: bool = False
    timeout_s: float = 10.0
    #: Larger bodies are refused (counted as a source error): a feed is never this big.
    max_bytes: int = 256 * 1024 * 1024
    errors: int = field(default=0, init=False)
    _etag: str | None = field(default=None, init=False)
    _modified: str | None = field(default=None, init=False)
    _last: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if urllib.parse.urlsplit(self.url).scheme not in ("http", "https"):
            msg = f"--url must be an http:// or https:// address, not {self.url!r}"
            raise ValueError(msg)

    def payloads(self, stop: Event) -> Iterator[Payload]:
        """One payload per poll whose body changed."""
        while not stop.is_set():
            payload = self._poll()
            if payload is not None:
                yield payload
            if self.once:
                return
            stop.wait(self.interval_s)

    def _poll(self) -> Payload | None:
        request = urllib.request.Request(self.url, headers={"User-Agent": "vigie-connector"})
        if self._etag:
            request.add_header("If-None-Match", self._etag)
        if self._modified:
            request.add_header("If-Modified-Since", self._modified)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                data = response.read(self.max_bytes + 1)
                if len(data) > self.max_bytes:
                    self.errors += 1
                    log.warning("GET %s: body over %d bytes; skipped", self.url, self.max_bytes)
                    return None
                self._etag = response.headers.get("ETag")
                self._modified = response.headers.get("Last-Modified")
        except urllib.error.HTTPError as exc:
            if exc.code == 304:
                return None
            self.errors += 1
            log.warning("GET %s failed: HTTP %s; retrying next poll", self.url, exc.code)
            return None
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            self.errors += 1
            log.warning("GET %s failed: %s; retrying next poll", self.url, exc)
            return None
        identity = _identity(self.url, data)
        if identity == self._last:
            return None
        return Payload(self.url, data, identity)

    def done(self, payload: Payload) -> None:
        """Remember the last body so an unchanged response is not read again."""
        self._last = payload.identity
