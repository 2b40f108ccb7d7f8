"""Helpers of the messaging tests: rooms made through the rooms services, sends through the API,
outbox and row counts to prove that a refused request changed nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from rest_framework.test import APIClient

from rooms import services as room_services
from storage.records import OutboxRecord, RoomRecord
from tests import storage_probe as probe


def make_room(
    owner: Any, members: Sequence[Any] = (), *, type: str = "group", name: str = "Group", **perms: Any
) -> RoomRecord:
    """A room made by CreateRoom's service: `owner` is OWNER, `members` MEMBERs (p2p: one member)."""
    result = room_services.room_create(
        user_id=owner.id,
        room_type=type,
        participant_ids=[m.id for m in members],
        name=name if type != "p2p" else "",
        **perms,
    )
    return probe.room(result.room["id"])


@pytest.fixture
def room_factory(db: None) -> Callable[..., RoomRecord]:
    return make_room


def post(client: APIClient, path: str, body: dict[str, Any]) -> Any:
    return client.post(f"/api/chat/v1/{path}", body, format="json")


def send(client: APIClient, room: RoomRecord | uuid.UUID, text: str = "hello", **fields: Any) -> dict[str, Any]:
    """Sends through the API and returns the stored MessageData (asserting success)."""
    room_id = room.id if isinstance(room, RoomRecord) else room
    response = post(client, "send", {"room_id": str(room_id), "text": text, **fields})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True
    return body["message"]


def last_outbox_id() -> int:
    return probe.outbox_marker()


def outbox_since(marker: int) -> list[OutboxRecord]:
    return probe.outbox_since(marker)


def snapshot() -> dict[str, Any]:
    """Everything a messaging operation may write: compare before/after a refused request."""
    return probe.snapshot()


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    assert set(body) == {"code", "message", "details"}
    return body
