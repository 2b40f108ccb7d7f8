"""The wire shapes: what the API answers and the stream carries (SPEC.md §2, §5), described once.

The formatters (messaging.formatting, rooms.formatting) return these; the DRF output serializers
document them in the OpenAPI schema and events/proto/chat.proto mirrors them for the stream, field
by field (tests/kernel/test_shapes.py checks that the three agree). Ids are strings, timestamps ISO
8601 strings; a `NotRequired` key is left out when it has no value (proto: unset).

No `from __future__ import annotations` here: TypedDict reads NotRequired only from real annotations
(Python 3.11).
"""

from typing import NotRequired, TypedDict


class Sender(TypedDict):
    id: str
    name: str
    avatar: str
    phone: str


class Mention(TypedDict):
    tag: str
    user: str


class Reaction(TypedDict):
    message_id: str
    reaction: str
    user: Sender
    created_at: str | None


class MessageData(TypedDict):
    id: str
    room_id: str
    sender: Sender
    content: str
    reply: NotRequired["MessageData"]
    forward_id: NotRequired[str]
    forwarded_from: NotRequired[Sender]
    mentions: list[Mention]
    status: str
    created_at: str | None
    updated_at: str | None
    type: str
    edited: bool
    is_deleted: bool
    audio_transcription: NotRequired[str]
    lifetime: int
    location_name: str
    location_latitude: NotRequired[float]
    location_longitude: NotRequired[float]
    origin: str
    contact_id: str
    contact_name: str
    contact_phone: str
    file: str
    reactions: list[Reaction]
    event: str
    sender_message_id: str
    text: str


class RoomParticipant(TypedDict):
    id: str
    name: str
    phone: str
    avatar: str
    role: str
    is_muted: bool
    is_pinned: bool
    is_partner_blocked: bool
    joined_at: str | None
    removed_at: str | None


class RoomBase(TypedDict):
    """A Room without its live fields (unread_count, last_message): what the room cache keeps."""

    id: str
    name: str
    description: str
    photo_url: str
    encryption_data: str
    type: str
    role: str
    join_all_user: bool
    last_message_at: str | None
    send_message: bool
    add_member: bool
    edit_group: bool
    created_at: str | None
    updated_at: str | None
    partner: RoomParticipant | None
    participants: list[RoomParticipant]
    is_partner_blocked: bool
    is_muted: bool
    is_pinned: bool


class Room(RoomBase):
    unread_count: int
    last_message: MessageData | None


class StatusUpdate(TypedDict):
    message_id: str
    status: str
    updated_at: str | None
    user_id: str
    sender_id: str


class RoomJoin(TypedDict):
    user_id: str
    joined_at: str | None
    display_name: str
    owner_user_id: str


class RoomLeave(TypedDict):
    users_id: list[str]
    left_at: str | None
    reason: str


class Typing(TypedDict):
    user_id: str
    is_typing: bool
    updated_at: str | None


class ErrorEvent(TypedDict):
    code: str
    message: str
    details: str


class MessageReader(TypedDict):
    """One reader of a message (GetMessageRead)."""

    user_id: str
    user_name: str
    user_avatar: str
    user_phone: str
    read_at: str | None


class SyncSummary(TypedDict):
    rooms_synced: int
    rooms_deleted: int
    messages_synced: int
    sync_duration_ms: int


class SyncData(TypedDict):
    """InitialSync's answer."""

    rooms: list[Room]
    rooms_deleted: list[str]
    messages: list[MessageData]
    sync_timestamp: str | None
    summary: SyncSummary
