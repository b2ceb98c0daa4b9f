"""The runtime: sources (file, folder, HTTP), the accounting loop and its summary."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from feed_support import SAMPLES

from connectors.base import Reason
from connectors.feeds import FEEDS, build_parser
from connectors.police import PoliceParser
from connectors.runtime import FileSource, FolderSource, HttpSource, MemorySink, RunStats, run

pytestmark = pytest.mark.unit

POLICE = (SAMPLES / "police_calls.csv").read_bytes()
BAD_LINE = b"P9,UFO,x,1,2026-11-28 22:00:00,,5.37,43.29,,,,"


def test_file_run_counts_and_summary(tmp_path, ctx):
    path = tmp_path / "calls.csv"
    path.write_bytes(POLICE + BAD_LINE + b"\n")
    sink = MemorySink()
    stats = run(PoliceParser(), FileSource(path), sink, lambda: ctx)
    assert (stats.payloads, stats.read, stats.produced) == (1, 5, 4)
    assert stats.rejected == {"unknown_code": 1}
    assert sink.records[0][1].record_id == "P2026-0112345"
    ((feed, rejection),) = sink.rejections
    assert (feed, rejection.original, rejection.position.index) == ("police", BAD_LINE, 5)
    assert sink.flushes == 1
    assert stats.summary() == (
        "police: 1 payload(s), 5 read, 4 produced, 1 rejected (unknown_code 1)"
    )
    assert stats.as_dict()["rejected_by_reason"] == {"unknown_code": 1}


def test_folder_reads_each_file_once_across_restarts(tmp_path, ctx):
    inbox, state = tmp_path / "in", tmp_path / "state" / "police.jsonl"
    inbox.mkdir()
    (inbox / "a.csv").write_bytes(POLICE)
    (inbox / "b.csv.part").write_bytes(POLICE)  # still being written
    (inbox / ".hidden.csv").write_bytes(POLICE)
    first = run(PoliceParser(), FolderSource(inbox, state, once=True), MemorySink(), lambda: ctx)
    assert (first.payloads, first.produced) == (1, 4)

    (inbox / "b.csv.part").rename(inbox / "b.csv")
    second = run(PoliceParser(), FolderSource(inbox, state, once=True), MemorySink(), lambda: ctx)
    assert (second.payloads, second.produced) == (1, 4)  # only b.csv, a.csv remembered

    (inbox / "a.csv").write_bytes(POLICE + BAD_LINE + b"\n")  # replaced by new content
    third = run(PoliceParser(), FolderSource(inbox, state, once=True), MemorySink(), lambda: ctx)
    assert (third.payloads, third.read, third.rejected_total) == (1, 5, 1)


def test_folder_watch_picks_up_new_files_until_stopped(tmp_path, ctx):
    inbox = tmp_path / "in"
    inbox.mkdir()
    stop = threading.Event()
    sink = MemorySink()
    source = FolderSource(inbox, tmp_path / "state.jsonl", interval_s=0.05)
    worker = threading.Thread(target=run, args=(PoliceParser(), source, sink, lambda: ctx, stop))
    worker.start()
    try:
        (inbox / "late.csv").write_bytes(POLICE)
        for _ in range(200):
            if len(sink.records) == 4:
                break
            stop.wait(0.02)
    finally:
        stop.set()
        worker.join(5)
    assert not worker.is_alive()
    assert len(sink.records) == 4


class _Handler(http.server.BaseHTTPRequestHandler):
    bodies: list[bytes] = []
    hits: list[str] = []

    def do_GET(self) -> None:
        self.hits.append(self.headers.get("If-None-Match") or "")
        step = len(self.hits) - 1
        if step >= len(self.bodies):
            self.send_response(500)
            self.end_headers()
            return
        body = self.bodies[step]
        etag = f'"{hash(body)}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[http.server.HTTPServer]:
    _Handler.hits = []
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_http_polls_reads_changes_once_and_survives_errors(server, ctx):
    # poll 1: body A; poll 2: same body -> 304; poll 3: body B; poll 4: 500; poll 5+: 500
    _Handler.bodies = [POLICE, POLICE, POLICE + BAD_LINE + b"\n"]
    url = f"http://127.0.0.1:{server.server_address[1]}/calls.csv"
    source = HttpSource(url, interval_s=0.01)
    stop = threading.Event()
    sink = MemorySink()

    stats = RunStats("police")
    worker = threading.Thread(
        target=run, args=(PoliceParser(), source, sink, lambda: ctx, stop, stats)
    )
    worker.start()
    for _ in range(300):
        if len(_Handler.hits) >= 5:
            break
        stop.wait(0.01)
    stop.set()
    worker.join(5)
    assert (stats.payloads, stats.read, stats.produced, stats.rejected_total) == (2, 9, 8, 1)
    assert _Handler.hits[1] != ""  # the second poll was conditional
    assert source.errors >= 1 and stats.source_errors == source.errors
    assert all(r.source_uri == url for _, r in sink.records)


def test_http_source_refuses_other_schemes():
    with pytest.raises(ValueError, match="http"):
        HttpSource("file:///etc/passwd")


def test_parser_bug_sends_whole_payload_to_dlq_and_keeps_running(tmp_path, ctx):
    class Broken(PoliceParser):
        def parse(self, payload, uri, ctx):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

    path = tmp_path / "x.csv"
    path.write_bytes(POLICE)
    sink = MemorySink()
    stats = run(Broken(), FileSource(path), sink, lambda: ctx)
    ((_, rejection),) = sink.rejections
    assert (rejection.reason, rejection.position.index, rejection.original) == (
        Reason.UNPARSABLE,
        0,
        POLICE,
    )
    assert stats.rejected == {"unparsable": 1}


@pytest.mark.parametrize("feed", FEEDS)
def test_every_feed_builds_from_the_city_folder(feed):
    city = Path(__file__).resolve().parents[3] / "cities" / "marseille"
    assert build_parser(feed, city).feed == feed


def test_torn_state_file_line_is_ignored_and_the_file_read_again(tmp_path, ctx):
    inbox, state = tmp_path / "in", tmp_path / "state.jsonl"
    inbox.mkdir()
    (inbox / "a.csv").write_bytes(POLICE)
    run(PoliceParser(), FolderSource(inbox, state, once=True), MemorySink(), lambda: ctx)
    (inbox / "b.csv").write_bytes(POLICE)
    with state.open("a") as out:
        out.write('{"identity": "b.csv:')  # crash while remembering b.csv
    again = run(PoliceParser(), FolderSource(inbox, state, once=True), MemorySink(), lambda: ctx)
    assert again.payloads == 1  # b.csv only: a.csv is remembered, b.csv's entry is torn


def test_http_body_over_the_limit_is_a_source_error(server, ctx):
    _Handler.bodies = [POLICE]
    url = f"http://127.0.0.1:{server.server_address[1]}/calls.csv"
    source = HttpSource(url, once=True, max_bytes=100)
    stats = run(PoliceParser(), source, MemorySink(), lambda: ctx)
    assert (stats.payloads, stats.source_errors) == (0, 1)


def test_debug_logs_never_show_personal_values(tmp_path, ctx, caplog):
    bad = b"P9,UFO,x,1,2026-11-28 22:00:00,,5.37,43.29,Rue X,Jean Dupont,06 12 34 56 78,"
    path = tmp_path / "calls.csv"
    path.write_bytes(POLICE + bad + b"\n")
    with caplog.at_level("DEBUG"):
        stats = run(PoliceParser(), FileSource(path), MemorySink(), lambda: ctx)
    assert stats.rejected_total == 1 and "rejected" in caplog.text  # something was logged
    for personal in ("Dupont", "06 12 34 56 78", "Marie Curie", "0491000001"):
        assert personal not in caplog.text


def test_undelivered_payload_is_neither_counted_nor_remembered(tmp_path, ctx):
    class Failing(MemorySink):
        def flush(self) -> None:
            raise RuntimeError("broker gone")

    inbox, state = tmp_path / "in", tmp_path / "state.jsonl"
    inbox.mkdir()
    (inbox / "a.csv").write_bytes(POLICE)
    stats = RunStats("police")
    with pytest.raises(RuntimeError, match="broker gone"):
        run(
            PoliceParser(),
            FolderSource(inbox, state, once=True),
            Failing(),
            lambda: ctx,
            stats=stats,
        )
    assert (stats.payloads, stats.produced) == (0, 0)
    again = run(PoliceParser(), FolderSource(inbox, state, once=True), MemorySink(), lambda: ctx)
    assert (again.payloads, again.produced) == (1, 4)  # read again: nothing lost
