"""The one interface through which services emit events (DESIGN.md "Events" 1).

A service builds events with events.builders and calls `emit()` inside its unit of work: the events
are written to the outbox with the service's rows, and handed to the listeners (the publisher) after
the unit of work commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from storage import get_repository
from storage.records import OutboxRecord

# Called with the ids of the events of a unit of work, after it commits.
_after_commit_listeners: list[Callable[[list[uuid.UUID]], None]] = []
# Called with the events themselves, after commit (the publisher registers: no re-read of the outbox).
_after_commit_record_listeners: list[Callable[[list[OutboxRecord]], None]] = []


def emit(events: Sequence[OutboxRecord]) -> None:
    """Writes events to the outbox in the current unit of work; publishes them after it commits."""
    if not events:
        return
    get_repository().outbox_add(events)
    emitted(events)


def emitted(events: Sequence[OutboxRecord]) -> None:
    """Publishes, after the current unit of work commits (at once outside one), events a repository
    call has written to the outbox itself, with its rows (ChatRepository.message_send_store)."""
    if not events:
        return
    records = list(events)
    event_ids = [e.event_id for e in records]

    def _notify() -> None:
        for listener in list(_after_commit_listeners):
            listener(event_ids)
        for record_listener in list(_after_commit_record_listeners):
            record_listener(records)

    get_repository().on_commit(_notify)


def add_after_commit_listener(listener: Callable[[list[uuid.UUID]], None]) -> None:
    if listener not in _after_commit_listeners:
        _after_commit_listeners.append(listener)


def remove_after_commit_listener(listener: Callable[[list[uuid.UUID]], None]) -> None:
    if listener in _after_commit_listeners:
        _after_commit_listeners.remove(listener)


def add_after_commit_record_listener(listener: Callable[[list[OutboxRecord]], None]) -> None:
    """Like add_after_commit_listener, with the events themselves (they are committed when it runs)."""
    if listener not in _after_commit_record_listeners:
        _after_commit_record_listeners.append(listener)


def remove_after_commit_record_listener(listener: Callable[[list[OutboxRecord]], None]) -> None:
    if listener in _after_commit_record_listeners:
        _after_commit_record_listeners.remove(listener)
