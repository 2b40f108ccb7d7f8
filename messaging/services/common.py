"""Helpers shared by the message services: room keys, events, user ids."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings

from events.builders import room_event
from kernel import crypto, limits
from kernel.errors import InvalidRequestData
from kernel.timefmt import iso
from storage.records import OutboxRecord, RoomRecord
from storage.records_messages import MessageRecord


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


def decrypted_text(content: str, key: crypto.RoomKey, *, field: str) -> str:
    """The text of a client's ciphertext, held to the text's length limit (what it decrypts to is
    what the event carries beside it)."""
    text = crypto.content_decrypt(content, key)
    if len(text) > limits.MESSAGE_TEXT_MAX_CHARS:
        raise InvalidRequestData(
            f"{field} decrypts to more than {limits.MESSAGE_TEXT_MAX_CHARS} characters.",
            details={field: [f"At most {limits.MESSAGE_TEXT_MAX_CHARS} characters of text."]},
        )
    return text


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
