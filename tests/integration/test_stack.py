"""The local stack reports health truthfully and recovers from a killed broker."""

from __future__ import annotations

import pytest

from vigie.cli.main import main
from vigie.config import Settings
from vigie.stack.stack import LocalStack

pytestmark = pytest.mark.integration


def _states(settings: Settings) -> dict[str, str]:
    return {s.name: s.state for s in LocalStack(settings).status()}


def test_status_reports_every_component_healthy(stack: Settings) -> None:
    statuses = LocalStack(stack).status()
    assert {s.name for s in statuses} == {"kafka", "clickhouse", "flink"}
    assert all(s.healthy for s in statuses), statuses
    assert main(["stack", "status"]) == 0


def test_second_up_is_a_no_op(stack: Settings) -> None:
    assert LocalStack(stack).up() == []


def test_killed_broker_shows_down_and_up_restores_it(stack: Settings) -> None:
    local = LocalStack(stack)
    local.kafka.process.kill()
    assert _states(stack)["kafka"] == "down"
    assert main(["stack", "status"]) == 1
    assert local.up() == ["kafka"]
    assert _states(stack)["kafka"] == "up"


def test_logs_of_unknown_component_is_refused(stack: Settings) -> None:
    with pytest.raises(SystemExit):
        main(["stack", "logs", "zookeeper"])
