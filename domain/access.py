"""Access checks: who may see a room or a message. Every refusal is the same 404 as an unknown id, so a
non-member learns nothing of what exists."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from domain.permissions import MemberPermission, check_member_permission
from kernel.errors import InvalidRequestData, NotFound
from storage import get_repository
from storage.records import ParticipantRecord, RoomRecord
from storage.records_messages import MessageRecord, MetaRecord

ROOM_NOT_FOUND = "Room not found."
MESSAGE_NOT_FOUND = "Message not found."


def room_access(*, room_id: uuid.UUID, user_id: int) -> tuple[RoomRecord, ParticipantRecord]:
    """The live room and the user's active participation; NotFound otherwise (existence is not revealed)."""
    found = get_repository().membership_get(room_id, user_id)
    if found is None:
        raise NotFound(ROOM_NOT_FOUND)
    return found


def room_access_with_permission(
    *, room_id: uuid.UUID, user_id: int, perm: MemberPermission
) -> tuple[RoomRecord, ParticipantRecord]:
    """room_access, then check_member_permission (403 for a MEMBER lacking `perm`)."""
    room, participant = room_access(room_id=room_id, user_id=user_id)
    check_member_permission(room, participant, perm)
    return room, participant


def is_room_member(*, room_id: uuid.UUID, user_id: int) -> bool:
    try:
        room_access(room_id=room_id, user_id=user_id)
    except NotFound:
        return False
    return True


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
    ids = list(dict.fromkeys(message_ids))
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
