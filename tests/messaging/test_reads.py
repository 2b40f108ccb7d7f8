"""MarkMessagesAsRead, GetMessageRead, GetMessageReactions, GetSenderMessage, and the room's
unread_count / last_message after sends, reads and deletes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from events.builders import encode_event
from rooms import services as room_services
from tests import storage_probe as probe
from tests.messaging.conftest import assert_error, last_outbox_id, make_room, outbox_since, post, send, snapshot

pytestmark = pytest.mark.django_db


def room_of(client: Any, room_id: uuid.UUID) -> dict[str, Any]:
    response = client.get(f"/api/chat/v1/room/{room_id}")
    assert response.status_code == 200, response.content
    return response.json()["room"]


def test_mark_as_read_marks_older_messages_and_emits_one_read_per_given_id(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    sent = [send(api(alice), room, f"m{i}") for i in range(4)]
    own = send(api(bob), room, "bob's own")
    newest = send(api(alice), room, "newest")
    marker = last_outbox_id()

    response = post(api(bob), "mark_as_read", {"room_id": str(room.id), "message_ids": [sent[2]["id"], own["id"]]})

    assert response.status_code == 200 and response.json() == {"success": True, "marked_count": 4}
    unread = {m.message_id for m in probe.metas(user_id=bob.id, read_at=None)}
    assert unread == {uuid.UUID(newest["id"])}
    events = outbox_since(marker)
    assert [e.event_type for e in events] == ["status_update"]
    update = events[0].data["status_update"]
    assert update["message_id"] == sent[2]["id"] and update["status"] == "READ"
    assert update["user_id"] == str(bob.id) and update["sender_id"] == str(alice.id) and update["updated_at"]
    assert events[0].room_id == str(room.id) and events[0].subject == f"CHAT_EVENTS.{room.id}"
    encode_event(events[0].data)
    assert room_of(api(bob), room.id)["unread_count"] == 1

    # Again: nothing left to mark, the events still say READ.
    again = post(api(bob), "mark_as_read", {"room_id": str(room.id), "message_ids": [sent[2]["id"]]})
    assert again.json()["marked_count"] == 0


def test_mark_as_read_is_all_or_nothing(api, user_factory) -> None:
    alice, bob, eve = user_factory(), user_factory(), user_factory()
    room, other = make_room(alice, [bob]), make_room(alice, [bob], name="other")
    mine = send(api(alice), room, "here")
    elsewhere = send(api(alice), other, "elsewhere")
    before = snapshot()
    for message_ids in ([mine["id"], elsewhere["id"]], [mine["id"], str(uuid.uuid4())]):
        body = {"room_id": str(room.id), "message_ids": message_ids}
        assert_error(post(api(bob), "mark_as_read", body), 404, "not_found")
    body = {"room_id": str(room.id), "message_ids": [mine["id"]]}
    assert_error(post(api(eve), "mark_as_read", body), 404, "not_found")
    assert_error(
        post(api(bob), "mark_as_read", {"room_id": str(room.id), "message_ids": []}), 400, "invalid_request_data"
    )
    assert_error(post(api(bob), "mark_as_read", {"message_ids": [mine["id"]]}), 400, "invalid_request_data")
    assert snapshot() == before


def test_a_message_from_before_joining_cannot_be_marked_read(api, user_factory) -> None:
    alice, bob, late = user_factory(), user_factory(), user_factory()
    room = make_room(alice, [bob])
    earlier = send(api(alice), room, "before late joined")
    room_services.room_participants_add(user_id=alice.id, room_id=room.id, participant_ids=[late.id])
    before = snapshot()
    body = {"room_id": str(room.id), "message_ids": [earlier["id"]]}
    response = post(api(late), "mark_as_read", body)
    assert_error(response, 404, "not_found")
    assert response.json()["details"] == {"message_ids": [earlier["id"]]}
    assert snapshot() == before


def test_room_unread_count_and_last_message_follow_sends_reads_and_deletes(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    assert room_of(api(bob), room.id)["unread_count"] == 0  # caches the room's base for bob
    first = send(api(alice), room, "one")
    second = send(api(alice), room, "two")

    bob_view = room_of(api(bob), room.id)
    assert bob_view["unread_count"] == 2 and bob_view["last_message"]["id"] == second["id"]
    assert bob_view["last_message_at"] == second["created_at"]
    assert room_of(api(alice), room.id)["unread_count"] == 0

    post(api(bob), "mark_as_read", {"room_id": str(room.id), "message_ids": [first["id"]]})
    assert room_of(api(bob), room.id)["unread_count"] == 1
    assert room_of(api(alice), room.id)["last_message"]["status"] == "SENT"  # two is unread
    post(api(alice), "delete", {"room_id": str(room.id), "message_ids": [second["id"]]})
    bob_view = room_of(api(bob), room.id)
    assert bob_view["unread_count"] == 0 and bob_view["last_message"]["id"] == first["id"]
    assert bob_view["last_message_at"] == first["created_at"]
    assert bob_view["last_message"]["status"] == "READ"
    listed = api(bob).get("/api/chat/v1/room/list").json()["items"]
    assert [(r["id"], r["unread_count"], r["last_message"]["id"]) for r in listed] == [(str(room.id), 0, first["id"])]


def test_message_readers_sender_only(api, user_factory) -> None:
    alice, bob, carol, eve = user_factory(), user_factory(), user_factory(), user_factory()
    room = make_room(alice, [bob, carol])
    message = send(api(alice), room, "who reads this?")
    post(api(carol), "mark_as_read", {"room_id": str(room.id), "message_ids": [message["id"]]})
    post(api(bob), "mark_as_read", {"room_id": str(room.id), "message_ids": [message["id"]]})

    body = api(alice).get(f"/api/chat/v1/message/{message['id']}/read").json()

    assert [i["user_id"] for i in body["items"]] == [str(carol.id), str(bob.id)]
    assert set(body["items"][0]) == {"user_id", "user_name", "user_avatar", "user_phone", "read_at"}
    assert body["items"][0]["user_name"] == f"Name {carol.username}"
    assert body["meta"]["total_items"] == 2
    paged = api(alice).get(f"/api/chat/v1/message/{message['id']}/read", {"limit": 1, "page": 2}).json()
    assert [i["user_id"] for i in paged["items"]] == [str(bob.id)]
    assert_error(api(bob).get(f"/api/chat/v1/message/{message['id']}/read"), 403, "permission_denied")
    assert_error(api(eve).get(f"/api/chat/v1/message/{message['id']}/read"), 404, "not_found")


def test_message_reactions_sender_only(api, user_factory) -> None:
    alice, bob, carol, eve = user_factory(), user_factory(), user_factory(), user_factory()
    room = make_room(alice, [bob, carol])
    message = send(api(alice), room, "react")
    post(api(bob), "react", {"message_id": message["id"], "reaction": "🔥"})
    post(api(carol), "react", {"message_id": message["id"], "reaction": "👍"})

    body = api(alice).get(f"/api/chat/v1/message/{message['id']}/reactions").json()

    assert [(r["user"]["id"], r["reaction"]) for r in body["items"]] == [(str(bob.id), "🔥"), (str(carol.id), "👍")]
    assert body["items"][0]["message_id"] == message["id"] and body["meta"]["total_items"] == 2
    assert_error(api(bob).get(f"/api/chat/v1/message/{message['id']}/reactions"), 403, "permission_denied")
    assert_error(api(eve).get(f"/api/chat/v1/message/{message['id']}/reactions"), 404, "not_found")


def test_sender_message_status(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    message = send(api(alice), room, "tracked", sender_message_id="client-42")
    assert api(alice).get("/api/chat/v1/sender/message/client-42").json() == {"status": "SENT"}
    post(api(bob), "mark_as_read", {"room_id": str(room.id), "message_ids": [message["id"]]})
    assert api(alice).get("/api/chat/v1/sender/message/client-42").json() == {"status": "READ"}
    assert_error(api(bob).get("/api/chat/v1/sender/message/client-42"), 404, "not_found")
    assert_error(api(alice).get("/api/chat/v1/sender/message/unknown"), 404, "not_found")
