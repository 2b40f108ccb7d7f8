"""EditMessage, DeleteMessage, ReactToMessage: rules, stored state, events, room state after deletes."""

from __future__ import annotations

import uuid

import pytest

from events.builders import encode_event
from kernel.crypto import content_encrypt, encryption_data_unwrap
from storage.enums import Role
from storage.records_messages import MessageRecord
from tests import storage_probe as probe
from tests.messaging.conftest import assert_error, last_outbox_id, make_room, outbox_since, post, send, snapshot

pytestmark = pytest.mark.django_db


# --- EditMessage ----------------------------------------------------------------------------------


def test_sender_edits_with_text_and_with_content(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    message = send(api(alice), room, "typo")
    marker = last_outbox_id()

    response = post(api(alice), "edit", {"message_id": message["id"], "new_text": "fixed"})

    assert response.status_code == 200, response.content
    edited = response.json()["message"]
    assert response.json()["success"] is True
    assert edited["text"] == "fixed" and edited["edited"] is True and edited["id"] == message["id"]
    stored = probe.message(message["id"])
    assert stored.text == "fixed" and stored.edited and stored.updated_at > stored.created_at
    events = outbox_since(marker)
    assert [e.event_type for e in events] == ["update_message"]
    assert events[0].room_id == str(room.id) and events[0].data["update_message"]["text"] == "fixed"
    encode_event(events[0].data)

    ciphertext = content_encrypt("again", encryption_data_unwrap(room.encryption_data))
    response = post(api(alice), "edit", {"message_id": message["id"], "new_content": ciphertext})
    assert response.status_code == 200
    assert probe.message(message["id"]).text == "again"


def test_edit_refusals_change_nothing(api, user_factory) -> None:
    alice, bob, eve = user_factory(), user_factory(), user_factory()
    room = make_room(alice, [bob])
    message = send(api(alice), room, "mine")
    system = probe.message_insert(MessageRecord(
        id=uuid.uuid4(), room_id=room.id, sender_id=alice.id, type="system_message", event="new_name",
        created_at=room.created_at, updated_at=room.created_at, text="renamed",
    ))  # fmt: skip
    before = snapshot()
    edit = {"message_id": message["id"], "new_text": "x"}
    assert_error(post(api(bob), "edit", edit), 403, "permission_denied")
    assert_error(post(api(eve), "edit", edit), 404, "not_found")
    assert_error(post(api(alice), "edit", {**edit, "message_id": str(uuid.uuid4())}), 404, "not_found")
    assert_error(post(api(alice), "edit", {"message_id": str(system.id), "new_text": "x"}), 403, "permission_denied")
    assert_error(post(api(alice), "edit", {"message_id": message["id"]}), 400, "invalid_request_data")
    both = {**edit, "new_content": "abc"}
    assert_error(post(api(alice), "edit", both), 400, "invalid_request_data")
    bad = {"message_id": message["id"], "new_content": "AAAAAAAAAAAAAAAAAAAAAA=="}
    assert_error(post(api(alice), "edit", bad), 400, "invalid_ciphertext")
    assert snapshot() == before


# --- DeleteMessage --------------------------------------------------------------------------------


def test_sender_deletes_messages_one_event_each_and_last_message_moves_back(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    first = send(api(alice), room, "first")
    second = send(api(alice), room, "second")
    third = send(api(alice), room, "third")
    marker = last_outbox_id()

    response = post(api(alice), "delete", {"room_id": str(room.id), "message_ids": [third["id"], second["id"]]})

    assert response.status_code == 200 and response.json() == {"success": True}
    assert {m.id for m in probe.messages(is_deleted=True)} == {
        uuid.UUID(third["id"]),
        uuid.UUID(second["id"]),
    }
    assert [m for m in probe.metas(is_deleted=False) if str(m.message_id) in (second["id"], third["id"])] == []
    events = outbox_since(marker)
    assert [(e.event_type, e.data["delete_message"], e.room_id) for e in events] == [
        ("delete_message", third["id"], str(room.id)),
        ("delete_message", second["id"], str(room.id)),
    ]
    room = probe.room(room.id)
    assert str(room.last_message_id) == first["id"]
    bob_room = api(bob).get(f"/api/chat/v1/room/{room.id}").json()["room"]
    assert bob_room["last_message"]["id"] == first["id"] and bob_room["unread_count"] == 1
    history = api(bob).get(f"/api/chat/v1/history/{room.id}").json()["items"]
    assert [m["id"] for m in history] == [first["id"]]
    tombstone = api(bob).get(f"/api/chat/v1/message/{third['id']}").json()
    assert tombstone["is_deleted"] is True and tombstone["content"] == "" and tombstone["text"] == ""

    # Deleting the only message left leaves the room without a last message.
    assert post(api(alice), "delete", {"room_id": str(room.id), "message_ids": [first["id"]]}).status_code == 200
    room = probe.room(room.id)
    assert room.last_message_id is None and room.last_message_at is None
    # Already deleted ids are accepted and change nothing.
    before = snapshot()
    assert post(api(alice), "delete", {"room_id": str(room.id), "message_ids": [first["id"]]}).status_code == 200
    assert snapshot() == before


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_room_managers_delete_others_messages(api, user_factory, role: str) -> None:
    alice, bob, carol = user_factory(), user_factory(), user_factory()
    room = make_room(alice, [bob, carol])
    probe.participant_update(room.id, carol.id, role=role)
    message = send(api(bob), room, "spam")
    response = post(api(carol), "delete", {"room_id": str(room.id), "message_ids": [message["id"]]})
    assert response.status_code == 200
    assert probe.message(message["id"]).is_deleted


def test_delete_is_all_or_nothing(api, user_factory) -> None:
    alice, bob, eve = user_factory(), user_factory(), user_factory()
    room = make_room(alice, [bob])
    other = make_room(alice, [bob], name="other")
    own = send(api(bob), room, "mine")
    theirs = send(api(alice), room, "theirs")
    elsewhere = send(api(bob), other, "elsewhere")
    before = snapshot()

    body = assert_error(
        post(api(bob), "delete", {"room_id": str(room.id), "message_ids": [own["id"], elsewhere["id"]]}),
        404,
        "not_found",
    )
    assert body["details"]["message_ids"] == [elsewhere["id"]]
    missing = {"room_id": str(room.id), "message_ids": [own["id"], str(uuid.uuid4())]}
    assert_error(post(api(bob), "delete", missing), 404, "not_found")
    body = assert_error(
        post(api(bob), "delete", {"room_id": str(room.id), "message_ids": [own["id"], theirs["id"]]}),
        403,
        "permission_denied",
    )
    assert body["details"]["message_ids"] == [theirs["id"]]
    assert_error(post(api(eve), "delete", {"room_id": str(room.id), "message_ids": [own["id"]]}), 404, "not_found")
    assert_error(post(api(bob), "delete", {"room_id": str(room.id), "message_ids": []}), 400, "invalid_request_data")
    assert snapshot() == before


def test_p2p_partner_cannot_delete_the_others_messages(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob], type="p2p")  # alice is OWNER of the p2p room, which gives no power there
    message = send(api(bob), room, "mine")
    before = snapshot()
    response = post(api(alice), "delete", {"room_id": str(room.id), "message_ids": [message["id"]]})
    assert_error(response, 403, "permission_denied")
    assert snapshot() == before


# --- ReactToMessage -------------------------------------------------------------------------------


def test_one_reaction_per_user_replaced_and_removed(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    message = send(api(alice), room, "react to me")
    marker = last_outbox_id()

    assert post(api(bob), "react", {"message_id": message["id"], "reaction": "👍"}).json() == {"success": True}
    assert post(api(bob), "react", {"message_id": message["id"], "reaction": "❤️"}).status_code == 200
    assert [(r.user_id, r.reaction) for r in probe.reactions()] == [(bob.id, "❤️")]
    events = outbox_since(marker)
    assert [e.event_type for e in events] == ["update_message", "update_message"]
    assert [r["reaction"] for r in events[-1].data["update_message"]["reactions"]] == ["❤️"]
    assert events[-1].data["update_message"]["reactions"][0]["user"]["id"] == str(bob.id)
    encode_event(events[-1].data)

    assert post(api(bob), "react", {"message_id": message["id"], "reaction": ""}).status_code == 200
    assert not probe.reactions()
    assert outbox_since(marker)[-1].data["update_message"]["reactions"] == []


def test_react_refusals_change_nothing(api, user_factory) -> None:
    alice, bob, eve = user_factory(), user_factory(), user_factory()
    room = make_room(alice, [bob])
    message = send(api(alice), room, "x")
    deleted = send(api(alice), room, "gone")
    probe.message_update(deleted["id"], is_deleted=True)
    before = snapshot()
    assert_error(post(api(eve), "react", {"message_id": message["id"], "reaction": "👍"}), 404, "not_found")
    assert_error(post(api(bob), "react", {"message_id": deleted["id"], "reaction": "👍"}), 404, "not_found")
    assert_error(post(api(bob), "react", {"message_id": str(uuid.uuid4()), "reaction": "👍"}), 404, "not_found")
    too_long = {"message_id": message["id"], "reaction": "x" * 65}
    assert_error(post(api(bob), "react", too_long), 400, "invalid_request_data")
    assert_error(post(api(bob), "react", {"message_id": message["id"]}), 400, "invalid_request_data")
    assert snapshot() == before
    assert probe.rooms(id=room.id)
