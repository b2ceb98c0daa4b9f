"""``vigie connect``: summary output and the errors a user sees (no Kafka: --dry-run)."""

from __future__ import annotations

import json

import pytest
from feed_support import SAMPLES

from vigie.cli.main import main
from vigie.config import load_settings

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("VIGIE_PROFILE", raising=False)
    load_settings.cache_clear()
    yield
    load_settings.cache_clear()


def test_file_dry_run_prints_json_summary(capsys, tmp_path):
    path = tmp_path / "calls.csv"
    path.write_bytes((SAMPLES / "police_calls.csv").read_bytes() + b"P9,UFO,,1,,,,,,,,\n")
    assert main(["connect", "police", "--file", str(path), "--dry-run", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["read"] == 5 and summary["produced"] == 4
    assert summary["rejected_by_reason"] == {"unknown_code": 1}


def test_watch_once_remembers_files(capsys, tmp_path):
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "e.jsonl").write_bytes((SAMPLES / "camera_events.jsonl").read_bytes())
    args = ["connect", "camera", "--watch", str(inbox), "--once", "--dry-run"]
    args += ["--cameras", str(SAMPLES / "cameras.csv"), "--state", str(tmp_path / "s.jsonl")]
    assert main(args) == 0
    assert main(args) == 0
    first, second = capsys.readouterr().out.splitlines()[::2]
    assert first == "camera: 1 payload(s), 4 read, 4 produced, 0 rejected"
    assert second == "camera: 0 payload(s), 0 read, 0 produced, 0 rejected"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--file", "/nonexistent/calls.csv"], "no such file"),
        (["--watch", "/nonexistent"], "no such folder"),
        (["--url", "ftp://example.org/x"], "http"),
    ],
)
def test_user_errors_exit_2_with_one_line(capsys, args, message):
    assert main(["connect", "police", *args, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vigie: error:") and message in err


def test_production_profile_refuses_to_run_without_a_key(capsys, monkeypatch):
    monkeypatch.setenv("VIGIE_PROFILE", "production")
    monkeypatch.delenv("VIGIE_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("VIGIE_PSEUDONYM_KEY_FILE", raising=False)
    load_settings.cache_clear()
    path = str(SAMPLES / "police_calls.csv")
    assert main(["connect", "police", "--file", path, "--dry-run"]) == 2
    assert "pseudonymisation key" in capsys.readouterr().err
