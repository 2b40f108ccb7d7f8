"""EditMessage, DeleteMessage, ReactToMessage."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace

from django.utils import timezone

from domain import room_cache
from domain.access import MESSAGE_NOT_FOUND, message_access, room_messages_access
from domain.permissions import is_manager
from events.builders import room_event
from events.emit import emit
from kernel import crypto
from kernel.errors import InvalidRequestData, NotFound, PermissionDenied
from kernel.shapes import MessageData
from messaging.formatting import message_status
from messaging.selectors import message_data_for
from messaging.services.common import decrypted_text, room_key, unique
from storage import get_repository
from storage.records import OutboxRecord
from storage.records_messages import MessageRecord

MAX_REACTION_LENGTH = 64


@dataclass(frozen=True)
class EditResult:
    message: MessageData


@dataclass(frozen=True)
class DeleteResult:
    deleted_ids: list[uuid.UUID]


@dataclass(frozen=True)
class ReactResult:
    removed: bool


def _update_message_event(message: MessageRecord, *, actor_id: int) -> OutboxRecord:
    """`update_message` with the message as everyone sees it (statuses relative to no one: SENT)."""
    return room_event(
        "update_message", message_data_for(message, viewer_id=None), room_id=message.room_id, actor_user_id=actor_id
    )


def message_edit(*, user_id: int, message_id: uuid.UUID, new_content: str = "", new_text: str = "") -> EditResult:
    """EditMessage: the sender replaces a message's content (ciphertext) or text; sets `edited` and
    emits `update_message`. 404 unless the caller sees the message; 403 for others' and system messages."""
    if bool(new_content) == bool(new_text):
        raise InvalidRequestData(
            "Give exactly one of new_content or new_text.",
            details={"new_content": ["Give exactly one of new_content or new_text."]},
        )
    message, room, _ = message_access(message_id=message_id, user_id=user_id)
    if message.is_deleted:
        raise NotFound(MESSAGE_NOT_FOUND)
    if message.sender_id != user_id:
        raise PermissionDenied("Only the sender can edit a message.")
    if message.is_system:
        raise PermissionDenied("System messages cannot be edited.")
    key = room_key(room)
    if new_content:
        content, text = new_content, decrypted_text(new_content, key, field="new_content")
    else:
        content, text = crypto.content_encrypt(new_text, key), new_text
    repo = get_repository()
    with repo.atomic():
        edited = repo.message_edit(message.id, content=content, text=text, at=timezone.now())
        assert edited is not None
        data = message_data_for(edited, viewer_id=user_id)
        # Everyone else gets the message with the status it has for no one in particular (SENT).
        status = message_status(edited, viewer_id=None, viewer_meta=None, read_by_others=False)
        event_data: MessageData = {**data, "status": status}
        emit([room_event("update_message", event_data, room_id=edited.room_id, actor_user_id=user_id)])
    return EditResult(message=data)


def messages_delete(*, user_id: int, room_id: uuid.UUID, message_ids: Sequence[uuid.UUID]) -> DeleteResult:
    """DeleteMessage: soft-deletes messages of one room, all or none.

    404 if any id is not a message of the room the caller sees, 403 if the caller may not delete any of
    them (only the sender, or a room OWNER/ADMIN, may). Already deleted messages are accepted and left
    as they are. One `delete_message` event per newly deleted message; the room's last message moves
    to the newest one left.
    """
    room, participant, ids, messages = room_messages_access(room_id=room_id, user_id=user_id, message_ids=message_ids)
    manager = room.is_group and is_manager(participant)
    forbidden = [i for i in ids if messages[i].sender_id != user_id and not manager]
    if forbidden:
        raise PermissionDenied(
            "You may delete only your own messages.", details={"message_ids": [str(i) for i in forbidden]}
        )
    _soft_delete(room_id=room.id, last_message_id=room.last_message_id, messages=messages, actor_id=user_id)
    return DeleteResult(deleted_ids=[i for i in ids if not messages[i].is_deleted])


def _soft_delete(
    *, room_id: uuid.UUID, last_message_id: uuid.UUID | None, messages: dict[uuid.UUID, MessageRecord], actor_id: int
) -> None:
    """Soft-deletes the not yet deleted `messages` of one room, moves its last message if it was one of
    them, emits one `delete_message` per message, and drops the room's cache after commit."""
    to_delete = [i for i, m in messages.items() if not m.is_deleted]
    if not to_delete:
        return
    repo = get_repository()
    with repo.atomic():
        repo.messages_soft_delete(to_delete, at=timezone.now())
        if last_message_id in to_delete:
            last = repo.last_messages([room_id], viewer_id=None).get(room_id)
            repo.room_last_message_replace(
                room_id, message_id=last.id if last else None, at=last.created_at if last else None
            )
        emit([room_event("delete_message", str(i), room_id=room_id, actor_user_id=actor_id) for i in to_delete])
        repo.on_commit(lambda: room_cache.room_cache_invalidate(room_id))


def messages_moderate_delete(*, moderator_id: int, message_ids: Sequence[uuid.UUID]) -> DeleteResult:
    """Staff moderation (admin): soft-deletes messages of any rooms, as DeleteMessage does, events
    included. The caller must have checked that `moderator_id` is staff allowed to moderate."""
    repo = get_repository()
    messages = repo.messages_get_many(unique(message_ids))
    by_room: dict[uuid.UUID, dict[uuid.UUID, MessageRecord]] = {}
    for message in messages.values():
        by_room.setdefault(message.room_id, {})[message.id] = message
    rooms = repo.rooms_get(list(by_room))
    deleted: list[uuid.UUID] = []
    with repo.atomic():
        for room_id, room_messages in by_room.items():
            room = rooms.get(room_id)
            _soft_delete(
                room_id=room_id,
                last_message_id=room.last_message_id if room else None,
                messages=room_messages,
                actor_id=moderator_id,
            )
            deleted.extend(i for i, m in room_messages.items() if not m.is_deleted)
    return DeleteResult(deleted_ids=deleted)


def message_react(*, user_id: int, message_id: uuid.UUID, reaction: str) -> ReactResult:
    """ReactToMessage: sets the caller's one reaction to a message ("" removes it) and emits
    `update_message` with the message and its reactions, so clients redraw them."""
    if len(reaction) > MAX_REACTION_LENGTH:
        raise InvalidRequestData(
            "reaction is too long.", details={"reaction": [f"At most {MAX_REACTION_LENGTH} characters."]}
        )
    message, _, _ = message_access(message_id=message_id, user_id=user_id)
    if message.is_deleted:
        raise NotFound(MESSAGE_NOT_FOUND)
    repo = get_repository()
    now = timezone.now()
    with repo.atomic():
        if reaction:
            repo.reaction_set(message.id, user_id, reaction, at=now)
        else:
            repo.reaction_delete(message.id, user_id)
        repo.message_touch(message.id, at=now)  # InitialSync sends messages whose reactions changed
        emit([_update_message_event(replace(message, updated_at=now), actor_id=user_id)])
    return ReactResult(removed=not reaction)
