"""JetStream subjects of the chat's events (SPEC.md §5): one per room, one per user (direct)."""

from __future__ import annotations

import uuid

ROOM_SUBJECT_PREFIX = "CHAT_EVENTS"
DIRECT_SUBJECT_PREFIX = "CHAT_DIRECT_EVENTS"
# Typing events of a room: a subject of their own, so that these ephemeral events (short TTL, never
# replayed) neither count towards the room subject's retention limit nor hide its trimming.
TYPING_SUBJECT_PREFIX = "CHAT_TYPING"


def room_subject(room_id: uuid.UUID | str) -> str:
    return f"{ROOM_SUBJECT_PREFIX}.{room_id}"


def direct_subject(user_id: int | str) -> str:
    return f"{DIRECT_SUBJECT_PREFIX}.{user_id}"


def typing_subject(room_id: uuid.UUID | str) -> str:
    return f"{TYPING_SUBJECT_PREFIX}.{room_id}"


def is_room_subject(subject: str) -> bool:
    return subject.startswith(ROOM_SUBJECT_PREFIX + ".")
