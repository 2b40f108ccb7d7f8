"""Helpers of the storage contract suite: it runs on the back end of CHAT_STORAGE (each on a real server):

DATABASE_URL=... pytest tests/storage                                  # postgres
scripts/cassandra.sh start && CHAT_STORAGE=scylla DATABASE_URL=... pytest tests/storage   # scylla
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from storage import ChatRepository, get_repository
from storage.records import RoomDraft, RoomRecord
from storage.records_messages import MessageRecord


@pytest.fixture
def repo(db: None) -> ChatRepository:
    return get_repository()


@pytest.fixture
def users(user_factory: Any) -> Callable[..., list[Any]]:
    """users(n, **profile) → n new users (with profiles)."""

    def make(n: int, **profile: Any) -> list[Any]:
        return [user_factory(profile=profile or None) for _ in range(n)]

    return make


def room_draft(owner_id: int, *, type: str = "group", name: str = "Group", p2p_key: str | None = None) -> RoomDraft:
    return RoomDraft(
        type=type,
        name=name,
        description="",
        photo_url="",
        encryption_data="enc",
        send_message=True,
        add_member=False,
        edit_group=False,
        created_by_id=owner_id,
        p2p_key=p2p_key,
    )


def make_room(
    repo: ChatRepository,
    owner: Any,
    members: Sequence[Any] = (),
    *,
    type: str = "group",
    name: str = "Group",
    at: datetime | None = None,
) -> RoomRecord:
    """A room made through the repository: `owner` OWNER, `members` MEMBERs (p2p: keyed by the pair)."""
    p2p_key = None
    if type == "p2p":
        low, high = sorted((owner.id, members[0].id))
        p2p_key = f"{low}:{high}"
    roles = [(owner.id, "OWNER")] + [(m.id, "MEMBER") for m in members]
    with repo.atomic():
        return repo.room_insert(
            room_draft(owner.id, type=type, name="" if type == "p2p" else name, p2p_key=p2p_key),
            participants=roles,
            at=at or timezone.now(),
        )


def make_message(
    repo: ChatRepository,
    room: RoomRecord,
    sender: Any,
    *,
    text: str = "hello",
    at: datetime | None = None,
    sender_message_id: str = "",
    hidden_for: Sequence[Any] = (),
    type: str = "user_message",
) -> MessageRecord:
    """A message as SendMessage stores it: sent to the room's members (read by the sender, unread by
    the others), hidden from `hidden_for` (sender-blocked)."""
    at = at or timezone.now()
    message = MessageRecord(
        id=uuid.uuid4(),
        room_id=room.id,
        sender_id=sender.id,
        type=type,
        created_at=at,
        updated_at=at,
        content=f"c:{text}",
        text=text,
        sender_message_id=sender_message_id,
    )
    with repo.atomic():
        stored, _ = repo.message_create(message, hidden_for=[u.id for u in hidden_for])
        repo.room_last_message_set(room.id, message_id=message.id, at=at)
    return stored


def ago(**delta: float) -> datetime:
    return timezone.now() - timedelta(**delta)


def month_start(months_back: int) -> datetime:
    """Noon on the 15th, `months_back` months before this month (another time bucket)."""
    now = datetime.now(UTC)
    index = now.year * 12 + now.month - 1 - months_back
    return datetime(index // 12, index % 12 + 1, 15, 12, 0, tzinfo=UTC)
