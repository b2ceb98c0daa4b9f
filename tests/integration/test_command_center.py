"""`vigie watch --json`, `vigie ack` and the acks sink against the real broker and store."""

from __future__ import annotations

import dataclasses
import json
import os
import queue
import subprocess
import sys
import threading
import time

import pytest
from cc_live import (
    evidence_pair,
    fresh_topics,
    now_ms,
    produce_incidents,
    read_all,
    sample_incident,
)

from vigie.core.events import AckAction, IncidentAck, Status
from vigie.core.serde import INCIDENT_ACK, record_to_ack
from vigie.kafka.serde import deserializer

pytestmark = pytest.mark.integration


def vigie(*args: str) -> list[str]:
    return [sys.executable, "-m", "vigie.cli.main", *args]


def test_watch_json_once_prints_current_state_filtered(stack, unique_name):
    topics = fresh_topics(stack, unique_name)
    serious = sample_incident(severity=4)
    minor = sample_incident(severity=2, category="noise")
    updated = dataclasses.replace(serious, version=2, status=Status.UPDATED, severity=5)
    produce_incidents(stack, topics["incidents"], [serious, minor, updated])

    out = subprocess.run(
        vigie(
            "watch",
            "--json",
            "--once",
            "--min-severity",
            "3",
            "--topic",
            topics["incidents"],
            "--acks-topic",
            topics["incident-acks"],
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(v["incident_id"], v["version"], v["severity"], v["status"]) for v in lines] == [
        (serious.incident_id, 2, 5, "updated")
    ]
    assert lines[0]["sources"] == ["camera", "police"]


def test_watch_json_follows_new_incidents_and_acks_live(stack, unique_name):
    topics = fresh_topics(stack, unique_name)
    proc = subprocess.Popen(
        vigie(
            "watch",
            "--json",
            "--topic",
            topics["incidents"],
            "--acks-topic",
            topics["incident-acks"],
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    try:
        time.sleep(2.0)  # the watcher is following an empty topic
        incident, _events = evidence_pair(sample_incident())
        produce_incidents(stack, topics["incidents"], [incident])
        view = json.loads(lines.get(timeout=15))
        assert view["incident_id"] == incident.incident_id
        assert view["ack"] is None
        assert view["links"][0]["rule"] == "gunshot_with_call"

        env = os.environ | {"VIGIE_OPERATOR": "olga"}
        done = subprocess.run(
            vigie(
                "ack",
                incident.incident_id,
                "--assign",
                "unit 7",
                "--note",
                "on the way",
                "--topic",
                topics["incident-acks"],
            ),
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=True,
        )
        assert f"assign {incident.incident_id} by olga" in done.stdout
        acked = json.loads(lines.get(timeout=15))
        assert acked["ack"]["operator"] == "olga"
        assert acked["ack"]["assignee"] == "unit 7"
        assert acked["status_text"] == "open, assigned to unit 7 by olga"
    finally:
        proc.terminate()
        proc.wait(10)


def test_ack_cli_writes_an_avro_record_keyed_by_incident(stack, unique_name):
    topics = fresh_topics(stack, unique_name)
    env = os.environ | {"VIGIE_OPERATOR": "paul"}
    before = now_ms()
    subprocess.run(
        vigie("ack", "inc-42", "--note", "seen", "--topic", topics["incident-acks"]),
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    )
    values = read_all(stack, topics["incident-acks"], want=1)
    assert len(values) == 1
    ack = record_to_ack(deserializer(stack).deserialize(values[0], reader=INCIDENT_ACK).record)
    assert (ack.incident_id, ack.action, ack.operator, ack.note, ack.assignee) == (
        "inc-42",
        AckAction.ACK,
        "paul",
        "seen",
        None,
    )
    assert before <= ack.at <= now_ms()


def test_invalid_ack_is_refused_before_kafka(stack, unique_name):
    topics = fresh_topics(stack, unique_name)
    done = subprocess.run(
        vigie("ack", "bad id with spaces", "--topic", topics["incident-acks"]),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "incident_id must be" in done.stderr
    assert read_all(stack, topics["incident-acks"], want=1, timeout_s=3) == []


def test_ack_sink_makes_clickhouse_status_show_who_when_what(stack, unique_name):
    from vigie.command_center.ack_sink import AckSink, writer_store
    from vigie.command_center.kafka_io import AckPublisher
    from vigie.store.engine import connect
    from vigie.store.schema import Databases, load_migrations, migrate, migrations_dir

    admin = connect(stack, "admin")
    databases = Databases.from_settings(stack)
    migrate(admin, databases, load_migrations(migrations_dir(stack)))
    store = writer_store(stack)
    incident = sample_incident()
    store.insert_incidents([incident])

    topics = fresh_topics(stack, unique_name)
    at = now_ms()
    ack = IncidentAck(
        ack_id="7d1b0c52-0d52-4d0e-9a4c-6f1e2f3a4b5c".replace("7d1b", unique_name[:4]),
        incident_id=incident.incident_id,
        action=AckAction.ASSIGN,
        operator="rita",
        at=at,
        assignee="unit 3",
        note="first on scene",
    )
    publisher = AckPublisher(stack, topics["incident-acks"])
    publisher.publish(ack)
    publisher.publish(ack)  # a retried send: still one action in ClickHouse
    publisher.close()

    sink = AckSink(stack, topics["incident-acks"], group_id=f"cc-sink-{unique_name}")
    stop = threading.Event()
    runner = threading.Thread(target=sink.run, args=(stop,), daemon=True)
    runner.start()
    try:
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline:
            status = store.incident_status(incident.incident_id)
            if status and status.get("acks"):
                break
            time.sleep(0.5)
    finally:
        stop.set()
        runner.join(10)
    assert status is not None
    assert (status["acks"], status["last_action"]) == (1, "assign")
    people = admin.query(
        f"SELECT operator, assignee, note FROM {databases.private}.ack_people FINAL"
        " WHERE ack_id = %(id)s",
        {"id": ack.ack_id},
    ).dicts()
    assert people == [{"operator": "rita", "assignee": "unit 3", "note": "first on scene"}]
    assert sink.stats.written == 2
    store.close()
    admin.close()
