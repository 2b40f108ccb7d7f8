"""Typing frames of clients: at most one per room per second (a stop right after a start passes),
published straight to JetStream with a short TTL (ephemeral: no outbox)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.utils import timezone
from nats.aio.client import Client

from events.builders import build_event
from events.subjects import typing_subject
from kernel.timefmt import iso
from streaming.envelope import MSG_ID_HEADER, encode_envelope
from streaming.jetstream import STREAM_NAME

TYPING_INTERVAL_SECONDS = 1.0
TYPING_TTL_SECONDS = 30


class TypingLimiter:
    """At most one typing frame per room per interval; a change from typing to not typing passes."""

    def __init__(self, interval: float = TYPING_INTERVAL_SECONDS) -> None:
        self.interval = interval
        self._last: dict[str, tuple[float, bool]] = {}

    def allow(self, room_id: str, is_typing: bool) -> bool:
        now = time.monotonic()
        previous = self._last.get(room_id)
        if previous is not None:
            at, was_typing = previous
            stopping = was_typing and not is_typing
            if now - at < self.interval and not stopping:
                return False
        self._last[room_id] = (now, is_typing)
        return True


def parse_typing(value: Any) -> tuple[uuid.UUID, bool] | None:
    """The (room_id, is_typing) of a client typing frame, or None if malformed."""
    if not isinstance(value, dict):
        return None
    try:
        room_id = uuid.UUID(str(value.get("room_id")))
    except ValueError:
        return None
    return room_id, bool(value.get("is_typing"))


async def typing_publish(nc: Client, *, user_id: int, room_id: uuid.UUID, is_typing: bool) -> None:
    """Publishes a `typing` event on the room's typing subject, straight to JetStream (no outbox: it
    is ephemeral, with a short TTL). The bridge hands it to the room's group outside the room
    subject's chain; it is never replayed, and it never pushes stored events out of retention."""
    record = build_event(
        event_type="typing",
        value={"user_id": str(user_id), "is_typing": is_typing, "updated_at": iso(timezone.now())},
        room_id=room_id,
        actor_user_id=user_id,
    )
    await nc.jetstream().publish(
        typing_subject(room_id),
        encode_envelope(actor_user_id=record.actor_user_id, data=record.data),
        stream=STREAM_NAME,
        headers={MSG_ID_HEADER: str(record.event_id)},
        msg_ttl=TYPING_TTL_SECONDS,
        timeout=2.0,
    )
