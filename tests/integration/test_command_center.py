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
import uuid

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


def test_ack_reaches_clickhouse_status_through_the_sink(stack, unique_name):
    """`vigie ack` -> incident-acks -> `vigie sink` -> incident_status (what, when) and the
    private ack_people (who). Uses the real acks topic: the sink reads the declared names."""
    from vigie.sink import ACKS, ClickHouseSink
    from vigie.store.engine import connect
    from vigie.store.incident_store import IncidentStore
    from vigie.store.schema import Databases, load_migrations, migrate, migrations_dir

    admin = connect(stack, "admin")
    databases = Databases.from_settings(stack)
    migrate(admin, databases, load_migrations(migrations_dir(stack)))
    apply_base_acks_topic(stack)
    store = IncidentStore.from_settings(stack, "writer")
    incident = sample_incident()
    store.insert_incidents([incident])

    env = os.environ | {"VIGIE_OPERATOR": "rita"}
    for _ in range(2):  # the same operator acting twice is two actions
        subprocess.run(
            vigie("ack", incident.incident_id, "--assign", "unit 3", "--note", "first on scene"),
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=True,
        )
    sink = ClickHouseSink(stack, group_id=f"cc-sink-{unique_name}", topics=(ACKS,))
    sink.run(until_idle_s=3, max_seconds=60)
    status = store.incident_status(incident.incident_id)
    assert status is not None
    assert (status["acks"], status["last_action"]) == (2, "assign")
    assert status["last_action_at"] is not None
    people = admin.query(
        f"SELECT operator, assignee, note FROM {databases.private}.ack_people FINAL"
        " WHERE incident_id = %(id)s",
        {"id": incident.incident_id},
    ).dicts()
    assert people == [{"operator": "rita", "assignee": "unit 3", "note": "first on scene"}] * 2
    store.close()
    admin.close()


def test_a_retried_ack_is_one_row_in_clickhouse(stack, unique_name):
    from vigie.command_center.kafka_io import AckPublisher
    from vigie.sink import ACKS, ClickHouseSink
    from vigie.store.incident_store import IncidentStore

    apply_base_acks_topic(stack)
    store = IncidentStore.from_settings(stack, "writer")
    incident = sample_incident()
    store.insert_incidents([incident])
    ack = IncidentAck(
        ack_id=str(uuid.uuid4()),
        incident_id=incident.incident_id,
        action=AckAction.ACK,
        operator="sam",
        at=now_ms(),
    )
    publisher = AckPublisher(stack)
    publisher.publish(ack)
    publisher.publish(ack)  # a retried send of the same action
    publisher.close()
    ClickHouseSink(stack, group_id=f"cc-sink-{unique_name}", topics=(ACKS,)).run(
        until_idle_s=3, max_seconds=60
    )
    status = store.incident_status(incident.incident_id)
    assert status is not None
    assert (status["acks"], status["last_action"]) == (1, "ack")
    store.close()


def apply_base_acks_topic(settings) -> None:
    from vigie.kafka.topics import apply_topics, declared_topics

    apply_topics(settings, [s for s in declared_topics(settings) if s.name == "incident-acks"])
