"""GetMessageHistory and GetMessage: order, paging, cursors, dates, visibility, status, query bounds."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from events.builders import encode_event
from rooms import services as room_services
from tests import storage_probe as probe
from tests.messaging.conftest import assert_error, make_room, post, send

pytestmark = pytest.mark.django_db

HISTORY_MAX_QUERIES = 12


def history(client: Any, room_id: uuid.UUID, **params: Any) -> dict[str, Any]:
    response = client.get(f"/api/chat/v1/history/{room_id}", params)
    assert response.status_code == 200, response.content
    return response.json()


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [m["id"] for m in items]


def test_newest_first_with_page_meta(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    sent = [send(api(alice), room, f"m{i}") for i in range(5)]

    body = history(api(bob), room.id, page=1, limit=2)

    assert ids(body["items"]) == [sent[4]["id"], sent[3]["id"]]
    assert body["meta"] == {"total_items": 5, "item_count": 2, "items_per_page": 2, "total_pages": 3, "current_page": 1}
    assert ids(history(api(bob), room.id, page=3, limit=2)["items"]) == [sent[0]["id"]]
    assert ids(history(api(bob), room.id, messages_per_room=3)["items"]) == ids(sent[:1:-1])
    for item in body["items"]:
        encode_event({"message": item})


def test_status_is_relative_to_the_caller(api, user_factory) -> None:
    alice, bob, carol = user_factory(), user_factory(), user_factory()
    room = make_room(alice, [bob, carol])
    mine = send(api(alice), room, "from alice")
    assert history(api(alice), room.id)["items"][0]["status"] == "SENT"
    assert history(api(bob), room.id)["items"][0]["status"] == "SENT"

    assert post(api(bob), "mark_as_read", {"room_id": str(room.id), "message_ids": [mine["id"]]}).status_code == 200

    assert history(api(bob), room.id)["items"][0]["status"] == "READ"
    assert history(api(carol), room.id)["items"][0]["status"] == "SENT"
    assert history(api(alice), room.id)["items"][0]["status"] == "READ"


def test_before_message_id_paging_returns_each_message_once_while_new_ones_arrive(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    old = [send(api(alice), room, f"old {i}")["id"] for i in range(23)]
    seen: list[str] = []
    page = history(api(bob), room.id, limit=5)["items"]
    arrived: list[str] = []
    while page:
        seen.extend(ids(page))
        arrived.append(send(api(alice), room, "new while paging")["id"])
        page = history(api(bob), room.id, limit=5, before_message_id=page[-1]["id"])["items"]

    assert seen == old[::-1]
    assert len(seen) == len(set(seen))
    assert not set(arrived) & set(seen)


def test_after_message_id_returns_the_oldest_after_it_newest_first(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    sent = [send(api(alice), room, f"m{i}")["id"] for i in range(6)]

    body = history(api(bob), room.id, after_message_id=sent[1], limit=2)
    assert ids(body["items"]) == [sent[3], sent[2]]
    assert body["meta"]["total_items"] == 4
    both = history(api(bob), room.id, after_message_id=sent[0], before_message_id=sent[4])
    assert ids(both["items"]) == [sent[3], sent[2], sent[1]]


def test_date_bounds(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    sent = [send(api(alice), room, f"m{i}") for i in range(4)]
    middle = sent[1]["created_at"]
    assert ids(history(api(bob), room.id, before_date=middle)["items"]) == [sent[0]["id"]]
    assert ids(history(api(bob), room.id, after_date=middle)["items"]) == [sent[3]["id"], sent[2]["id"]]


def test_hidden_messages_and_messages_before_joining_are_left_out(api, user_factory) -> None:
    alice, bob, dave = user_factory(), user_factory(), user_factory()
    room = make_room(alice, [bob])
    before_join = send(api(alice), room, "before dave")
    deleted = send(api(alice), room, "deleted")
    assert post(api(alice), "delete", {"room_id": str(room.id), "message_ids": [deleted["id"]]}).status_code == 200
    room_services.room_participants_add(user_id=alice.id, room_id=room.id, participant_ids=[dave.id])
    after_join = send(api(alice), room, "after dave")

    dave_items = history(api(dave), room.id)["items"]
    assert after_join["id"] in ids(dave_items)
    assert before_join["id"] not in ids(dave_items)
    assert [m["event"] for m in dave_items if m["type"] == "system_message"] == ["new_member"]
    assert api(dave).get(f"/api/chat/v1/message/{before_join['id']}").status_code == 404
    assert deleted["id"] not in ids(history(api(bob), room.id)["items"])
    assert before_join["id"] in ids(history(api(bob), room.id)["items"])


def test_a_member_back_after_removal_sees_what_was_sent_to_them_not_while_away(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    during = send(api(alice), room, "bob is here")
    room_services.room_leave(user_id=alice.id, room_id=room.id, participant_ids=[bob.id])
    away = send(api(alice), room, "bob is away")
    room_services.room_participants_add(user_id=alice.id, room_id=room.id, participant_ids=[bob.id])
    back = send(api(alice), room, "bob is back")

    seen = ids(history(api(bob), room.id)["items"])

    assert during["id"] in seen and back["id"] in seen and away["id"] not in seen
    assert api(bob).get(f"/api/chat/v1/message/{during['id']}").status_code == 200
    assert api(bob).get(f"/api/chat/v1/message/{away['id']}").status_code == 404
    assert away["id"] not in {m["id"] for m in post(api(bob), "sync", {}).json()["messages"]}


def test_history_refusals(api, user_factory) -> None:
    alice, bob, eve = user_factory(), user_factory(), user_factory()
    room, other = make_room(alice, [bob]), make_room(alice, [bob], name="other")
    elsewhere = send(api(alice), other, "elsewhere")
    assert_error(api(eve).get(f"/api/chat/v1/history/{room.id}"), 404, "not_found")
    assert_error(api(bob).get(f"/api/chat/v1/history/{uuid.uuid4()}"), 404, "not_found")
    url = f"/api/chat/v1/history/{room.id}"
    assert_error(api(bob).get(url, {"before_message_id": elsewhere["id"]}), 400, "invalid_request_data")
    assert_error(api(bob).get(url, {"before_date": "yesterday"}), 400, "invalid_request_data")
    assert_error(api(bob).get(url, {"limit": 0}), 400, "invalid_request_data")
    assert_error(api(bob).get(url, {"limit": 101}), 400, "invalid_request_data")


def test_a_50_message_page_runs_in_a_bounded_number_of_queries(
    api, user_factory, django_assert_max_num_queries
) -> None:
    alice, bob, carol = user_factory(), user_factory(), user_factory()
    room = make_room(alice, [bob, carol])
    first = send(api(alice), room, "root")
    for i in range(60):
        extra: dict[str, Any] = {"reply_id": first["id"]} if i % 3 == 0 else {}
        if i % 4 == 0:
            extra["mentions"] = [{"tag": "@bob", "user": bob.id}]
        message = send(api(alice if i % 2 else carol), room, f"m{i}", **extra)
        if i % 5 == 0:
            post(api(bob), "react", {"message_id": message["id"], "reaction": "👍"})
    client = api(bob)
    history(client, room.id, limit=1)  # token look-up warmed

    with django_assert_max_num_queries(HISTORY_MAX_QUERIES):
        body = history(client, room.id, limit=50)

    assert len(body["items"]) == 50
    replies = [m for m in body["items"] if "reply" in m]
    assert replies and all(m["reply"]["id"] == first["id"] for m in replies)
    assert any(m["reactions"] for m in body["items"]) and any(m["mentions"] for m in body["items"])


def test_get_message_returns_the_message_data_itself(api, user_factory) -> None:
    alice, bob, eve = user_factory(), user_factory(), user_factory()
    room = make_room(alice, [bob])
    message = send(api(alice), room, "look")
    response = api(bob).get(f"/api/chat/v1/message/{message['id']}")
    assert response.status_code == 200
    assert response.json() == {**message, "status": "SENT"}
    assert_error(api(eve).get(f"/api/chat/v1/message/{message['id']}"), 404, "not_found")
    assert_error(api(bob).get(f"/api/chat/v1/message/{uuid.uuid4()}"), 404, "not_found")
    assert len(probe.messages()) == 1
