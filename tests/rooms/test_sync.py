"""InitialSync: changed rooms, removed/deleted rooms, messages since, per-room cap, summary."""

from __future__ import annotations

from typing import Any

import pytest

from events.builders import encode_event
from messaging import selectors as message_selectors
from rooms import services as room_services
from tests.messaging.conftest import assert_error, make_room, post, send

pytestmark = pytest.mark.django_db


def sync(client: Any, **body: Any) -> dict[str, Any]:
    response = post(client, "sync", body)
    assert response.status_code == 200, response.content
    return response.json()


def test_first_sync_returns_everything_capped_per_room(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    one, two = make_room(alice, [bob], name="one"), make_room(alice, [bob], name="two")
    in_one = [send(api(alice), one, f"a{i}")["id"] for i in range(4)]
    in_two = send(api(alice), two, "b")["id"]

    body = sync(api(bob), messages_per_room=3)

    assert {r["id"] for r in body["rooms"]} == {str(one.id), str(two.id)}
    assert body["rooms_deleted"] == []
    by_room: dict[str, list[str]] = {}
    for message in body["messages"]:
        by_room.setdefault(message["room_id"], []).append(message["id"])
        encode_event({"message": message})
    assert by_room == {str(one.id): in_one[:0:-1], str(two.id): [in_two]}
    assert body["summary"]["rooms_synced"] == 2 and body["summary"]["messages_synced"] == 4
    assert body["summary"]["rooms_deleted"] == 0 and body["summary"]["sync_duration_ms"] >= 0
    assert body["sync_timestamp"]
    rooms = {r["id"]: r for r in body["rooms"]}
    assert rooms[str(one.id)]["unread_count"] == 4 and rooms[str(one.id)]["last_message"]["id"] == in_one[-1]


def test_incremental_sync_returns_only_changes_since(api, user_factory) -> None:
    alice, bob, carol = user_factory(), user_factory(), user_factory()
    quiet = make_room(alice, [bob], name="quiet")
    busy = make_room(alice, [bob], name="busy")
    left = make_room(alice, [bob], name="left")
    p2p = make_room(alice, [bob], type="p2p")
    old = send(api(alice), busy, "old")
    send(api(alice), quiet, "quiet old")
    stamp = sync(api(bob))["sync_timestamp"]

    new = send(api(alice), busy, "new")
    post(api(alice), "edit", {"message_id": old["id"], "new_text": "old, edited"})
    room_services.room_leave(user_id=alice.id, room_id=left.id, participant_ids=[bob.id])
    room_services.room_leave(user_id=alice.id, room_id=p2p.id, leave_all=True)
    joined = make_room(carol, [bob], name="joined later")

    body = sync(api(bob), last_sync_timestamp=stamp)

    assert {r["id"] for r in body["rooms"]} == {str(busy.id), str(joined.id)}
    assert set(body["rooms_deleted"]) == {str(left.id), str(p2p.id)}
    messages = {m["id"]: m for m in body["messages"]}
    assert set(messages) == {new["id"], old["id"]}
    assert messages[old["id"]]["edited"] is True and messages[old["id"]]["text"] == "old, edited"
    assert body["summary"] == {
        "rooms_synced": 2,
        "rooms_deleted": 2,
        "messages_synced": 2,
        "sync_duration_ms": body["summary"]["sync_duration_ms"],
    }
    assert body["sync_timestamp"] > stamp


def test_deleted_messages_arrive_as_tombstones(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    message = send(api(alice), room, "regret")
    stamp = sync(api(bob))["sync_timestamp"]
    post(api(alice), "delete", {"room_id": str(room.id), "message_ids": [message["id"]]})

    body = sync(api(bob), last_sync_timestamp=stamp)

    assert [(m["id"], m["is_deleted"], m["text"], m["content"]) for m in body["messages"]] == [
        (message["id"], True, "", "")
    ]


def test_a_reaction_brings_the_message_into_the_next_sync(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    message = send(api(alice), room, "react to me")
    send(api(alice), room, "untouched")
    stamp = sync(api(bob))["sync_timestamp"]
    assert post(api(bob), "react", {"message_id": message["id"], "reaction": "👍"}).status_code == 200

    body = sync(api(alice), last_sync_timestamp=stamp)

    assert [m["id"] for m in body["messages"]] == [message["id"]]
    assert [r["reaction"] for r in body["messages"][0]["reactions"]] == ["👍"]
    assert body["messages"][0]["updated_at"] > message["updated_at"]


def test_sync_validates_its_input(api, user_factory) -> None:
    alice = user_factory()
    assert_error(post(api(alice), "sync", {"last_sync_timestamp": "not a date"}), 400, "invalid_request_data")
    assert_error(post(api(alice), "sync", {"messages_per_room": 0}), 400, "invalid_request_data")
    assert sync(api(alice), last_sync_timestamp="")["rooms"] == []


def test_sync_runs_in_a_bounded_number_of_queries(api, user_factory, django_assert_max_num_queries) -> None:
    alice, bob = user_factory(), user_factory()
    for i in range(8):
        room = make_room(alice, [bob], name=f"r{i}")
        for j in range(3):
            send(api(alice), room, f"m{j}")
    client = api(bob)
    sync(client, messages_per_room=1)
    with django_assert_max_num_queries(25):
        body = sync(client, messages_per_room=2)
    assert body["summary"]["rooms_synced"] == 8 and body["summary"]["messages_synced"] == 16


def test_sync_formats_each_message_once(api, user_factory, monkeypatch) -> None:
    # A room's last message is among the synced messages: formatting it twice doubled the cost of a
    # sync of many rooms.
    alice, bob = user_factory(), user_factory()
    for i in range(3):
        send(api(alice), make_room(alice, [bob], name=f"r{i}"), f"only {i}")
    formatted: list[str] = []
    real = message_selectors.messages_data

    def counting(messages, **kwargs):
        formatted.extend(str(m.id) for m in messages)
        return real(messages, **kwargs)

    monkeypatch.setattr(message_selectors, "messages_data", counting)
    body = sync(api(bob), messages_per_room=5)
    assert body["summary"] == {**body["summary"], "rooms_synced": 3, "messages_synced": 3}
    assert sorted(formatted) == sorted(m["id"] for m in body["messages"])
    assert {r["last_message"]["id"] for r in body["rooms"]} == {m["id"] for m in body["messages"]}
