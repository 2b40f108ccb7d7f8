"""The room cache (SPEC.md §7): used, and never stale — any change is visible at once."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from domain import room_cache
from messaging.services.reads import messages_mark_read
from messaging.services.send import SendRequest, message_send
from rooms import services
from storage import get_repository

LIST = "/api/chat/v1/room/list"


def _get_room(client, room_id) -> dict:  # type: ignore[no-untyped-def]
    response = client.get(f"/api/chat/v1/room/{room_id}")
    assert response.status_code == 200, response.content
    return response.json()["room"]


def _listed(client, room_id) -> dict:  # type: ignore[no-untyped-def]
    return next(r for r in client.get(LIST).json()["items"] if r["id"] == str(room_id))


@pytest.mark.django_db
def test_a_warm_cache_saves_queries(api, user_factory, make_group) -> None:
    owner, member = user_factory(), user_factory()
    room_id = make_group(owner, member)
    client = api(member)

    with CaptureQueriesContext(connection) as cold:
        _get_room(client, room_id)
    with CaptureQueriesContext(connection) as warm:
        _get_room(client, room_id)

    assert len(warm) < len(cold)
    assert room_cache.room_bases_get(member.id, room_cache.room_versions([room_id]))  # an entry exists


@pytest.mark.django_db
def test_room_changes_are_visible_at_once(api, user_factory, make_group) -> None:
    owner, member, newcomer = user_factory(), user_factory(), user_factory()
    room_id = make_group(owner, member, name="Before")
    client = api(member)
    _get_room(client, room_id), _listed(client, room_id)  # warm both paths

    api(owner).put("/api/chat/v1/room/update", {"id": str(room_id), "name": "After"}, format="json")
    assert _get_room(client, room_id)["name"] == "After"
    assert _listed(client, room_id)["name"] == "After"

    services.room_participant_role_set(user_id=owner.id, room_id=room_id, participant_id=member.id, role="ADMIN")
    assert _get_room(client, room_id)["role"] == "ADMIN"
    assert _listed(client, room_id)["role"] == "ADMIN"

    services.room_participants_add(user_id=owner.id, room_id=room_id, participant_ids=[newcomer.id])
    assert str(newcomer.id) in {p["id"] for p in _get_room(client, room_id)["participants"]}

    client.post("/api/chat/v1/room/pin", {"id": str(room_id)}, format="json")
    assert _get_room(client, room_id)["is_pinned"] is True
    assert _listed(client, room_id)["is_pinned"] is True


@pytest.mark.django_db
def test_unread_count_and_last_message_are_never_stale(api, user_factory, make_group) -> None:
    owner, member = user_factory(), user_factory()
    room_id = make_group(owner, member)
    client = api(member)
    assert _get_room(client, room_id)["unread_count"] == 0
    assert _listed(client, room_id)["last_message"] is None

    sent = message_send(user_id=owner.id, request=SendRequest(room_id=room_id, text="news"))
    message_id = uuid.UUID(sent.message["id"])

    for room in (_get_room(client, room_id), _listed(client, room_id)):
        assert room["unread_count"] == 1
        assert room["last_message"]["text"] == "news"
        assert room["last_message_at"] == room["last_message"]["created_at"]

    messages_mark_read(user_id=member.id, room_id=room_id, message_ids=[message_id])
    assert _get_room(client, room_id)["unread_count"] == 0
    assert _listed(client, room_id)["unread_count"] == 0


@pytest.mark.django_db
def test_a_removed_member_is_not_served_from_the_cache(api, user_factory, make_group) -> None:
    owner, member = user_factory(), user_factory()
    room_id = make_group(owner, member)
    client = api(member)
    _get_room(client, room_id)

    services.room_leave(user_id=owner.id, room_id=room_id, participant_ids=[member.id])

    assert client.get(f"/api/chat/v1/room/{room_id}").status_code == 404
    assert client.get(LIST).json()["items"] == []


@pytest.mark.django_db
def test_new_message_patches_the_cached_last_message_time(api, user_factory, make_group) -> None:
    owner, member = user_factory(), user_factory()
    room_id = make_group(owner, member)
    client = api(member)
    _get_room(client, room_id)

    room_cache.room_cache_on_new_message(room_id, {"created_at": "2099-01-01T00:00:00Z"})
    room_cache.room_cache_on_new_message(room_id, {"created_at": "2098-01-01T00:00:00Z"})  # older: ignored

    assert _get_room(client, room_id)["last_message_at"] == "2099-01-01T00:00:00Z"


@pytest.mark.django_db
def test_invalidation_happens_now_and_again_after_commit(user_factory, make_group, django_capture_on_commit_callbacks):
    owner, member = user_factory(), user_factory()
    room_id = make_group(owner, member)
    first = room_cache.room_versions([room_id])[room_id]

    with django_capture_on_commit_callbacks(execute=True), get_repository().atomic():
        room_cache.room_cache_invalidate(room_id)
        during = room_cache.room_versions([room_id])[room_id]

    after = room_cache.room_versions([room_id])[room_id]
    assert len({first, during, after}) == 3
