"""Reads the live stream needs, on top of the rooms selectors (sync: consumers wrap them in
database_sync_to_async). Storage only through the repository and the rooms selectors."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.utils import timezone

from domain.access import message_access, room_access
from kernel.errors import NotFound
from kernel.shapes import Room
from rooms.selectors import active_participants, room_for_user, room_ids_for_user
from storage import get_repository
from storage.records import RoomRecord


def stream_room_ids(*, user_id: int, room_id: uuid.UUID | None = None) -> list[uuid.UUID]:
    """The rooms a connection streams: `room_id` alone (NotFound unless the user is an active member
    of it), or every room of the user."""
    if room_id is not None:
        room_access(room_id=room_id, user_id=user_id)
        return [room_id]
    return room_ids_for_user(user_id=user_id)


def stream_membership(*, user_id: int, room_id: uuid.UUID) -> tuple[datetime, bool] | None:
    """The user's latest join of the room and whether it is p2p; None unless an active member."""
    found = get_repository().membership_get(room_id, user_id)
    if found is None:
        return None
    room, participant = found
    return participant.joined_at, room.is_p2p


def message_visible(*, user_id: int, message_id: uuid.UUID) -> bool:
    """Whether REST would show the user the message (GetMessage's rule)."""
    try:
        message_access(message_id=message_id, user_id=user_id)
    except NotFound:
        return False
    return True


def left_room_ids(*, user_id: int, within_seconds: float) -> list[uuid.UUID]:
    """Rooms the user left (or that were deleted) in the last `within_seconds` and is not back in: a
    reconnect replays their events up to the user's own `room_leave`. One query when there are none
    (a reconnect's usual case)."""
    since = timezone.now() - timedelta(seconds=within_seconds)
    gone = get_repository().rooms_gone_since(user_id=user_id, since=since)
    if not gone:
        return []
    current = set(room_ids_for_user(user_id=user_id))
    return [room_id for room_id in gone if room_id not in current]


def stream_room(*, user_id: int, room_id: uuid.UUID) -> Room | None:
    """The formatted Room as the user sees it, or None when the user is not (any more) a member."""
    try:
        return room_for_user(room_id=room_id, user_id=user_id)
    except NotFound:
        return None


def push_audience(*, room_id: uuid.UUID) -> tuple[RoomRecord, list[tuple[int, bool]]] | None:
    """The room and its active participants as (user id, muted the room), for push; None if the
    room is gone."""
    room = get_repository().room_get(room_id)
    if room is None:
        return None
    return room, [(p.user_id, p.is_muted) for p in active_participants(room_id=room_id)]


def push_recipients(*, room_id: uuid.UUID, sender_id: int | None) -> tuple[RoomRecord, list[int]] | None:
    """The room and who may get a push of a message in it: active participants who have not muted the
    room, minus the sender (SPEC.md §4; in p2p that leaves the partner). None if the room is gone."""
    found = push_audience(room_id=room_id)
    if found is None:
        return None
    room, members = found
    return room, [user_id for user_id, muted in members if not muted and user_id != sender_id]
