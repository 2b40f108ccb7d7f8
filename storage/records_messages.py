"""Domain records of the messaging part of storage (messages, meta, reactions, mentions).

Repositories return these frozen dataclasses, never ORM or cqlengine objects.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class MessageRecord:
    """One message. `content` is the ciphertext of SPEC.md §6, `text` the decrypted text."""

    id: uuid.UUID
    room_id: uuid.UUID
    sender_id: int | None
    type: str
    created_at: datetime
    updated_at: datetime
    content: str = ""
    text: str = ""
    event: str = ""
    sender_message_id: str = ""
    status: str = "SENT"
    reply_to_id: uuid.UUID | None = None
    forwarded_from_id: uuid.UUID | None = None
    lifetime: int = 0
    origin: str = ""
    location_name: str = ""
    location_latitude: float | None = None
    location_longitude: float | None = None
    contact_id: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    file: str = ""
    audio_transcription: str = ""
    edited: bool = False
    is_deleted: bool = False
    deleted_at: datetime | None = None

    @property
    def is_system(self) -> bool:
        return self.type == "system_message"


@dataclass(frozen=True)
class MetaRecord:
    """The state of one message for one participant (message_status_by_user)."""

    message_id: uuid.UUID
    room_id: uuid.UUID
    user_id: int
    read_at: datetime | None = None
    is_deleted: bool = False
    is_sender_blocked: bool = False

    @property
    def is_hidden(self) -> bool:
        """Hidden from this user: deleted for them, or sent by a user they blocked."""
        return self.is_deleted or self.is_sender_blocked


@dataclass(frozen=True)
class ReactionRecord:
    message_id: uuid.UUID
    user_id: int
    reaction: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class MentionRecord:
    message_id: uuid.UUID
    user_id: int
    tag: str


@dataclass(frozen=True)
class MessageCursor:
    """A position in a room's timeline: messages are ordered by (created_at, id), newest first."""

    created_at: datetime
    id: uuid.UUID


@dataclass(frozen=True)
class MessageWindow:
    """Which of a room's messages one viewer asks for (GetMessageHistory's filters).

    A message is in the window when it is not deleted, not hidden for the viewer by their meta row
    (sender blocked, or deleted for them), was sent to the viewer (they have a meta row of it) or
    created at or after `visible_from` (their latest join time), and is inside the optional cursor
    and date bounds (all exclusive).
    """

    room_id: uuid.UUID
    viewer_id: int
    visible_from: datetime | None = None
    before: MessageCursor | None = None
    after: MessageCursor | None = None
    before_date: datetime | None = None
    after_date: datetime | None = None


@dataclass(frozen=True)
class StaffMessageQuery:
    """What the staff's message list of one room asks for (MessageStore.messages_for_staff): the
    messages as stored, whoever may see them."""

    room_id: uuid.UUID
    offset: int
    limit: int
    search: str = ""
    # None: deleted and live messages alike.
    deleted: bool | None = None


@dataclass(frozen=True)
class SyncRooms:
    """Rooms of a user that changed since a time (InitialSync)."""

    changed_room_ids: list[uuid.UUID]
    gone_room_ids: list[uuid.UUID]
