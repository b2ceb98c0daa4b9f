"""Break the real pipeline mid-stream; the incidents must equal those of an undisturbed run.

Each test replays the same simulated city hour (see ``pipeline_harness``) through the
pipeline job and the ClickHouse sink while one thing goes wrong, then compares, by content,
the incidents on the ``incidents`` topic and in ClickHouse with the undisturbed run's: no
incident lost, none doubled, none changed. Repeated versions on the topic are allowed (the
job's Kafka sink is at-least-once) only when they say the same thing. Incidents merged into
another are checked for their events (each lives on in a surviving incident), not compared
one by one: which incidents are created and then merged depends on arrival order.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline_harness import (
    PipelineRun,
    RunOutcome,
    Scenario,
    disorder,
    run_scenario,
)

from vigie.config import Settings
from vigie.flink.checkpoints import latest_checkpoint
from vigie.kafka.offsets import topic_ends
from vigie.stack.clickhouse import ClickHouseServer
from vigie.stack.process import ManagedProcess
from vigie.stack.stack import LocalStack

pytestmark = pytest.mark.fault


@pytest.fixture(scope="module")
def sink(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """``vigie sink`` running beside the job, as in production."""
    home = tmp_path_factory.mktemp("sink")
    proc = ManagedProcess("fault-sink", home / "sink.pid", home / "sink.log")
    proc.start(
        [sys.executable, "-m", "vigie.cli.main", "sink", "--quiet", "--no-metrics"],
        cwd=Path.cwd(),
    )
    yield
    proc.stop(timeout_s=20)


@pytest.fixture(scope="module")
def scenario(stack: Settings) -> Scenario:
    return Scenario(stack)


@pytest.fixture(scope="module")
def undisturbed(
    stack: Settings, sink: None, scenario: Scenario, tmp_path_factory: pytest.TempPathFactory
) -> RunOutcome:
    outcome = run_scenario(stack, scenario, "calm", tmp_path_factory.mktemp("calm"))
    assert len(outcome.topic) >= 20, "the scenario should make a few dozen incidents"
    assert_consistent(outcome)
    return outcome


def assert_consistent(outcome: RunOutcome) -> None:
    """Within one run: repeated versions agree, ClickHouse holds exactly the topic's."""
    assert outcome.conflicting_versions == []
    assert outcome.orphans() == set(), "a merged incident's events must live on elsewhere"
    missing = [i for i, inc in outcome.clickhouse.items() if inc is None]
    assert missing == [], f"{len(missing)} incidents never reached ClickHouse"
    assert outcome.contents("clickhouse") == outcome.contents("topic")


def assert_same_incidents(outcome: RunOutcome, expected: RunOutcome) -> None:
    assert_consistent(outcome)
    got = outcome.contents("topic", merged=False)
    want = expected.contents("topic", merged=False)
    lost, extra = want - got, got - want
    assert not lost and not extra, (
        f"{sum(lost.values())} incident(s) lost, {sum(extra.values())} extra or doubled; "
        f"lost {list(lost)[:3]}; extra {list(extra)[:3]}{outcome.note}"
    )


def test_undisturbed_run_is_repeatable(
    stack: Settings, sink: None, scenario: Scenario, undisturbed: RunOutcome, tmp_path: Path
) -> None:
    """Two calm runs agree: otherwise no fault test below could mean anything."""
    again = run_scenario(stack, scenario, "calm2", tmp_path)
    assert_same_incidents(again, undisturbed)


def test_normalise_and_fuse_as_two_jobs_make_the_same_incidents(
    stack: Settings, sink: None, scenario: Scenario, undisturbed: RunOutcome, tmp_path: Path
) -> None:
    """Production's shape: two jobs, ``events.normalized`` (two partitions) between them.

    The fuse job reads the topic back with watermarks per partition, from the event time
    normalise stamps on each record: a stream-wide watermark let the partition read first
    make the other's events late.
    """
    outcome = run_scenario(stack, scenario, "apart", tmp_path, apart=True)
    assert_same_incidents(outcome, undisturbed)


def test_job_killed_mid_stream_restarts_from_its_last_checkpoint(
    stack: Settings, sink: None, scenario: Scenario, undisturbed: RunOutcome, tmp_path: Path
) -> None:
    restored: list[Path] = []

    def crash_and_restore(run: PipelineRun) -> None:
        time.sleep(5)  # at least one checkpoint (every 2 s) after events came out
        run.job.kill()
        checkpoint = latest_checkpoint(run.checkpoints)
        assert checkpoint is not None, "no retained checkpoint to restart from"
        restored.append(checkpoint)
        run.start_job(restore=checkpoint)

    outcome = run_scenario(stack, scenario, "kill", tmp_path, fault=crash_and_restore)
    assert restored
    assert_same_incidents(outcome, undisturbed)


def test_broker_restart_mid_stream(
    stack: Settings, sink: None, scenario: Scenario, undisturbed: RunOutcome, tmp_path: Path
) -> None:
    def restart_broker(run: PipelineRun) -> None:
        local = LocalStack(stack)
        local.kafka.process.kill()
        time.sleep(3)
        assert "kafka" in local.up()

    try:
        outcome = run_scenario(stack, scenario, "broker", tmp_path, fault=restart_broker)
    finally:
        LocalStack(stack).up()
    assert_same_incidents(outcome, undisturbed)


def test_clickhouse_away_30s_sink_retries_and_catches_up(
    stack: Settings, sink: None, scenario: Scenario, undisturbed: RunOutcome, tmp_path: Path
) -> None:
    """ClickHouse stopped for 30 s while the city goes on: the sink waits, then catches up.

    The outage runs beside the input, as it would in production, where ClickHouse being
    away never stalls the feeds or fusion. (This test used to hold the producer for the
    whole outage: every feed was then quiet for longer than ``VIGIE_IDLE_AFTER_S``, and the
    incidents depended on which feed the job read first afterwards; issue 8.)
    """
    outage: list[threading.Thread] = []
    failures: list[BaseException] = []
    seen_at_stop: list[tuple[PipelineRun, int]] = []

    def come_back(clickhouse: ClickHouseServer) -> None:
        try:
            time.sleep(30)
            clickhouse.start()
        except BaseException as exc:  # reported by the test, not lost in the thread
            failures.append(exc)

    def stop_clickhouse(run: PipelineRun) -> None:
        clickhouse = LocalStack(stack).clickhouse
        clickhouse.stop()
        seen_at_stop.append((run, len(run.versions)))
        thread = threading.Thread(target=come_back, args=(clickhouse,), name="clickhouse-away")
        thread.start()
        outage.append(thread)

    try:
        outcome = run_scenario(stack, scenario, "clickhouse", tmp_path, fault=stop_clickhouse)
    finally:
        for thread in outage:
            thread.join()
        LocalStack(stack).up()
    assert failures == []
    [(run, seen)] = seen_at_stop
    assert len(run.versions) > seen, "no incident version came out while ClickHouse was away"
    assert_same_incidents(outcome, undisturbed)


def _poison(valid: bytes) -> dict[str, bytes]:
    return {
        "bad_magic": b"\x07" + valid[1:],
        "unknown_schema": b"\xc3\x01" + b"\x5a" * 8 + valid[10:],
        "truncated": valid[: len(valid) // 2],
    }


def test_poison_on_every_input_topic_goes_to_the_dlq_and_the_job_keeps_running(
    stack: Settings, sink: None, scenario: Scenario, undisturbed: RunOutcome, tmp_path: Path
) -> None:
    watch = Consumer(
        {"bootstrap.servers": stack.bootstrap_servers, "group.id": f"poison-{time.time_ns()}"}
    )
    feeds = sorted({r.feed for r in scenario.load.records})
    dlqs = [f"dlq.{feed}" for feed in feeds]
    watch.assign(topic_ends(watch, dlqs))
    sent: dict[bytes, str] = {}

    def poison_every_topic(run: PipelineRun) -> None:
        first = {o.feed: o for o in reversed(run.offers)}
        for feed, offer in first.items():
            for kind, value in _poison(offer.value).items():
                run.producer.produce(offer.topic, value, offer.key)
                sent[value] = f"{feed}:{kind}"
        assert run.producer.flush(30) == 0

    outcome = run_scenario(stack, scenario, "poison", tmp_path, fault=poison_every_topic)
    assert len(sent) == 3 * len(feeds)
    found: set[str] = set()
    deadline = time.monotonic() + 60
    while len(found) < len(sent) and time.monotonic() < deadline:
        for m in watch.consume(1000, 0.5):
            value = m.value()
            if not m.error() and value is not None and value in sent:
                found.add(sent[value])
    watch.close()
    assert found == set(sent.values())
    assert_same_incidents(outcome, undisturbed)


def test_out_of_order_and_late_within_bounds_give_the_same_incidents(
    stack: Settings, sink: None, scenario: Scenario, undisturbed: RunOutcome, tmp_path: Path
) -> None:
    bounds = {feed: s * 1000 for feed, s in stack.watermark_delay_s.items()}
    shuffled = run_scenario(
        stack, scenario, "disorder", tmp_path, order=lambda o: disorder(o, bounds, seed=3)
    )
    assert_same_incidents(shuffled, undisturbed)
