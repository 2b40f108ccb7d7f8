"""Helpers shared by the message services: room keys, visibility, events, user ids."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings

from chatproject.errors import InvalidRequestData, NotFound
from chatproject.timefmt import iso
from messaging import crypto
from rooms.storage import get_repository
from rooms.storage.records import OutboxRecord, ParticipantRecord, RoomRecord
from rooms.storage.records_messages import MessageRecord, MetaRecord
from streaming.events import room_event

MESSAGE_NOT_FOUND = "Message not found."


def room_key(room: RoomRecord) -> crypto.RoomKey:
    """The room's AES key; a room whose encryption_data is broken is a server fault, not the client's.

    Unwrapped once per process and room (an AES decryption with the master key and a JSON parse per
    message otherwise): keyed by the room id, its encryption_data and the master key, so a changed
    encryption_data or master key is unwrapped afresh.
    """
    return _room_key_cached(room.id, room.encryption_data, settings.CHAT_MASTER_KEY, settings.CHAT_MASTER_IV)


@functools.lru_cache(maxsize=4096)
def _room_key_cached(room_id: uuid.UUID, encryption_data: str, master_key: bytes, master_iv: bytes) -> crypto.RoomKey:
    return crypto.encryption_data_unwrap(encryption_data)


def is_visible(message: MessageRecord, *, participant: ParticipantRecord, meta: MetaRecord | None) -> bool:
    """Whether an active member sees the message (a deleted one as a tombstone).

    A message sent to them (they have a meta row) is visible unless its sender is blocked or it was
    deleted for them alone (a deleted message's meta rows are all marked deleted, which hides nothing
    more than the deletion itself). A message without a meta row of theirs (system messages, messages
    from before they joined) is visible if it was created at or after their latest join.
    """
    if meta is None:
        return message.created_at >= participant.joined_at
    return not (meta.is_sender_blocked or (meta.is_deleted and not message.is_deleted))


def message_access(*, message_id: uuid.UUID, user_id: int) -> tuple[MessageRecord, RoomRecord, ParticipantRecord]:
    """The message, its room and the user's active participation; NotFound unless the user sees it."""
    from rooms.selectors import room_access

    repo = get_repository()
    message = repo.message_get(message_id)
    if message is None:
        raise NotFound(MESSAGE_NOT_FOUND)
    try:
        room, participant = room_access(room_id=message.room_id, user_id=user_id)
    except NotFound:
        raise NotFound(MESSAGE_NOT_FOUND) from None
    meta = repo.metas_for_user([message.id], user_id).get(message.id)
    if not is_visible(message, participant=participant, meta=meta):
        raise NotFound(MESSAGE_NOT_FOUND)
    return message, room, participant


def room_messages_access(
    *, room_id: uuid.UUID, user_id: int, message_ids: Iterable[uuid.UUID]
) -> tuple[RoomRecord, ParticipantRecord, list[uuid.UUID], dict[uuid.UUID, MessageRecord]]:
    """The room, the user's participation, the unique ids and their messages: 400 when no id is given,
    404 (naming the ids) unless every message is in the room and visible to the user."""
    from rooms.selectors import room_access

    ids = unique(message_ids)
    if not ids:
        raise InvalidRequestData("message_ids is required.", details={"message_ids": ["This list may not be empty."]})
    room, participant = room_access(room_id=room_id, user_id=user_id)
    repo = get_repository()
    messages = repo.messages_get_many(ids)
    metas = repo.metas_for_user(ids, user_id)
    missing = [
        i
        for i in ids
        if i not in messages
        or messages[i].room_id != room.id
        or not is_visible(messages[i], participant=participant, meta=metas.get(i))
    ]
    if missing:
        raise NotFound(MESSAGE_NOT_FOUND, details={"message_ids": [str(i) for i in missing]})
    return room, participant, ids, messages


def user_id_of(value: Any, *, field: str) -> int:
    """A user id given as an int or a numeric string (ids leave the service as strings)."""
    try:
        if isinstance(value, bool):
            raise ValueError
        user_id = int(str(value).strip())
    except (TypeError, ValueError):
        raise InvalidRequestData(f"{field} must be a user id.", details={field: ["Must be a user id."]}) from None
    return user_id


def status_update_event(*, message: MessageRecord, status: str, user_id: int, at: datetime) -> OutboxRecord:
    """A `status_update` room event: `user_id` changed the message's status to `status` at `at`."""
    return room_event(
        "status_update",
        {
            "message_id": str(message.id),
            "status": status,
            "updated_at": iso(at),
            "user_id": str(user_id),
            "sender_id": "" if message.sender_id is None else str(message.sender_id),
        },
        room_id=message.room_id,
        actor_user_id=user_id,
    )


def unique(values: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    return list(dict.fromkeys(values))
