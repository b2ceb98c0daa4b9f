"""The benchmark's I/O: job processes, the offered load, the outputs watched, /proc sampled.

One job kind at a time runs on the local stack (:data:`JOB_KINDS`), each as its own
process(es) under fresh consumer groups reading only records offered after it started,
with retained checkpoints on disk so the state size can be read from them. The ClickHouse
sink (``vigie sink``) runs beside it all along. The bench offers each rate for a fixed
time, waits for the outputs to stop growing, and hands the raw observations to
:mod:`vigie.bench.stats`.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vigie.bench.load import CityLoad, Offer
from vigie.bench.stats import Version, active_rate, percentile, sustained_rate, update_latencies
from vigie.config import Settings
from vigie.core.events import Source
from vigie.flink.checkpoints import latest_checkpoint
from vigie.kafka.offsets import start_group_at_end, topic_ends
from vigie.stack.process import ManagedProcess

EVENTS = "events.normalized"
INCIDENTS = "incidents"
SINK_GROUP = "vigie-sink"
Say = Callable[[str], None]


RAW_TOPICS = tuple(f"raw.{s.value}" for s in Source)

#: What the bench can measure: kind → the job modules it runs, each its own process (JVM).
#: ``apart`` is production's shape, normalise and fuse as two jobs with ``events.normalized``
#: between them: two JVMs, so two Python interpreters and two interpreter locks.
JOB_KINDS: dict[str, tuple[str, ...]] = {
    "pipeline": ("pipeline",),
    "apart": ("normalize", "fuse"),
    "passthrough": ("passthrough",),
}


def group_rss_bytes(pgid: int) -> int:
    """Resident memory of every process in a process group (a job is Python + its JVM)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) != pgid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, ValueError):
            continue
    return total


def folder_bytes(path: Path | None) -> int | None:
    """Bytes of all files under a folder (a checkpoint), None when there is none."""
    if path is None:
        return None
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class OutputWatch:
    """A consumer thread noting when each output record of the running job arrives."""

    def __init__(self, settings: Settings, topics: tuple[str, ...], decode_incidents: bool):
        from confluent_kafka import Consumer

        from vigie.core.serde import AvroDeserializer, SchemaCatalogue

        self.consumer = Consumer(
            {
                "bootstrap.servers": settings.bootstrap_servers,
                "group.id": f"vigie-bench-watch-{time.time_ns()}",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 20,
            }
        )
        self.consumer.assign(topic_ends(self.consumer, topics))
        self.decode = decode_incidents
        self.deserializer = AvroDeserializer(SchemaCatalogue.load(settings.schemas_dir / "avro"))
        self.lock = threading.Lock()
        self.events: list[tuple[float, str]] = []  # arrival, event id (events.normalized)
        self.outputs: list[tuple[float, str]] = []  # arrival, key (passthrough)
        self.versions: list[Version] = []
        self.last_arrival = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from vigie.core.serde import INCIDENT, record_to_incident

        while not self._stop.is_set():
            batch = self.consumer.consume(10_000, 0.05)
            now = time.time()
            with self.lock:
                for m in batch:
                    if m.error():
                        continue
                    key = (m.key() or b"").decode()
                    topic = m.topic()
                    if topic == EVENTS:
                        self.events.append((now, key))
                    elif self.decode:
                        rec = self.deserializer.deserialize(
                            m.value() or b"", reader=INCIDENT
                        ).record
                        inc = record_to_incident(rec)
                        self.versions.append(Version(now, inc.incident_id, inc.event_ids))
                    else:
                        self.outputs.append((now, key))
                if batch:
                    self.last_arrival = now

    def counts(self) -> tuple[int, int]:
        """Events and job outputs seen so far."""
        with self.lock:
            return len(self.events), len(self.outputs) + len(self.versions)

    def close(self) -> None:
        """Stop the thread and leave."""
        self._stop.set()
        self._thread.join(10)
        self.consumer.close()


class Sampler:
    """Once a second: RSS of the job and the sink, and the sink group's committed offsets."""

    def __init__(self, settings: Settings, job_pgids: list[int], sink_pgid: int | None):
        from confluent_kafka import Consumer

        self.probe = Consumer(
            {
                "bootstrap.servers": settings.bootstrap_servers,
                "group.id": SINK_GROUP,
                "enable.auto.commit": False,
            }
        )
        self.job_pgids = job_pgids
        self.sink_pgid = sink_pgid
        self.rows: list[tuple[float, float, float, int]] = []  # t, job rss, sink rss, committed
        self._parts = self._partitions()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _partitions(self) -> list[Any]:
        from confluent_kafka import TopicPartition

        meta = self.probe.list_topics(timeout=10)
        return [
            TopicPartition(t, p) for t in (EVENTS, INCIDENTS) for p in meta.topics[t].partitions
        ]

    def _committed(self) -> int:
        try:
            return sum(max(tp.offset, 0) for tp in self.probe.committed(self._parts, timeout=5))
        except Exception:
            return self.rows[-1][3] if self.rows else 0

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            job = sum(group_rss_bytes(pgid) for pgid in self.job_pgids)
            sink = group_rss_bytes(self.sink_pgid) if self.sink_pgid else 0
            self.rows.append((time.time(), job, sink, self._committed()))

    def between(self, start: float, end: float) -> list[tuple[float, float, float, int]]:
        """Samples taken in a time window."""
        return [r for r in self.rows if start <= r[0] <= end]

    def close(self) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join(10)
        self.probe.close()


def offer(
    producer: Any,
    offers: Iterable[Offer],
    rate: float,
    offered_at: dict[str, float],
    max_seconds: float | None = None,
) -> tuple[int, float, float]:
    """Produce at ``rate`` records/s, noting each record's offer time; (count, first, last)."""
    first = time.time()
    n = 0
    for item in offers:
        offered_at[item.event_id] = time.time()
        while True:
            try:
                # Stamped with the event time, as the connectors stamp raw records.
                producer.produce(item.topic, item.value, item.key, timestamp=item.event_time or 0)
                break
            except BufferError:
                producer.poll(0.05)
        n += 1
        if n % 200 == 0:
            producer.poll(0)
            ahead = first + n / rate - time.time()
            if ahead > 0:
                time.sleep(ahead)
            if max_seconds is not None and time.time() - first > max_seconds:
                break
    producer.flush(60)
    return n, first, time.time()


@dataclass
class JobRun:
    """One job kind of the bench (one or two job processes) with its watchers."""

    settings: Settings
    kind: str  # a key of JOB_KINDS
    home: Path
    say: Say
    procs: list[ManagedProcess] = field(init=False)
    ckpt: Path = field(init=False)

    @property
    def fuses(self) -> bool:
        """Whether the kind makes incidents (else its output is the passthrough's)."""
        return self.kind != "passthrough"

    def start(self, sink_pgid: int | None) -> None:
        """Start the job(s) (fresh groups, reading from now) and the watchers."""
        stamp = str(int(time.time() * 1000))
        modules = JOB_KINDS[self.kind]
        # The last job's checkpoints are the ones measured (fuse's when apart).
        self.ckpt = self.home / "checkpoints" / f"{modules[-1]}-{stamp}"
        self.procs = [
            ManagedProcess(f"bench-{m}", self.home / f"{m}.pid", self.home / f"{m}.log")
            for m in modules
        ]
        for proc in self.procs:
            proc.stop()
        out = INCIDENTS if self.fuses else "bench.passthrough"
        self.watch = OutputWatch(self.settings, (EVENTS, out), self.fuses)
        prefix = f"vigie-bench-{self.kind}-{stamp}"
        start_group_at_end(self.settings, f"{prefix}-normalize", RAW_TOPICS)
        start_group_at_end(self.settings, f"{prefix}-fuse", (EVENTS,))
        pgids = []
        for module, proc in zip(modules, self.procs, strict=True):
            env = {
                "VIGIE_JOB_GROUP_PREFIX": prefix,
                "VIGIE_FLINK_CHECKPOINT_DIR": str(self.ckpt.with_name(f"{module}-{stamp}")),
                "FLINK_LOG_DIR": str(self.home / "logs" / module),
            }
            proc.start([sys.executable, "-m", f"jobs.{module}"], cwd=Path.cwd(), env=env)
            pid = proc.pid()
            assert pid is not None
            pgids.append(pid)
        self.sampler = Sampler(self.settings, pgids, sink_pgid)

    def drain(self, expect: int = 1, quiet_s: float = 4.0, max_s: float = 300.0) -> float:
        """Wait for ``expect`` events out, then until the outputs stop growing.

        Returns the last arrival time. On a busy machine a job can pause for seconds, so a
        quiet spell alone does not end the wait before ``expect`` events came out.
        """
        deadline = time.time() + max_s
        last = self.watch.counts()
        still_since = time.time()
        while time.time() < deadline:
            time.sleep(0.5)
            for proc in self.procs:
                if proc.pid() is None:
                    msg = f"a {self.kind} job stopped; see {proc.log_file}"
                    raise RuntimeError(msg)
            now = self.watch.counts()
            if now != last:
                last, still_since = now, time.time()
            elif time.time() - still_since >= quiet_s and now[0] >= expect:
                break
        return self.watch.last_arrival

    def state_bytes(self) -> int | None:
        """Size of the newest retained checkpoint."""
        return folder_bytes(latest_checkpoint(self.ckpt))

    def phase(self, producer: Any, offers: list[Offer], rate: float) -> dict[str, Any]:
        """Offer ``offers`` at ``rate``, wait for the outputs, and measure."""
        offered_at: dict[str, float] = {}
        with self.watch.lock:
            self.watch.events.clear()
            self.watch.outputs.clear()
            self.watch.versions.clear()
        n, first, end_offer = offer(producer, offers, rate, offered_at)
        # ~1 % of the simulator's records are rejected by normalise or are duplicates.
        last = self.drain(expect=int(0.95 * n))
        time.sleep(1.5)  # one more sink sample after the outputs stopped
        with self.watch.lock:
            events = list(self.watch.events)
            outputs = list(self.watch.outputs)
            versions = list(self.watch.versions)
        if self.fuses:
            latencies = update_latencies(versions, offered_at)
        else:
            latencies = [t - offered_at[k] for t, k in outputs if k in offered_at]
        normalise = [t - offered_at[k] for t, k in events if k in offered_at]
        samples = self.sampler.between(first - 1, time.time())
        sink_rows = active_rate([(t, c) for t, _, _, c in samples])
        return {
            "offered_rate": int(rate),
            "offered": n,
            "offer_seconds": round(end_offer - first, 2),
            "achieved_offer_rate": round(n / max(end_offer - first, 1e-9)),
            "events_out": len(events),
            "outputs": len(versions) if self.fuses else len(outputs),
            "sustained_per_s": round(sustained_rate(n, first, max(last, end_offer))),
            "latency_s": _quantiles(latencies),
            "normalise_latency_s": _quantiles(normalise),
            "peak_rss_mb": {
                "job": round(max((r[1] for r in samples), default=0) / 2**20),
                "sink": round(max((r[2] for r in samples), default=0) / 2**20),
            },
            "sink_rows_per_s": round(sink_rows),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "state_bytes": self.state_bytes(),
        }

    def stop(self) -> None:
        """Stop the job and its watchers."""
        self.watch.close()
        self.sampler.close()
        for proc in self.procs:
            proc.stop(timeout_s=20)


def _quantiles(values: list[float]) -> dict[str, float | int | None]:
    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 3)

    return {
        "count": len(values),
        "p50": r(percentile(values, 50)),
        "p99": r(percentile(values, 99)),
        "max": r(max(values)) if values else None,
    }


def machine() -> dict[str, Any]:
    """What this machine is, for the results file."""
    import platform

    mem = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) // 1024
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    import pyflink

    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_mb": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "pyflink": getattr(pyflink, "__version__", "2.2"),
        "load_average_at_start": list(os.getloadavg()),
    }


def run_rates(
    settings: Settings,
    load: CityLoad,
    kind: str,
    rates: list[int],
    seconds: float,
    home: Path,
    say: Say,
    sink_pgid: int | None,
    saturated_seconds: float = 3.0,
) -> tuple[list[dict[str, Any]], int]:
    """One job through every rate (after a warm-up); the same records for both jobs."""
    from vigie.kafka.clients import make_producer

    producer = make_producer(
        settings,
        f"vigie-bench-{kind}",
        {"linger.ms": 20, "queue.buffering.max.messages": 2_000_000},
    )
    job = JobRun(settings, kind, home, say)
    job.start(sink_pgid)
    try:
        warm, loop = load.take(3000, 0)
        say(f"{kind}: warming up (JVM start, first records through)")
        job.phase(producer, warm, 500)
        out = []
        span = seconds
        for rate in rates:
            batch, loop = load.take(int(rate * span), loop)
            say(f"{kind}: {rate}/s for {span:.0f}s ({len(batch)} records)")
            result = job.phase(producer, batch, rate)
            result["saturated"] = result["sustained_per_s"] < 0.8 * rate
            say(f"  -> {result}")
            out.append(result)
            if result["saturated"]:
                # Past its capacity the job only builds a backlog: shorter offers measure the
                # same capacity and latency growth without minutes of draining.
                span = min(span, saturated_seconds)
        return out, loop
    finally:
        job.stop()


def run_soak(
    settings: Settings,
    load: CityLoad,
    rate: int,
    minutes: float,
    home: Path,
    say: Say,
    sink_pgid: int | None,
    first_loop: int,
) -> dict[str, Any]:
    """The pipeline at a moderate rate for ``minutes``: memory and state over time."""
    needed = rate * minutes * 60 / len(load.records) + 2
    if first_loop + needed > load.max_loops:
        msg = f"a {minutes} min soak at {rate}/s needs more city loops than the scenario allows"
        raise ValueError(msg)
    from vigie.bench.stats import flatness
    from vigie.kafka.clients import make_producer

    producer = make_producer(settings, "vigie-bench-soak", {"linger.ms": 20})
    job = JobRun(settings, "pipeline", home, say)
    job.start(sink_pgid)
    try:
        warm, _loop = load.take(3000, 0)
        job.phase(producer, warm, 500)
        say(f"soak: {rate}/s for {minutes} min")

        def stream() -> Iterable[Offer]:
            k = first_loop  # past the loops the rate phases used
            while True:
                yield from load.offers(k)
                k += 1

        state: list[tuple[float, int]] = []
        stop_at = time.time() + minutes * 60
        started = time.time()
        offered_at: dict[str, float] = {}
        gen = iter(stream())
        n = 0
        while time.time() < stop_at:
            chunk = [next(gen) for _ in range(rate * 30)]
            m, _, _ = offer(producer, chunk, rate, offered_at, max_seconds=stop_at - time.time())
            n += m
            offered_at.clear()
            size = job.state_bytes()
            if size is not None:
                state.append((time.time(), size))
            say(f"  soak {time.time() - started:.0f}s: {n} offered, state {size} bytes")
        job.drain()
        samples = job.sampler.between(started, time.time())
        rss = [(t, job_rss / 2**20) for t, job_rss, _, _ in samples]
        return {
            "rate": rate,
            "minutes": minutes,
            "offered": n,
            "rss": {k: round(v, 3) for k, v in flatness(rss).items()},
            "rss_series_mb": [
                (round(t - started, 1), round(v)) for t, v in rss[:: max(1, len(rss) // 60)]
            ],
            "state": {k: round(v, 3) for k, v in flatness(state).items()}
            if len(state) >= 10
            else None,
            "state_series_bytes": [(round(t - started, 1), v) for t, v in state],
        }
    finally:
        job.stop()
