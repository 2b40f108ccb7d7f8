"""Reads of the messaging domain. Every function answers in a bounded number of queries."""

from __future__ import annotations

import uuid
from typing import Any

from messaging.formatting import messages_data
from rooms.storage import get_repository


def last_messages_for(*, room_ids: list[uuid.UUID], viewer_id: int) -> dict[uuid.UUID, dict[str, Any]]:
    """Per room, the newest message the viewer can see, formatted for the viewer (rooms with none absent)."""
    records = list(get_repository().last_messages(room_ids, viewer_id=viewer_id).values())
    return {m.room_id: data for m, data in zip(records, messages_data(records, viewer_id=viewer_id), strict=True)}


def unread_counts_for(*, user_id: int, room_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Per room (every given one), how many messages the user has not read."""
    return get_repository().unread_counts(user_id=user_id, room_ids=room_ids)
