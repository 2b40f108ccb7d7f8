"""UpdateRoom, and the per-user toggles PinRoom, MuteRoom, BlockUser."""

from __future__ import annotations

import pytest

from events.builders import encode_event
from tests import storage_probe as probe
from tests.rooms.conftest import outbox, outbox_types

UPDATE = "/api/chat/v1/room/update"


def _snapshot(room_id) -> tuple:  # type: ignore[no-untyped-def]
    room = probe.room(room_id)
    return (
        room.name,
        room.description,
        room.photo_url,
        room.send_message,
        room.add_member,
        room.edit_group,
        [(p.role, p.is_muted, p.removed_at) for p in probe.participants(room_id=room_id)],
        len(probe.messages()),
        len(probe.outbox()),
    )


@pytest.mark.django_db
def test_rename_and_new_photo_write_system_messages_and_room_updated(api, user_factory, make_group) -> None:
    owner, member = user_factory(), user_factory()
    room_id = make_group(owner, member, name="Old")
    probe.outbox_clear()

    response = api(owner).put(
        UPDATE,
        {"id": str(room_id), "name": "New", "photo_url": "https://img.example/n.png", "description": "about"},
        format="json",
    )

    assert response.status_code == 200 and response.json() == {"success": True}
    room = probe.room(room_id)
    assert (room.name, room.photo_url, room.description) == ("New", "https://img.example/n.png", "about")
    messages = probe.messages(room_id=room_id)
    assert [(m.type, m.event) for m in messages] == [("system_message", "new_name"), ("system_message", "new_photo")]
    assert "New" in messages[0].text
    assert room.last_message_id == messages[-1].id
    assert outbox_types(room_id) == ["message", "message", "is_room_updated"]
    updated = outbox(room_id=str(room_id), event_type="is_room_updated")[0]
    assert updated.subject == f"CHAT_EVENTS.{room_id}"
    assert updated.data["is_room_updated"] is True
    assert updated.actor_user_id == str(owner.id)
    encode_event(updated.data)


@pytest.mark.django_db
def test_description_or_permissions_change_without_system_message(api, user_factory, make_group) -> None:
    owner, member = user_factory(), user_factory()
    room_id = make_group(owner, member)
    probe.outbox_clear()

    api(owner).put(UPDATE, {"id": str(room_id), "description": "d", "add_member": True}, format="json")

    assert len(probe.messages(room_id=room_id)) == 0
    assert outbox_types(room_id) == ["is_room_updated"]
    assert probe.room(room_id).add_member is True


@pytest.mark.django_db
def test_update_without_a_change_writes_nothing(api, user_factory, make_group) -> None:
    owner, member = user_factory(), user_factory()
    room_id = make_group(owner, member, name="Same")
    before = _snapshot(room_id)

    response = api(owner).put(UPDATE, {"id": str(room_id), "name": "Same"}, format="json")

    assert response.status_code == 200
    assert _snapshot(room_id) == before


@pytest.mark.parametrize(
    ("who", "payload", "status", "code"),
    [
        ("owner", {"name": ""}, 400, "invalid_request_data"),
        ("owner", {"photo_url": "not a url"}, 400, "invalid_request_data"),
        ("member_with_edit", {"send_message": False}, 403, "permission_denied"),  # permissions: OWNER/ADMIN
        ("member_without_edit", {"name": "X"}, 403, "permission_denied"),
    ],
)
@pytest.mark.django_db
def test_update_refusals_write_nothing(api, user_factory, make_group, who, payload, status, code) -> None:
    owner, member = user_factory(), user_factory()
    room_id = make_group(owner, member, edit_group=(who == "member_with_edit"))
    before = _snapshot(room_id)
    actor = owner if who == "owner" else member

    response = api(actor).put(UPDATE, {"id": str(room_id), **payload}, format="json")

    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert _snapshot(room_id) == before


@pytest.mark.django_db
def test_member_with_edit_group_may_rename(api, user_factory, make_group) -> None:
    owner, member = user_factory(), user_factory()
    room_id = make_group(owner, member, edit_group=True)

    response = api(member).put(UPDATE, {"id": str(room_id), "name": "By member"}, format="json")

    assert response.status_code == 200
    assert probe.room(room_id).name == "By member"


@pytest.mark.django_db
def test_p2p_rooms_cannot_be_updated(api, user_factory, make_p2p) -> None:
    alice, bob = user_factory(), user_factory()
    room_id = make_p2p(alice, bob)
    before = _snapshot(room_id)

    response = api(alice).put(UPDATE, {"id": str(room_id), "name": "x"}, format="json")

    assert response.status_code == 400 and response.json()["code"] == "invalid_request_data"
    assert _snapshot(room_id) == before


# --- toggles ------------------------------------------------------------------------------------


def _flags(room_id, user) -> tuple[bool, bool, bool]:  # type: ignore[no-untyped-def]
    p = probe.participant(room_id, user.id)
    return p.is_pinned, p.is_muted, p.is_partner_blocked


@pytest.mark.django_db
def test_pin_toggles_the_callers_flag_without_event(api, user_factory, make_group) -> None:
    owner, member = user_factory(), user_factory()
    room_id = make_group(owner, member)
    probe.outbox_clear()
    client = api(member)

    assert client.post("/api/chat/v1/room/pin", {"id": str(room_id)}, format="json").json() == {"success": True}
    assert _flags(room_id, member) == (True, False, False)
    assert _flags(room_id, owner) == (False, False, False)
    assert client.get(f"/api/chat/v1/room/{room_id}").json()["room"]["is_pinned"] is True
    client.post("/api/chat/v1/room/pin", {"id": str(room_id)}, format="json")
    assert _flags(room_id, member) == (False, False, False)
    assert len(probe.outbox()) == 0


@pytest.mark.django_db
def test_mute_toggles_and_publishes_room_updated(api, user_factory, make_group) -> None:
    owner, member = user_factory(), user_factory()
    room_id = make_group(owner, member)
    probe.outbox_clear()

    api(member).post("/api/chat/v1/room/mute", {"id": str(room_id)}, format="json")

    assert _flags(room_id, member) == (False, True, False)
    assert outbox_types(room_id) == ["is_room_updated"]
    assert outbox(room_id=str(room_id))[0].actor_user_id == str(member.id)
    assert api(member).get(f"/api/chat/v1/room/{room_id}").json()["room"]["is_muted"] is True
    api(member).post("/api/chat/v1/room/mute", {"id": str(room_id)}, format="json")
    assert _flags(room_id, member) == (False, False, False)


@pytest.mark.django_db
def test_block_is_p2p_only_and_sets_the_callers_flag(api, user_factory, make_p2p, make_group) -> None:
    alice, bob = user_factory(), user_factory()
    p2p = make_p2p(alice, bob)
    group = make_group(alice, bob)
    probe.outbox_clear()

    assert api(alice).post("/api/chat/v1/room/block", {"id": str(p2p)}, format="json").status_code == 200
    assert _flags(p2p, alice) == (False, False, True)
    assert _flags(p2p, bob) == (False, False, False)
    assert api(alice).get(f"/api/chat/v1/room/{p2p}").json()["room"]["is_partner_blocked"] is True

    refused = api(alice).post("/api/chat/v1/room/block", {"id": str(group)}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_request_data"
    assert _flags(group, alice) == (False, False, False)
    assert len(probe.outbox()) == 0


@pytest.mark.parametrize("op", ["pin", "mute", "block"])
@pytest.mark.django_db
def test_toggles_for_members_only(api, user_factory, make_p2p, op) -> None:
    alice, bob, stranger = user_factory(), user_factory(), user_factory()
    room_id = make_p2p(alice, bob)
    url = f"/api/chat/v1/room/{op}"

    assert api().post(url, {"id": str(room_id)}, format="json").json()["code"] == "invalid_token"
    response = api(stranger).post(url, {"id": str(room_id)}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    bad = api(alice).post(url, {"id": "nope"}, format="json")
    assert bad.status_code == 400 and "id" in bad.json()["details"]
    assert _flags(room_id, alice) == (False, False, False)
