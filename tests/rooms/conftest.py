"""Helpers of the room tests: rooms made through the services, outbox look-ups."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from rooms import services
from storage.records import OutboxRecord
from tests import storage_probe as probe


@pytest.fixture
def make_group(db: None) -> Callable[..., uuid.UUID]:
    """make_group(owner, *members, name=..., **permissions) → the id of a group made by CreateRoom's service."""

    def make(owner: Any, *members: Any, name: str = "Group", **permissions: bool) -> uuid.UUID:
        result = services.room_create(
            user_id=owner.id,
            room_type="group",
            participant_ids=[m.id for m in members],
            name=name,
            **permissions,
        )
        return uuid.UUID(result.room["id"])

    return make


@pytest.fixture
def make_p2p(db: None) -> Callable[[Any, Any], uuid.UUID]:
    def make(user: Any, partner: Any) -> uuid.UUID:
        result = services.room_create(user_id=user.id, room_type="p2p", participant_ids=[partner.id])
        return uuid.UUID(result.room["id"])

    return make


def outbox(**filters: Any) -> list[OutboxRecord]:
    return probe.outbox(**filters)


def outbox_types(room_id: uuid.UUID) -> list[str]:
    return [e.event_type for e in outbox(room_id=str(room_id))]


_SHARED_ENCRYPTION_DATA: list[str] = []


@pytest.fixture(autouse=True)
def _one_room_key(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rooms share one wrapped key (scrypt costs ~90 ms a room), unless the test module sets
    REAL_ROOM_KEYS = True (the tests of CreateRoom's encryption data)."""
    if getattr(request.module, "REAL_ROOM_KEYS", False):
        return
    from kernel.crypto import encryption_data_generate

    if not _SHARED_ENCRYPTION_DATA:
        _SHARED_ENCRYPTION_DATA.append(encryption_data_generate())
    monkeypatch.setattr("rooms.services.create.encryption_data_generate", lambda: _SHARED_ENCRYPTION_DATA[0])
