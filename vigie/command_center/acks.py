"""Acknowledgement requests checked and turned into ``IncidentAck`` records.

The page and ``vigie ack`` both go through :func:`build_ack`, so the same rules hold for
both: a known action, an incident id, an assignee exactly when assigning, short free text
without control characters (it ends up on a screen and in ClickHouse). The time and the
ack id are passed in so the function stays pure.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from vigie.core.events import AckAction, IncidentAck
from vigie.errors import VigieError

MAX_ID = 128
MAX_NAME = 64
MAX_NOTE = 500
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class AckError(VigieError):
    """An acknowledgement request is invalid; the message says which field and why."""


@dataclass(frozen=True, slots=True)
class AckRequest:
    """What an operator asks for, as typed in the page or on the command line."""

    incident_id: str
    action: str = "ack"
    assignee: str | None = None
    note: str | None = None


def build_ack(request: AckRequest, *, operator: str, at_ms: int, ack_id: str) -> IncidentAck:
    """A valid :class:`IncidentAck` from ``request``, or :class:`AckError`."""
    incident_id = request.incident_id.strip()
    if not incident_id:
        msg = "incident_id is empty"
        raise AckError(msg)
    if len(incident_id) > MAX_ID or not _ID.match(incident_id):
        msg = "incident_id must be letters, digits and . _ : - (128 at most)"
        raise AckError(msg)
    try:
        action = AckAction(request.action.strip().lower())
    except ValueError as exc:
        msg = f"action must be one of {', '.join(a.value for a in AckAction)}"
        raise AckError(msg) from exc
    assignee = _text(request.assignee, "assignee", MAX_NAME)
    if action is AckAction.ASSIGN and assignee is None:
        msg = "assign needs an assignee (the unit or person taking the incident)"
        raise AckError(msg)
    if action is not AckAction.ASSIGN and assignee is not None:
        msg = f"only assign takes an assignee, not {action.value}"
        raise AckError(msg)
    login = _text(operator, "operator", MAX_NAME)
    if login is None:
        msg = "operator is empty"
        raise AckError(msg)
    if at_ms <= 0:
        msg = "the acknowledgement time must be a positive epoch-millisecond instant"
        raise AckError(msg)
    try:
        canonical_id = str(uuid.UUID(ack_id))
    except ValueError as exc:
        msg = "ack_id must be a UUID"
        raise AckError(msg) from exc
    return IncidentAck(
        ack_id=canonical_id,
        incident_id=incident_id,
        action=action,
        operator=login,
        at=at_ms,
        assignee=assignee,
        note=_text(request.note, "note", MAX_NOTE),
    )


def _text(value: str | None, name: str, limit: int) -> str | None:
    """Stripped text, None when blank; refuses control characters and overlong values."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if len(text) > limit:
        msg = f"{name} is longer than {limit} characters"
        raise AckError(msg)
    if _CONTROL.search(text):
        msg = f"{name} contains control characters"
        raise AckError(msg)
    return text
