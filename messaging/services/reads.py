"""MarkMessagesAsRead."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils import timezone

from domain.access import room_messages_access
from events.emit import emit
from messaging.services.common import status_update_event
from storage import get_repository
from storage.enums import MessageStatus


@dataclass(frozen=True)
class MarkReadResult:
    marked_count: int


def messages_mark_read(*, user_id: int, room_id: uuid.UUID, message_ids: Sequence[uuid.UUID]) -> MarkReadResult:
    """MarkMessagesAsRead: marks the given messages of the room, and every older unread message of the
    room, read by the caller.

    All ids must be messages of the room that the caller sees (deleted ones included), else 404 and
    nothing is marked.
    `marked_count` is how many of the caller's unread messages became read. One `status_update` READ
    per given message that someone else sent (a READ of one's own message would tell the sender's
    other devices that it was read by someone).
    """
    room, _, ids, messages = room_messages_access(room_id=room_id, user_id=user_id, message_ids=message_ids)
    repo = get_repository()
    up_to = max(m.created_at for m in messages.values())
    now = timezone.now()
    with repo.atomic():
        marked = repo.meta_mark_read(room_id=room.id, user_id=user_id, up_to=up_to, at=now)
        emit(
            [
                status_update_event(message=messages[i], status=str(MessageStatus.READ), user_id=user_id, at=now)
                for i in ids
                if messages[i].sender_id != user_id
            ]
        )
    return MarkReadResult(marked_count=marked)
