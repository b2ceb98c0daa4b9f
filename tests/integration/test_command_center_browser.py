"""The live map page in headless Chromium (Debian's), driven by Playwright over CDP.

Runs the real `vigie serve` against the real broker: signs in with an operator token, sees
an incident produced to Kafka appear within 2 seconds, opens its evidence, acknowledges it
and finds the Avro record on the acks topic. The screenshot is kept under artifacts/.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from cc_live import (
    evidence_pair,
    fresh_topics,
    produce_events,
    produce_incidents,
    read_all,
    sample_incident,
)

from vigie.config import REPO_ROOT
from vigie.core.serde import INCIDENT_ACK, record_to_ack
from vigie.kafka.serde import deserializer

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OPERATOR_TOKEN = "op-token-for-the-browser-test-0001"
VIEWER_TOKEN = "viewer-token-for-the-browser-test-01"
ARTIFACTS = REPO_ROOT / "artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(stack, unique_name):
    topics = fresh_topics(stack, unique_name)
    port = free_port()
    env = os.environ | {
        "VIGIE_OPERATOR_TOKENS": json.dumps({"alice": OPERATOR_TOKEN}),
        "VIGIE_VIEWER_TOKENS": json.dumps({"victor": VIEWER_TOKEN}),
    }
    log = ARTIFACTS / f"serve-{unique_name}.log"
    ARTIFACTS.mkdir(exist_ok=True)
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vigie.cli.main",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--topic",
                topics["incidents"],
                "--acks-topic",
                topics["incident-acks"],
                "--events-topic",
                topics["events.normalized"],
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/login", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"vigie serve did not start: see {log}")
                time.sleep(0.2)
        yield base, topics
    finally:
        proc.terminate()
        proc.wait(10)


def test_viewer_token_cannot_ack_on_the_real_server(served):
    base, _topics = served
    request = urllib.request.Request(
        base + "/api/acks",
        data=json.dumps({"incident_id": "inc-1", "action": "ack"}).encode(),
        headers={"Authorization": f"Bearer {VIEWER_TOKEN}", "Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 403
    with pytest.raises(urllib.error.HTTPError) as anonymous:
        urllib.request.urlopen(base + "/api/incidents", timeout=5)
    assert anonymous.value.code == 401


def test_page_shows_live_incident_evidence_and_acknowledges(served, stack, unique_name):
    from playwright.sync_api import sync_playwright

    base, topics = served
    incident, events = evidence_pair(sample_incident(severity=5))
    shot = ARTIFACTS / f"command-center-{unique_name}.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(base + "/")
            assert page.url.endswith("/login")  # nothing without a token
            page.fill("#token", OPERATOR_TOKEN)
            page.click("#login")
            page.wait_for_url(base + "/")
            page.wait_for_selector("#sectors path", state="attached", timeout=10_000)
            page.wait_for_function(
                "document.getElementById('conn').textContent === 'connected'", timeout=15_000
            )
            assert page.text_content("#who") == "alice (operator)"

            produce_events(stack, topics["events.normalized"], events)
            produce_incidents(stack, topics["incidents"], [incident])
            produced = time.monotonic()
            dot = f'#incidents circle[data-incident-id="{incident.incident_id}"]'
            page.wait_for_selector(dot, timeout=2_000)
            appeared = time.monotonic() - produced
            assert appeared < 2.0
            assert "sev5" in (page.get_attribute(dot, "class") or "")

            page.click(dot)
            page.wait_for_selector("#detail:not([hidden])")
            page.wait_for_function(
                "document.querySelectorAll('#timeline tbody tr').length === 2"
                " && !document.querySelector('#timeline').textContent.includes('(not seen)')",
                timeout=5_000,
            )
            rows = page.locator("#timeline tbody tr").all_inner_texts()
            assert "camera" in rows[0] and "gunshot" in rows[0]
            assert "police" in rows[1] and "call_shots" in rows[1]
            link = page.inner_text("#links tbody")
            assert "gunshot_with_call" in link and "85 m" in link and "40 s" in link
            assert "M1, T2" in page.inner_text("#context")

            page.fill("#note", "units informed")
            page.click("#ack-btn")
            page.wait_for_function(
                "document.getElementById('ack-message').textContent.includes('recorded')",
                timeout=10_000,
            )
            ack_id = page.get_attribute("#ack-message", "data-ack-id")
            page.wait_for_function(
                "document.getElementById('ack-status').textContent.startsWith('ack by alice')",
                timeout=10_000,
            )
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    print(f"screenshot: {shot}")

    decoder = deserializer(stack)
    acks = [
        record_to_ack(decoder.deserialize(v, reader=INCIDENT_ACK).record)
        for v in read_all(stack, topics["incident-acks"], want=1)
    ]
    assert [(a.ack_id, a.incident_id, a.operator, a.action.value, a.note) for a in acks] == [
        (ack_id, incident.incident_id, "alice", "ack", "units informed")
    ]
    assert shot.stat().st_size > 10_000


def test_viewer_sees_incidents_but_cannot_acknowledge_in_the_page(served, stack):
    from playwright.sync_api import sync_playwright

    base, topics = served
    incident = sample_incident(severity=3, category="noise")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.goto(base + "/login")
            page.fill("#token", VIEWER_TOKEN)
            page.click("#login")
            page.wait_for_url(base + "/")
            page.wait_for_function(
                "document.getElementById('conn').textContent === 'connected'", timeout=15_000
            )
            produce_incidents(stack, topics["incidents"], [incident])
            page.click(f'#list li[data-incident-id="{incident.incident_id}"]', timeout=5_000)
            page.wait_for_selector("#detail:not([hidden])")
            assert page.text_content("#who") == "victor (viewer)"
            assert page.is_disabled("#ack-btn")
            assert page.is_disabled("#assign-btn")
            assert page.text_content("#ack-message") == "viewers cannot acknowledge"
            # Even a request made from the page's own context is refused by the server.
            status = page.evaluate(
                """async (id) => (await fetch('/api/acks', {method: 'POST',
                    headers: {'Content-Type': 'application/json', 'X-Vigie-Request': '1'},
                    body: JSON.stringify({incident_id: id, action: 'ack'})})).status""",
                incident.incident_id,
            )
            assert status == 403
        finally:
            browser.close()
    assert read_all(stack, topics["incident-acks"], want=1, timeout_s=3) == []
