"""Sample incidents and acks for the command center's unit tests."""

from __future__ import annotations

import dataclasses
from typing import Any

from vigie.core.events import (
    AckAction,
    Incident,
    IncidentAck,
    IncidentContext,
    LinkEvidence,
    Source,
    Status,
)

T0 = 1_780_000_000_000  # 2026-05-28T20:26:40Z


def incident(**changes: Any) -> Incident:
    base = Incident(
        incident_id="inc-1",
        version=1,
        status=Status.OPEN,
        category="shooting",
        severity=4,
        confidence=0.8,
        first_event_time=T0,
        last_event_time=T0 + 60_000,
        created_at=T0 + 61_000,
        updated_at=T0 + 61_000,
        lon=5.3698,
        lat=43.2965,
        sector="13201",
        sources=(Source.POLICE, Source.CAMERA),
        kinds=("call_shots", "gunshot"),
        event_ids=("ev-b", "ev-a"),
        links=(LinkEvidence("ev-a", "ev-b", "shots_call_camera", 120.0, 60_000),),
        context=IncidentContext(affected_lines=("M1",), permits=("permit-1",)),
        explanation="camera gunshot confirmed by a police call",
    )
    return dataclasses.replace(base, **changes)


def ack(**changes: Any) -> IncidentAck:
    base = IncidentAck(
        ack_id="00000000-0000-4000-8000-000000000001",
        incident_id="inc-1",
        action=AckAction.ACK,
        operator="alice",
        at=T0 + 120_000,
    )
    return dataclasses.replace(base, **changes)
