"""Event builders: the outbox records of MessageEvents (DESIGN.md "Events" 1).

Payloads are dicts with the field names of the protobuf `MessageEvent` (events/proto/chat.proto);
each builder checks its event encodes, so a malformed event fails the service, not the bridge.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from google.protobuf import json_format

from events.proto import chat_pb2
from events.subjects import direct_subject, room_subject
from kernel import limits
from kernel.errors import PayloadTooLarge
from kernel.shapes import ErrorEvent, MessageData, Room, RoomJoin, RoomLeave, StatusUpdate, Typing
from storage.records import OutboxRecord

# The value of one member of MessageEvent's `oneof event` (is_room_updated and connected: bool,
# delete_message: the message id).
EventValue = MessageData | StatusUpdate | RoomJoin | RoomLeave | Typing | ErrorEvent | bool | str

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


def encode_event(data: dict[str, Any]) -> chat_pb2.MessageEvent:
    """The protobuf MessageEvent of an event dict. Raises json_format.ParseError if malformed."""
    return json_format.ParseDict(data, chat_pb2.MessageEvent())


def envelope_size(payload_bytes: int, actor_user_id: object) -> int:
    """The bytes of the JetStream envelope of a payload (streaming.envelope.encode_envelope):
    `{"user_id":"<actor>","payload":"<base64>"}`."""
    return 4 * math.ceil(payload_bytes / 3) + len(str(actor_user_id or "")) + len('{"user_id":"","payload":""}')


def build_event(
    *,
    event_type: str,
    value: EventValue,
    room_id: uuid.UUID | str,
    actor_user_id: int | str | None,
    subject: str | None = None,
    room: Room | None = None,
) -> OutboxRecord:
    """An event of `event_type` (a member of MessageEvent's oneof) for a room or a user's subject."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    event_id = uuid.uuid4()
    data: dict[str, Any] = {"event_id": str(event_id), "room_id": str(room_id), event_type: value}
    if room is not None:
        data["room"] = room
    payload = encode_event(data).SerializeToString()  # once: the publisher sends these bytes
    size = envelope_size(len(payload), actor_user_id)
    if size > limits.EVENT_MAX_BYTES:  # refused before anything is stored: it could never be published
        raise PayloadTooLarge(
            f"This change would make a {event_type} event of {size} bytes; events are at most "
            f"{limits.EVENT_MAX_BYTES} bytes.",
            details={"event": [f"{size} bytes, at most {limits.EVENT_MAX_BYTES}."]},
        )
    return OutboxRecord(
        event_id=event_id,
        subject=subject or room_subject(room_id),
        event_type=event_type,
        room_id=str(room_id),
        actor_user_id="" if actor_user_id is None else str(actor_user_id),
        data=data,
        payload=payload,
    )


def room_event(
    event_type: str, value: EventValue, *, room_id: uuid.UUID | str, actor_user_id: int | str | None
) -> OutboxRecord:
    """An event on the room's subject, seen by every member streaming the room."""
    return build_event(event_type=event_type, value=value, room_id=room_id, actor_user_id=actor_user_id)


def direct_event(
    event_type: str,
    value: EventValue,
    *,
    user_id: int | str,
    room_id: uuid.UUID | str,
    actor_user_id: int | str | None,
    room: Room | None = None,
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
