"""Wrong configuration is refused with a message that names the setting to fix."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from vigie.cli.main import main
from vigie.config import ConfigError, Settings, load_settings
from vigie.stack.kafka import KafkaBroker
from vigie.stack.process import StackError

pytestmark = pytest.mark.unit


def test_two_services_on_one_port_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIE_KAFKA_PORT", "19092")
    monkeypatch.setenv("VIGIE_CLICKHOUSE_PORT", "19092")
    load_settings.cache_clear()
    try:
        clash = "VIGIE_CLICKHOUSE_PORT and VIGIE_KAFKA_PORT are both 19092"
        with pytest.raises(ConfigError, match=clash):
            load_settings()
    finally:
        load_settings.cache_clear()


def test_bad_port_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIE_KAFKA_PORT", "not-a-port")
    load_settings.cache_clear()
    try:
        with pytest.raises(ConfigError, match="VIGIE_KAFKA_PORT"):
            load_settings()
    finally:
        load_settings.cache_clear()


def test_a_fusion_wait_shorter_than_a_watermark_delay_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIGIE_FUSION_AHEAD_S", "600")
    load_settings.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"VIGIE_FUSION_AHEAD_S=600 .* \(3600 s\)"):
            load_settings()
        monkeypatch.setenv("VIGIE_FUSION_AHEAD_S", "0")  # never wait: allowed
        load_settings.cache_clear()
        assert load_settings().fusion_ahead_s == 0
    finally:
        load_settings.cache_clear()


def test_cli_prints_config_errors_without_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VIGIE_KAFKA_PORT", "70000")
    load_settings.cache_clear()
    try:
        assert main(["stack", "status"]) == 2
    finally:
        load_settings.cache_clear()
    err = capsys.readouterr().err
    assert err.startswith("vigie: error: invalid configuration: VIGIE_KAFKA_PORT")
    assert "Traceback" not in err


def test_production_profile_refuses_to_run_without_a_key() -> None:
    settings = Settings(profile="production")
    with pytest.raises(ConfigError, match="VIGIE_PSEUDONYM_KEY"):
        settings.pseudonym_key_bytes()


def test_key_file_is_read_and_stripped(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(b"0123456789abcdef0123456789abcdef\n")
    settings = Settings(profile="production", pseudonym_key_file=key_file)
    assert settings.pseudonym_key_bytes() == b"0123456789abcdef0123456789abcdef"


def test_taken_port_is_refused_naming_the_setting(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = Settings(data_dir=tmp_path, kafka_port=port, kafka_controller_port=port + 1)
        with pytest.raises(StackError, match=f"port {port} .* VIGIE_KAFKA_PORT"):
            KafkaBroker(settings).start()
