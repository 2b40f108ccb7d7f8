"""Reads of the messaging domain. Every function answers in a bounded number of queries."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from chatproject.errors import InvalidRequestData, NotFound, PermissionDenied
from chatproject.pagination import Page
from chatproject.timefmt import iso
from messaging.formatting import message_status, messages_data, reaction_data
from messaging.services.common import MESSAGE_NOT_FOUND, message_access
from rooms.storage import get_repository
from rooms.storage.records_messages import MessageCursor, MessageWindow

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_MESSAGES_PER_ROOM = 20
MAX_MESSAGES_PER_ROOM = 100


# --- used by rooms (room lists, GetRoom) ---------------------------------------------------------


def last_messages_for(*, room_ids: list[uuid.UUID], viewer_id: int) -> dict[uuid.UUID, dict[str, Any]]:
    """Per room, the newest message the viewer can see, formatted for the viewer (rooms with none absent)."""
    records = list(get_repository().last_messages(room_ids, viewer_id=viewer_id).values())
    return {m.room_id: data for m, data in zip(records, messages_data(records, viewer_id=viewer_id), strict=True)}


def unread_counts_for(*, user_id: int, room_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Per room (every given one), how many messages the user has not read."""
    return get_repository().unread_counts(user_id=user_id, room_ids=room_ids)


# --- GetMessageHistory ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryQuery:
    page: Page
    before_message_id: uuid.UUID | None = None
    after_message_id: uuid.UUID | None = None
    before_date: datetime | None = None
    after_date: datetime | None = None


def message_history(*, room_id: uuid.UUID, user_id: int, query: HistoryQuery) -> tuple[list[dict[str, Any]], int]:
    """GetMessageHistory: a page of the room's messages the caller can see, newest first, and their total.

    The caller sees the messages sent to them (while they were a member) and those created since their
    latest join (system messages included), except deleted ones and ones from a sender they blocked;
    messages sent while they were not a member stay hidden. `before_message_id` pages back without gaps
    or repeats while new messages arrive. With only after-bounds (after_message_id / after_date) the page
    holds the OLDEST messages after the bound (still listed newest first), so paging forward skips nothing.
    """
    from rooms.selectors import room_access

    room, participant = room_access(room_id=room_id, user_id=user_id)
    repo = get_repository()
    cursor_ids = [i for i in (query.before_message_id, query.after_message_id) if i is not None]
    cursors = repo.messages_get_many(cursor_ids) if cursor_ids else {}

    def cursor(message_id: uuid.UUID | None, field: str) -> MessageCursor | None:
        if message_id is None:
            return None
        found = cursors.get(message_id)
        if found is None or found.room_id != room.id:
            raise InvalidRequestData(f"{field} is not a message of this room.", details={field: ["Not in this room."]})
        return MessageCursor(created_at=found.created_at, id=found.id)

    window = MessageWindow(
        room_id=room.id,
        viewer_id=user_id,
        visible_from=participant.joined_at,
        before=cursor(query.before_message_id, "before_message_id"),
        after=cursor(query.after_message_id, "after_message_id"),
        before_date=query.before_date,
        after_date=query.after_date,
    )
    oldest_first = (window.after is not None or window.after_date is not None) and (
        window.before is None and window.before_date is None
    )
    records = repo.messages_page(window, limit=query.page.limit, offset=query.page.offset, oldest_first=oldest_first)
    if oldest_first:
        records.reverse()
    total = repo.messages_count(window)
    return messages_data(records, viewer_id=user_id), total


# --- single messages -----------------------------------------------------------------------------


def message_for_user(*, message_id: uuid.UUID, user_id: int) -> dict[str, Any]:
    """GetMessage: the MessageData, for an active member of its room who can see it (else 404).
    A deleted message is returned as such (is_deleted, no content)."""
    message, _, _ = message_access(message_id=message_id, user_id=user_id)
    return messages_data([message], viewer_id=user_id)[0]


def sender_message_status(*, user_id: int, sender_message_id: str) -> str:
    """GetSenderMessage: the status of the caller's own message with this client id (else 404)."""
    repo = get_repository()
    message = repo.message_get_by_sender_message_id(user_id, sender_message_id)
    if message is None:
        raise NotFound(MESSAGE_NOT_FOUND)
    return message_status(
        message, viewer_id=user_id, viewer_meta=None, read_by_others=bool(repo.messages_read_by_others([message.id]))
    )


def _own_message(*, message_id: uuid.UUID, user_id: int) -> uuid.UUID:
    message, _, _ = message_access(message_id=message_id, user_id=user_id)
    if message.sender_id != user_id:
        raise PermissionDenied("Only the sender can see this.")
    return message.id


def message_readers(*, message_id: uuid.UUID, user_id: int, page: Page) -> tuple[list[dict[str, Any]], int]:
    """GetMessageRead: who (other than the sender) read the caller's message and when; sender only."""
    own_id = _own_message(message_id=message_id, user_id=user_id)
    repo = get_repository()
    metas, total = repo.message_readers(own_id, exclude_user_id=user_id, limit=page.limit, offset=page.offset)
    users = repo.users_get({m.user_id for m in metas}) if metas else {}
    items = []
    for meta in metas:
        user = users.get(meta.user_id)
        items.append(
            {
                "user_id": str(meta.user_id),
                "user_name": user.name if user else "",
                "user_avatar": user.avatar if user else "",
                "user_phone": user.phone if user else "",
                "read_at": iso(meta.read_at),
            }
        )
    return items, total


def message_reactions(*, message_id: uuid.UUID, user_id: int, page: Page) -> tuple[list[dict[str, Any]], int]:
    """GetMessageReactions: the reactions to the caller's message, oldest first; sender only."""
    own_id = _own_message(message_id=message_id, user_id=user_id)
    repo = get_repository()
    reactions, total = repo.reactions_page(own_id, limit=page.limit, offset=page.offset)
    users = repo.users_get({r.user_id for r in reactions}) if reactions else {}
    return [reaction_data(r, users.get(r.user_id)) for r in reactions], total


# --- InitialSync ---------------------------------------------------------------------------------


def initial_sync(
    *, user_id: int, last_sync_timestamp: datetime | None, messages_per_room: int = DEFAULT_MESSAGES_PER_ROOM
) -> dict[str, Any]:
    """InitialSync: what changed for the user since `last_sync_timestamp` (everything when None).

    - rooms: the user's rooms whose room, membership or last message changed since, formatted;
    - rooms_deleted: ids of rooms the user left or that were deleted since;
    - messages: per room of the user, the newest `messages_per_room` messages created or changed
      (edited, deleted) since, newest first per room, deleted ones as tombstones;
    - sync_timestamp: when this sync started; pass it as the next last_sync_timestamp.
    """
    from rooms.selectors import room_ids_for_user, rooms_for_user

    started = time.monotonic()
    sync_at = timezone.now()
    since = last_sync_timestamp or EPOCH
    per_room = max(1, min(messages_per_room, MAX_MESSAGES_PER_ROOM))
    repo = get_repository()

    changes = repo.sync_rooms(user_id=user_id, since=since)
    formatted = rooms_for_user(user_id=user_id, room_ids=changes.changed_room_ids)
    rooms = [formatted[r] for r in changes.changed_room_ids if r in formatted]
    by_room = repo.messages_since(
        room_ids=room_ids_for_user(user_id=user_id), viewer_id=user_id, since=since, per_room=per_room
    )
    records = [m for room_messages in by_room.values() for m in room_messages]
    messages = messages_data(records, viewer_id=user_id)
    rooms_deleted = [str(r) for r in dict.fromkeys(changes.gone_room_ids)]
    return {
        "rooms": rooms,
        "rooms_deleted": rooms_deleted,
        "messages": messages,
        "sync_timestamp": iso(sync_at),
        "summary": {
            "rooms_synced": len(rooms),
            "rooms_deleted": len(rooms_deleted),
            "messages_synced": len(messages),
            "sync_duration_ms": int((time.monotonic() - started) * 1000),
        },
    }
