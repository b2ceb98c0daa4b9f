"""`vigie watch --json` keeps going when the broker is killed and started again."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from cc_live import fresh_topics, produce_incidents, sample_incident

from vigie.stack.stack import LocalStack

pytestmark = pytest.mark.fault


def test_watch_reconnects_after_broker_restart(stack, unique_name):
    topics = fresh_topics(stack, unique_name)
    before = sample_incident()
    produce_incidents(stack, topics["incidents"], [before])
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vigie.cli.main",
            "watch",
            "--json",
            "--topic",
            topics["incidents"],
            "--acks-topic",
            topics["incident-acks"],
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    local = LocalStack(stack)
    try:
        assert json.loads(lines.get(timeout=20))["incident_id"] == before.incident_id
        local.kafka.process.kill()
        time.sleep(3.0)  # the watcher now sees no broker
        assert proc.poll() is None, "watch must not exit when the broker goes away"
        assert "kafka" in local.up()
        after = sample_incident()
        produce_incidents(stack, topics["incidents"], [after])
        assert json.loads(lines.get(timeout=60))["incident_id"] == after.incident_id
    finally:
        local.up()  # leave the broker running for the next test, whatever happened
        proc.terminate()
        proc.wait(10)
