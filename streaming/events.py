"""The one interface through which services emit events (DESIGN.md "Events" 1).

A service builds events with the helpers below and calls `emit()` inside its unit of work: the
events are written to the outbox with the service's rows, and handed to the publisher after commit.
Payloads are dicts with the field names of the protobuf `MessageEvent` (streaming/proto/chat.proto);
`emit()` checks each one encodes, so a malformed event fails the service, not the bridge.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from google.protobuf import json_format

from rooms.storage import get_repository
from rooms.storage.records import OutboxRecord
from streaming.proto import chat_pb2

ROOM_SUBJECT_PREFIX = "CHAT_EVENTS"
DIRECT_SUBJECT_PREFIX = "CHAT_DIRECT_EVENTS"

EVENT_TYPES = (
    "message",
    "status_update",
    "is_room_updated",
    "room_join",
    "room_leave",
    "typing",
    "error",
    "update_message",
    "delete_message",
    "connected",
)

# Called with the ids of the events of a unit of work, after it commits.
_after_commit_listeners: list[Callable[[list[uuid.UUID]], None]] = []
# Called with the events themselves, after commit (the publisher registers: no re-read of the outbox).
_after_commit_record_listeners: list[Callable[[list[OutboxRecord]], None]] = []


def room_subject(room_id: uuid.UUID | str) -> str:
    return f"{ROOM_SUBJECT_PREFIX}.{room_id}"


def direct_subject(user_id: int | str) -> str:
    return f"{DIRECT_SUBJECT_PREFIX}.{user_id}"


def encode_event(data: dict[str, Any]) -> chat_pb2.MessageEvent:
    """The protobuf MessageEvent of an event dict. Raises json_format.ParseError if malformed."""
    return json_format.ParseDict(data, chat_pb2.MessageEvent())


def build_event(
    *,
    event_type: str,
    value: Any,
    room_id: uuid.UUID | str,
    actor_user_id: int | str | None,
    subject: str | None = None,
    room: dict[str, Any] | None = None,
) -> OutboxRecord:
    """An event of `event_type` (a member of MessageEvent's oneof) for a room or a user's subject."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    event_id = uuid.uuid4()
    data: dict[str, Any] = {"event_id": str(event_id), "room_id": str(room_id), event_type: value}
    if room is not None:
        data["room"] = room
    encode_event(data)
    return OutboxRecord(
        event_id=event_id,
        subject=subject or room_subject(room_id),
        event_type=event_type,
        room_id=str(room_id),
        actor_user_id="" if actor_user_id is None else str(actor_user_id),
        data=data,
    )


def room_event(
    event_type: str, value: Any, *, room_id: uuid.UUID | str, actor_user_id: int | str | None
) -> OutboxRecord:
    """An event on the room's subject, seen by every member streaming the room."""
    return build_event(event_type=event_type, value=value, room_id=room_id, actor_user_id=actor_user_id)


def direct_event(
    event_type: str,
    value: Any,
    *,
    user_id: int | str,
    room_id: uuid.UUID | str,
    actor_user_id: int | str | None,
    room: dict[str, Any] | None = None,
) -> OutboxRecord:
    """An event on one user's direct subject (room_join: the user is not streaming the room yet)."""
    return build_event(
        event_type=event_type,
        value=value,
        room_id=room_id,
        actor_user_id=actor_user_id,
        subject=direct_subject(user_id),
        room=room,
    )


def emit(events: Sequence[OutboxRecord]) -> None:
    """Writes events to the outbox in the current unit of work; publishes them after it commits."""
    if not events:
        return
    repository = get_repository()
    repository.outbox_add(events)
    records = list(events)
    event_ids = [e.event_id for e in records]

    def _notify() -> None:
        for listener in list(_after_commit_listeners):
            listener(event_ids)
        for record_listener in list(_after_commit_record_listeners):
            record_listener(records)

    repository.on_commit(_notify)


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
