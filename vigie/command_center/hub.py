"""Decoded records into the board, shared safely between the consumer thread and readers.

The :class:`Hub` takes raw Kafka keys and values (so it is tested without a broker),
decodes them with the shared serde, updates the :class:`~.board.Board` under a lock and
tells listeners which incident changed. A record that does not decode is counted and
skipped: the command center keeps showing everything else.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from vigie.command_center.board import Board, EventIndex, EventSummary
from vigie.core.serde import (
    INCIDENT,
    INCIDENT_ACK,
    NORMALIZED_EVENT,
    AvroDeserializer,
    SerdeError,
    record_to_ack,
    record_to_event,
    record_to_incident,
)

log = logging.getLogger(__name__)

Listener = Callable[[str], None]
_T = TypeVar("_T")


@dataclass
class Hub:
    """The live board plus the events index, fed by a :class:`~.kafka_io.Follower`."""

    decoder: AvroDeserializer
    board: Board = field(default_factory=Board)
    events: EventIndex = field(default_factory=EventIndex)
    rejected: int = 0
    state: str = "connecting"
    lock: threading.Lock = field(default_factory=threading.Lock)
    _listeners: list[Listener] = field(default_factory=list)
    #: event_id -> incident_id, so an event arriving after its incident refreshes its view.
    _owner: dict[str, str] = field(default_factory=dict)

    def listen(self, listener: Listener) -> None:
        """Call ``listener(incident_id)`` after each change (``""`` for a state change)."""
        self._listeners.append(listener)

    def set_state(self, state: str) -> None:
        """Record the connection state and tell listeners when it changes."""
        if state != self.state:
            self.state = state
            self._notify("")

    def on_incident(self, key: bytes | None, value: bytes | None) -> None:
        """A record of the incidents topic; a tombstone removes the incident."""
        if value is None:
            if key is not None:
                with self.lock:
                    removed = self.board.incidents.pop(key.decode(errors="replace"), None)
                    for event_id in removed.event_ids if removed is not None else ():
                        self._owner.pop(event_id, None)
                if removed is not None:
                    self._notify(removed.incident_id)
            return
        incident = self._decode(value, INCIDENT, record_to_incident)
        if incident is not None:
            with self.lock:
                changed = self.board.apply_incident(incident)
                if changed:
                    for event_id in incident.event_ids:
                        self._owner[event_id] = incident.incident_id
            if changed:
                self._notify(incident.incident_id)

    def on_ack(self, _key: bytes | None, value: bytes | None) -> None:
        """A record of the acks topic."""
        if value is None:
            return
        ack = self._decode(value, INCIDENT_ACK, record_to_ack)
        if ack is not None:
            with self.lock:
                changed = self.board.apply_ack(ack)
            if changed:
                self._notify(ack.incident_id)

    def on_event(self, _key: bytes | None, value: bytes | None) -> None:
        """A normalised event, remembered (bounded) for evidence timelines and context."""
        if value is None:
            return
        event = self._decode(value, NORMALIZED_EVENT, record_to_event)
        if event is not None:
            with self.lock:
                self.events.add(EventSummary.of(event))
                owner = self._owner.get(event.event_id)
            if owner is not None:
                self._notify(owner)

    def _decode(self, value: bytes, reader: str, convert: Callable[[Any], _T]) -> _T | None:
        try:
            return convert(self.decoder.deserialize(value, reader=reader).record)
        except SerdeError as exc:
            self.rejected += 1
            log.warning("skipped an undecodable %s record: %s", reader, exc.reason)
            return None

    def _notify(self, incident_id: str) -> None:
        for listener in list(self._listeners):
            listener(incident_id)
