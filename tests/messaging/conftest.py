"""Fixtures of the messaging tests: rooms built straight in the database (as rooms.services would)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
from django.utils import timezone

from messaging.crypto import encryption_data_generate
from rooms.models import Participant, Role, Room, RoomType


def make_room(
    owner: Any,
    members: Sequence[Any] = (),
    *,
    type: str = RoomType.GROUP,
    name: str = "Group",
    **fields: Any,
) -> Room:
    """A room with `owner` as OWNER and `members` as MEMBERs, all joined now."""
    p2p_key = None
    if type == RoomType.P2P:
        low, high = sorted([owner.id, members[0].id])
        p2p_key = f"{low}:{high}"
        name = ""
    room = Room.objects.create(
        type=type,
        name=name,
        encryption_data=encryption_data_generate(),
        created_by=owner,
        p2p_key=p2p_key,
        **fields,
    )
    now = timezone.now()
    Participant.objects.create(room=room, user=owner, role=Role.OWNER, joined_at=now)
    for member in members:
        Participant.objects.create(room=room, user=member, role=Role.MEMBER, joined_at=now)
    return room


@pytest.fixture
def room_factory(db: None) -> Callable[..., Room]:
    return make_room
