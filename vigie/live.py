"""The main job: the live pipeline on the simulated city, started and watched as one.

``vigie run`` brings up the stack, declares topics and tables, then starts each part of the
pipeline as its own process, as they run in production: the Flink job (normalise + fuse),
the ClickHouse sink, one connector per feed watching its folder, and the simulator writing
the agencies' files into those folders at a replay speed. It prints a live summary from
Kafka's own offsets until the city's records are through, then scores the incidents against
the simulator's ground truth.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vigie.config import Settings
from vigie.core.events import Incident, Source, Status
from vigie.errors import VigieError
from vigie.stack.process import ManagedProcess

FEEDS = tuple(s.value for s in Source)
RAW = tuple(f"raw.{f}" for f in FEEDS)
DLQ = tuple(f"dlq.{f}" for f in FEEDS)
EVENTS = "events.normalized"
INCIDENTS = "incidents"


@dataclass
class Snapshot:
    """One line of the live summary."""

    raw: dict[str, int]
    dlq: dict[str, int]
    events: int
    incident_versions: int
    open_incidents: int
    closed_incidents: int
    sink_lag: int
    job_lag: int = 0

    def line(self, elapsed_s: float) -> str:
        """The summary as one terminal line."""
        feeds = " ".join(f"{t.removeprefix('raw.')}={n}" for t, n in self.raw.items())
        dead = sum(self.dlq.values())
        return (
            f"[{elapsed_s:5.0f}s] in: {feeds} | dlq {dead} | events {self.events} | "
            f"incidents open {self.open_incidents} closed {self.closed_incidents} "
            f"({self.incident_versions} versions) | lag job {self.job_lag} sink {self.sink_lag}"
        )


class OffsetMonitor:
    """Counts records per topic from Kafka's offsets, relative to a baseline."""

    def __init__(self, settings: Settings) -> None:
        from confluent_kafka import Consumer

        self.settings = settings
        self.consumer = Consumer(
            {
                "bootstrap.servers": settings.bootstrap_servers,
                "group.id": "vigie-run-monitor",
                "enable.auto.commit": False,
            }
        )
        self.baseline: dict[str, int] = {}

    def totals(self, topics: tuple[str, ...]) -> dict[str, int]:
        """Records ever written to each topic (sum of high watermarks)."""
        from confluent_kafka import TopicPartition

        from vigie.kafka.offsets import end_offset

        meta = self.consumer.list_topics(timeout=10)
        out: dict[str, int] = {}
        for topic in topics:
            parts = meta.topics.get(topic)
            total = 0
            if parts is not None:
                for p in parts.partitions:
                    total += end_offset(self.consumer, TopicPartition(topic, p))
            out[topic] = total - self.baseline.get(topic, 0)
        return out

    def mark(self, topics: tuple[str, ...]) -> None:
        """Remember the current offsets: later totals count from here."""
        self.baseline = {}
        self.baseline = self.totals(topics)

    def lag(self, group: str, topics: tuple[str, ...]) -> int:
        """How many records ``group`` has not committed yet."""
        from confluent_kafka import Consumer, TopicPartition

        from vigie.kafka.offsets import end_offset

        probe = Consumer(
            {
                "bootstrap.servers": self.settings.bootstrap_servers,
                "group.id": group,
                "enable.auto.commit": False,
            }
        )
        try:
            meta = probe.list_topics(timeout=10)
            parts = [
                TopicPartition(t, p)
                for t in topics
                if t in meta.topics
                for p in meta.topics[t].partitions
            ]
            lag = 0
            for tp in probe.committed(parts, timeout=10):
                lag += end_offset(probe, tp) - (tp.offset if tp.offset >= 0 else 0)
            return lag
        finally:
            probe.close()

    def close(self) -> None:
        """Leave nothing open."""
        self.consumer.close()


class IncidentTracker:
    """Follows the ``incidents`` topic from a start point: latest version per incident."""

    def __init__(self, settings: Settings) -> None:
        from confluent_kafka import Consumer

        from vigie.core.serde import AvroDeserializer, SchemaCatalogue

        self.consumer = Consumer(
            {
                "bootstrap.servers": settings.bootstrap_servers,
                "group.id": f"vigie-run-tracker-{time.time_ns()}",
                "enable.auto.commit": False,
                "auto.offset.reset": "latest",
            }
        )
        self.deserializer = AvroDeserializer(SchemaCatalogue.load(settings.schemas_dir / "avro"))
        self.latest: dict[str, Incident] = {}
        self.versions = 0

    def start(self) -> None:
        """Subscribe from the topic's current end: only this run's versions count."""
        self.consumer.subscribe([INCIDENTS])
        deadline = time.monotonic() + 30
        while not self.consumer.assignment() and time.monotonic() < deadline:
            self.consumer.poll(0.2)

    def poll(self) -> None:
        """Read whatever arrived."""
        from vigie.core.serde import INCIDENT, record_to_incident

        for message in self.consumer.consume(5000, 0.2):
            value = message.value()
            if message.error() or value is None:
                continue
            record = self.deserializer.deserialize(value, reader=INCIDENT).record
            incident = record_to_incident(record)
            self.versions += 1
            known = self.latest.get(incident.incident_id)
            if known is None or incident.version >= known.version:
                self.latest[incident.incident_id] = incident

    def counts(self) -> tuple[int, int]:
        """Open (open or updated) and closed incidents, merged ones aside."""
        statuses = [i.status for i in self.latest.values()]
        opened = sum(s in (Status.OPEN, Status.UPDATED) for s in statuses)
        return opened, sum(s == Status.CLOSED for s in statuses)

    def close(self) -> None:
        """Leave nothing open."""
        self.consumer.close()


@dataclass
class LiveRun:
    """One run of the whole pipeline over a simulated scenario."""

    settings: Settings
    seed: int = 7
    speed: float = 0.0
    duration: str = "6h"
    out: Path | None = None
    keep_running: bool = False
    processes: list[ManagedProcess] = field(default_factory=list)
    started_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    @property
    def group_prefix(self) -> str:
        """Consumer groups of this run's jobs."""
        return f"vigie-run-{self.started_ms}"

    say: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)

    @property
    def home(self) -> Path:
        """Where this run keeps its files, logs and pid files."""
        return self.settings.data_dir / "run"

    def _run_env(self) -> dict[str, str]:
        """A job of this run reads only this run's records, under its own group."""
        return {"VIGIE_JOB_GROUP_PREFIX": self.group_prefix}

    def _spawn(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> ManagedProcess:
        logs = self.home / "logs"
        proc = ManagedProcess(name, self.home / f"{name}.pid", logs / f"{name}.log")
        proc.stop()  # a leftover from an interrupted run
        # Flink's own log (checkpoints, task failures) goes beside ours, not into the venv.
        proc.start(argv, cwd=Path.cwd(), env={"FLINK_LOG_DIR": str(logs), **(env or {})})
        self.processes.append(proc)
        return proc

    def prepare(self) -> None:
        """Stack up, with its topics declared and tables migrated."""
        from vigie.stack.stack import LocalStack

        LocalStack(self.settings).up(progress=lambda line: self.say(f"  {line}"))

    def start(self) -> Path:
        """Start the pipeline's processes; return the simulator's output folder."""
        python = sys.executable
        vigie = [python, "-m", "vigie.cli.main"]
        out = self.out or self.home / f"city-seed{self.seed}"
        if out.exists():
            import shutil

            shutil.rmtree(out)
        out.mkdir(parents=True)
        from vigie.kafka.offsets import start_group_at_end

        start_group_at_end(self.settings, f"{self.group_prefix}-normalize", RAW)
        self._spawn("pipeline", [python, "-m", "jobs.pipeline"], env=self._run_env())
        self._spawn("sink", [*vigie, "sink", "--quiet", "--no-metrics"])
        for feed in FEEDS:
            folder = out / feed
            folder.mkdir(parents=True, exist_ok=True)
            state = self.home / f"connect-{feed}.state"
            state.unlink(missing_ok=True)
            self._spawn(
                f"connect-{feed}",
                [*vigie, "connect", feed, "--watch", str(folder), "--interval", "1",
                 "--state", str(state), "--no-metrics"],
            )  # fmt: skip
        self._spawn(
            "simulate",
            [*vigie, "simulate", "--seed", str(self.seed), "--out", str(out),
             "--speed", str(self.speed), "--duration", self.duration, "--quiet"],
        )  # fmt: skip
        return out

    def stop(self) -> None:
        """Stop every process this run started."""
        for proc in reversed(self.processes):
            proc.stop(timeout_s=20)

    def watch(self, *, timeout_s: float = 1800, keep_running: bool = False) -> RunResult:
        """Start the processes, print the live summary until the city is through, score.

        "Through" means: the simulator has finished writing, the connectors have produced
        every record it wrote (minus the malformed ones), the Flink job has committed its
        offsets up to the end of every raw topic, the sink has nothing left to write, and
        neither events nor incident versions moved for three polls.
        """
        monitor = OffsetMonitor(self.settings)
        monitor.mark((*RAW, *DLQ, EVENTS, INCIDENTS))
        tracker = IncidentTracker(self.settings)
        tracker.start()
        out = self.start()
        self.say(f"pipeline started; logs in {self.home / 'logs'}")
        started = time.monotonic()
        stable = 0
        previous: tuple[int, int] | None = None
        try:
            while True:
                time.sleep(2)
                self._check_alive()
                tracker.poll()
                snap = self._snapshot(monitor, tracker)
                elapsed = time.monotonic() - started
                self.say(snap.line(elapsed))
                expected = expected_raw(out)
                through = expected is not None and sum(snap.raw.values()) >= expected
                drained = through and snap.job_lag == 0 and snap.sink_lag == 0 and snap.events > 0
                now = (snap.events, snap.incident_versions)
                stable = stable + 1 if drained and now == previous else 0
                previous = now
                if stable >= 3 and not keep_running:
                    break
                if elapsed > timeout_s:
                    msg = f"the city's records were not through after {timeout_s:.0f}s"
                    raise VigieError(msg)
        finally:
            if not keep_running:
                self.stop()
            monitor.close()
        incidents = list(tracker.latest.values())
        tracker.close()
        return RunResult(
            out=out,
            last=snap,
            incidents=incidents,
            scores=score_incidents(out / "ground_truth.jsonl", incidents),
        )

    def _check_alive(self) -> None:
        for proc in self.processes:
            if proc.name != "simulate" and proc.pid() is None:
                msg = f"{proc.name} stopped unexpectedly; see {proc.log_file}"
                raise VigieError(msg)

    def _snapshot(self, monitor: OffsetMonitor, tracker: IncidentTracker) -> Snapshot:
        totals = monitor.totals((*RAW, *DLQ, EVENTS, INCIDENTS))
        opened, closed = tracker.counts()
        return Snapshot(
            raw={t: totals[t] for t in RAW},
            dlq={t: totals[t] for t in DLQ},
            events=totals[EVENTS],
            incident_versions=tracker.versions,
            open_incidents=opened,
            closed_incidents=closed,
            sink_lag=monitor.lag("vigie-sink", (EVENTS, INCIDENTS)),
            job_lag=monitor.lag(f"{self.group_prefix}-normalize", RAW),
        )


@dataclass(frozen=True)
class RunResult:
    """What one run of the city produced, and how good it was."""

    out: Path
    last: Snapshot
    incidents: list[Incident]
    scores: Any


def expected_raw(out: Path) -> int | None:
    """Records the connectors should produce (written minus rejected), once written."""
    import json

    manifest = out / "manifest.json"
    if not manifest.exists():
        return None
    data: dict[str, Any] = json.loads(manifest.read_text())
    return int(data["records"]) - int(data["rejected"])


def score_incidents(truth_file: Path, incidents: list[Incident]) -> Any:
    """B-cubed and category accuracy of live incidents against the simulator's truth."""
    from vigie.core.normalize import event_id_for
    from vigie.eval.metrics import load_truth, score

    truth = load_truth(truth_file)
    item_of = {event_id_for(Source(s), r): (s, r) for s, r in truth.labels()}
    predicted: dict[tuple[str, str], str] = {}
    categories: dict[str, str] = {}
    for incident in incidents:
        if incident.status == Status.MERGED:
            continue
        categories[incident.incident_id] = incident.category
        for event_id in incident.event_ids:
            item = item_of.get(event_id)
            if item is not None:
                predicted[item] = incident.incident_id
    return score(truth, predicted, categories)
