"""Reads of rooms and participants. Every function answers in a bounded number of queries."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TypedDict

from django.utils import timezone

from domain import room_cache
from domain.access import ROOM_NOT_FOUND, room_access
from kernel.errors import NotFound
from kernel.pagination import Page
from kernel.shapes import MessageData, Room, RoomBase, RoomParticipant, SyncData
from kernel.timefmt import iso
from messaging import selectors as message_selectors
from rooms.formatting import PARTICIPANTS_PREVIEW, participant_format, room_format_base, room_with_live_fields
from storage import get_repository, users
from storage.records import ParticipantRecord, RoomPageQuery, RoomRecord

__all__ = [
    "active_participants",
    "room_for_user",
    "room_ids_for_user",
    "room_list",
    "room_participants",
    "rooms_for_user",
    "user_directory",
    "user_me",
]


def room_ids_for_user(*, user_id: int) -> list[uuid.UUID]:
    """The live rooms the user is an active participant of."""
    return get_repository().room_ids_for_user(user_id)


def active_participants(*, room_id: uuid.UUID) -> list[ParticipantRecord]:
    """The room's active participants, oldest first."""
    return get_repository().participants_active(room_id)


def _bases_for_user(
    user_id: int, room_ids: Sequence[uuid.UUID], *, rooms: dict[uuid.UUID, RoomRecord] | None = None
) -> dict[uuid.UUID, RoomBase]:
    """The formatted bases of the rooms the user is an active member of: cache first, misses in bulk.

    A cached entry exists only under the room's current version, and every membership change bumps
    it, so a hit also proves membership.
    """
    versions = room_cache.room_versions(room_ids)
    bases = room_cache.room_bases_get(user_id, versions)
    missing = [r for r in room_ids if r not in bases]
    if missing:
        bases_new = bases_build(user_id, missing, rooms=rooms)
        room_cache.room_bases_set(user_id, versions, bases_new)
        bases.update(bases_new)
    return bases


def bases_build(
    user_id: int, room_ids: Sequence[uuid.UUID], *, rooms: dict[uuid.UUID, RoomRecord] | None = None
) -> dict[uuid.UUID, RoomBase]:
    """The formatted bases, from storage (two queries at most), of the rooms the user is active in."""
    repo = get_repository()
    if rooms is None or any(r not in rooms for r in room_ids):
        rooms = repo.rooms_get(room_ids)
    preview = repo.participants_preview(room_ids, viewer_id=user_id, limit=PARTICIPANTS_PREVIEW)
    bases: dict[uuid.UUID, RoomBase] = {}
    for room_id in room_ids:
        room = rooms.get(room_id)
        members = preview.get(room_id, [])
        viewer = next((m for m in members if m.user_id == user_id), None)
        if room is None or viewer is None or not viewer.is_active:
            continue
        bases[room_id] = room_format_base(room, viewer=viewer, others=[m for m in members if m.user_id != user_id])
    return bases


def _latest(*values: str | None) -> str | None:
    present = [v for v in values if v]
    return max(present, key=datetime.fromisoformat) if present else None


def _complete(
    user_id: int,
    bases: dict[uuid.UUID, RoomBase],
    *,
    last_message_at: dict[uuid.UUID, datetime | None] | None = None,
    last_messages: dict[uuid.UUID, MessageData] | None = None,
) -> dict[uuid.UUID, Room]:
    """Adds the live fields (unread_count, last_message, last_message_at), fresh, in bulk
    (`last_messages`: already formatted by the caller, per room)."""
    room_ids = list(bases)
    if not room_ids:
        return {}
    if last_messages is None:
        last_messages = message_selectors.last_messages_for(room_ids=room_ids, viewer_id=user_id)
    unread = message_selectors.unread_counts_for(user_id=user_id, room_ids=room_ids)
    patched = room_cache.room_last_message_times(room_ids) if last_message_at is None else {}
    rooms: dict[uuid.UUID, Room] = {}
    for room_id, base in bases.items():
        last = last_messages.get(room_id)
        if last_message_at is not None and room_id in last_message_at:
            at: datetime | str | None = last_message_at[room_id]
        else:
            at = _latest(base.get("last_message_at"), patched.get(room_id), last["created_at"] if last else None)
        rooms[room_id] = room_with_live_fields(
            base, unread_count=unread.get(room_id, 0), last_message=last, last_message_at=at
        )
    return rooms


def room_for_user(*, room_id: uuid.UUID, user_id: int) -> Room:
    """The formatted Room as this user sees it; NotFound unless the user is an active member."""
    bases = _bases_for_user(user_id, [room_id])
    if room_id not in bases:
        raise NotFound(ROOM_NOT_FOUND)
    return _complete(user_id, bases)[room_id]


def rooms_for_user(*, user_id: int, room_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Room]:
    """The formatted Rooms the user is an active member of among `room_ids` (others left out), in bulk."""
    return _complete(user_id, _bases_for_user(user_id, list(dict.fromkeys(room_ids))))


def room_format_uncached(*, room_id: uuid.UUID, user_id: int) -> Room:
    """The formatted Room straight from storage, bypassing the cache (for events built inside a write)."""
    bases = bases_build(user_id, [room_id])
    if room_id not in bases:
        raise NotFound(ROOM_NOT_FOUND)
    return _complete(user_id, bases)[room_id]


def room_list(
    *, user_id: int, page: Page, search: str = "", room_type: str = "", since: datetime | None = None
) -> tuple[list[Room], int]:
    """GetRooms: one page of the user's rooms, formatted, and the total. Bounded queries for any page size."""
    rows, total = get_repository().rooms_page_for_user(
        RoomPageQuery(
            user_id=user_id,
            offset=page.offset,
            limit=page.limit,
            search=search.strip(),
            type=room_type,
            since=since,
        )
    )
    room_ids = [room.id for room, _ in rows]
    records = {room.id: room for room, _ in rows}
    bases = _bases_for_user(user_id, room_ids, rooms=records)
    rooms = _complete(user_id, bases, last_message_at={room.id: room.last_message_at for room, _ in rows})
    return [rooms[r] for r in room_ids if r in rooms], total


def room_participants(
    *, room_id: uuid.UUID, user_id: int, page: Page, search: str = ""
) -> tuple[list[RoomParticipant], int]:
    """GetRoomParticipants: one page of the room's active participants (members only)."""
    room_access(room_id=room_id, user_id=user_id)
    participants, total = get_repository().participants_page(
        room_id, search=search.strip(), offset=page.offset, limit=page.limit
    )
    return [participant_format(p) for p in participants], total


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_MESSAGES_PER_ROOM = 20
MAX_MESSAGES_PER_ROOM = 100


# --- InitialSync ---------------------------------------------------------------------------------


def initial_sync(
    *, user_id: int, last_sync_timestamp: datetime | None, messages_per_room: int = DEFAULT_MESSAGES_PER_ROOM
) -> SyncData:
    """InitialSync: what changed for the user since `last_sync_timestamp` (everything when None).

    - rooms: the user's rooms whose room, membership or last message changed since, formatted;
    - rooms_deleted: ids of rooms the user left or that were deleted since;
    - messages: per room of the user, the newest `messages_per_room` messages created or changed
      (edited, deleted) since, newest first per room, deleted ones as tombstones;
    - sync_timestamp: when this sync started; pass it as the next last_sync_timestamp.
    """
    started = time.monotonic()
    sync_at = timezone.now()
    since = last_sync_timestamp or EPOCH
    per_room = max(1, min(messages_per_room, MAX_MESSAGES_PER_ROOM))
    repo = get_repository()

    changes = repo.sync_rooms(user_id=user_id, since=since)
    bases = _bases_for_user(user_id, list(dict.fromkeys(changes.changed_room_ids)))
    last_records = repo.last_messages(list(bases), viewer_id=user_id)
    by_room = repo.messages_since(
        room_ids=room_ids_for_user(user_id=user_id), viewer_id=user_id, since=since, per_room=per_room
    )
    records = [m for room_messages in by_room.values() for m in room_messages]
    # A room's last message is most often among the synced ones: each message is formatted once.
    shown = list({m.id: m for m in [*records, *last_records.values()]}.values())
    data = dict(zip([m.id for m in shown], message_selectors.messages_data(shown, viewer_id=user_id), strict=True))
    formatted = _complete(user_id, bases, last_messages={r: data[m.id] for r, m in last_records.items()})
    rooms = [formatted[r] for r in changes.changed_room_ids if r in formatted]
    messages = [data[m.id] for m in records]
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


# --- users -----------------------------------------------------------------------------------------


class DirectoryUser(TypedDict):
    id: str
    name: str
    avatar: str


class DirectoryUserContact(DirectoryUser, total=False):
    """Contact fields: only for users who share a room with the caller, and only when set."""

    phone: str
    email: str


class Me(TypedDict):
    id: str
    username: str
    name: str
    avatar: str
    phone: str
    email: str


def _directory_entry(account: users.UserAccount, *, room_mate: bool) -> DirectoryUserContact:
    entry: DirectoryUserContact = {"id": str(account.id), "name": account.name, "avatar": account.avatar}
    if room_mate:
        if account.phone:
            entry["phone"] = account.phone
        if account.email:
            entry["email"] = account.email
    return entry


def user_directory(*, user_id: int, page: Page, search: str = "") -> tuple[list[DirectoryUserContact], int]:
    """GetUsers: one page of the other active users (the caller left out) by name then id, and the
    total; contact fields only for those who share a live room with the caller (three queries)."""
    accounts, total = users.directory_page(search=search, excluding=user_id, offset=page.offset, limit=page.limit)
    mates = get_repository().users_sharing_room(user_id, [a.id for a in accounts])
    return [_directory_entry(a, room_mate=a.id in mates) for a in accounts], total


def user_me(*, user_id: int) -> Me:
    """GetMe: the caller's own record, contact fields included."""
    account = users.account_get(user_id)
    if account is None:  # deleted while its session or token was in use
        raise NotFound("No such user.")
    return {
        "id": str(account.id),
        "username": account.username,
        "name": account.name,
        "avatar": account.avatar,
        "phone": account.phone,
        "email": account.email,
    }
