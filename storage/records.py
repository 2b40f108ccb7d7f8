"""Domain records that storage repositories return (never ORM or cqlengine objects)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class UserRecord:
    id: int
    name: str
    phone: str = ""
    avatar: str = ""


def p2p_key_of(user_a: int, user_b: int) -> str:
    """The key of a pair's p2p room: "<low user id>:<high user id>" (RoomRecord.p2p_key)."""
    low, high = sorted((user_a, user_b))
    return f"{low}:{high}"


@dataclass(frozen=True)
class RoomRecord:
    id: uuid.UUID
    type: str
    name: str
    description: str
    photo_url: str
    encryption_data: str
    join_all_user: bool
    send_message: bool
    add_member: bool
    edit_group: bool
    created_by_id: int | None
    last_message_id: uuid.UUID | None
    last_message_at: datetime | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    # p2p rooms only: "<low user id>:<high user id>" (cleared when the room is deleted).
    p2p_key: str | None = None

    @property
    def is_p2p(self) -> bool:
        return self.type == "p2p"

    @property
    def is_group(self) -> bool:
        return self.type != "p2p"


@dataclass(frozen=True)
class ParticipantRecord:
    room_id: uuid.UUID
    user: UserRecord
    role: str
    is_muted: bool
    is_pinned: bool
    is_partner_blocked: bool
    joined_at: datetime
    removed_at: datetime | None = None

    @property
    def user_id(self) -> int:
        return self.user.id

    @property
    def is_active(self) -> bool:
        return self.removed_at is None


@dataclass(frozen=True)
class RoomDraft:
    """A room to insert (RoomStore.room_insert)."""

    type: str
    name: str
    description: str
    photo_url: str
    encryption_data: str
    send_message: bool
    add_member: bool
    edit_group: bool
    created_by_id: int
    p2p_key: str | None = None


@dataclass(frozen=True)
class RoomPageQuery:
    """What GetRooms asks for: one page of a user's active rooms (RoomStore.rooms_page_for_user)."""

    user_id: int
    offset: int
    limit: int
    search: str = ""
    type: str = ""
    since: datetime | None = None


@dataclass(frozen=True)
class StaffRoomQuery:
    """What the staff's room list asks for (RoomStore.rooms_for_staff): every room, not one user's."""

    offset: int
    limit: int
    search: str = ""
    type: str = ""
    # None: deleted and live rooms alike.
    deleted: bool | None = None


# An unpublished event whose next try is further away than this is dead-lettered (it can never be
# published as it is: streaming/publisher.py schedules it a century away); it holds nothing back.
DEAD_LETTER_HORIZON = timedelta(days=3650)


@dataclass(frozen=True)
class OutboxRecord:
    """One event waiting to be (or already) published to JetStream."""

    event_id: uuid.UUID
    subject: str
    event_type: str
    room_id: str
    actor_user_id: str
    data: dict[str, Any]
    created_at: datetime | None = None
    published_at: datetime | None = None
    attempts: int = 0
    id: int | None = field(default=None, compare=False)
    # When the next try is due (None: at once); set by a failed publish.
    next_attempt_at: datetime | None = field(default=None, compare=False)
    # The protobuf bytes of `data`, when the event's builder made them (events.builders): the publisher
    # sends them instead of encoding `data` again. Not stored: an event read from the outbox has none.
    payload: bytes | None = field(default=None, compare=False, repr=False)

    def waiting(self, now: datetime) -> bool:
        """Whether the event is in back-off at `now` (not due for a try yet)."""
        return self.next_attempt_at is not None and self.next_attempt_at > now
