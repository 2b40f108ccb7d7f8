"""AddParticipantToRoom, UpdateParticipantRoom, LeaveRoom."""

from __future__ import annotations

import pytest

from events.builders import encode_event
from rooms import services
from tests import storage_probe as probe
from tests.rooms.conftest import outbox, outbox_types

ADD = "/api/chat/v1/room/participant/add"
ROLE = "/api/chat/v1/room/participant/update"
LEAVE = "/api/chat/v1/room/leave"


def _state() -> tuple:
    return (
        sorted((p.room_id.int, p.user_id, p.role, p.removed_at) for p in probe.participants()),
        [(r.id, r.deleted_at) for r in probe.rooms()],
        len(probe.messages()),
        len(probe.outbox()),
    )


def _roles(room_id) -> dict[int, str]:  # type: ignore[no-untyped-def]
    return {p.user_id: p.role for p in probe.participants(room_id=room_id, removed_at=None)}


# --- AddParticipantToRoom -----------------------------------------------------------------------


@pytest.mark.django_db
def test_add_writes_new_member_message_then_room_join_direct_and_on_the_room(api, user_factory, make_group):
    owner, member, newcomer = user_factory(), user_factory(), user_factory()
    room_id = make_group(owner, member, name="Team")
    probe.outbox_clear()

    response = api(owner).post(ADD, {"id": str(room_id), "participants": [str(newcomer.id)]}, format="json")

    assert response.status_code == 200 and response.json() == {"success": True}
    assert _roles(room_id)[newcomer.id] == "MEMBER"
    (message,) = probe.messages(room_id=room_id)
    assert (message.type, message.event, message.sender_id) == ("system_message", "new_member", owner.id)
    events = outbox(room_id=str(room_id))
    assert [(e.event_type, e.subject) for e in events] == [
        ("message", f"CHAT_EVENTS.{room_id}"),
        ("room_join", f"CHAT_DIRECT_EVENTS.{newcomer.id}"),
        ("room_join", f"CHAT_EVENTS.{room_id}"),
    ]
    direct = events[1].data
    assert direct["room_join"]["user_id"] == str(newcomer.id)
    assert direct["room_join"]["owner_user_id"] == str(owner.id)
    assert direct["room_join"]["display_name"] == newcomer.chat_profile.display_name
    assert direct["room"]["role"] == "MEMBER" and direct["room"]["name"] == "Team"
    assert direct["room"]["last_message"]["event"] == "new_member"
    assert events[2].data["room_join"] == direct["room_join"]
    assert "room" not in events[2].data
    for event in events:
        encode_event(event.data)
    # The newcomer sees the room at once.
    assert api(newcomer).get(f"/api/chat/v1/room/{room_id}").status_code == 200


@pytest.mark.django_db
def test_add_reactivates_a_removed_member_and_skips_active_ones(api, user_factory, make_group) -> None:
    owner, member, returning = user_factory(), user_factory(), user_factory()
    room_id = make_group(owner, member, returning)
    services.room_participant_role_set(user_id=owner.id, room_id=room_id, participant_id=returning.id, role="ADMIN")
    services.room_leave(user_id=returning.id, room_id=room_id)
    probe.outbox_clear()

    api(owner).post(ADD, {"id": str(room_id), "participants": [returning.id, member.id]}, format="json")

    (again,) = probe.participants(room_id=room_id, user_id=returning.id)  # the same row, re-activated
    assert again.removed_at is None and again.role == "MEMBER"
    assert outbox_types(room_id) == ["message", "room_join", "room_join"]  # only the returning user


@pytest.mark.django_db
def test_adding_only_active_members_writes_nothing(api, user_factory, make_group) -> None:
    owner, member = user_factory(), user_factory()
    room_id = make_group(owner, member)
    before = _state()

    response = api(owner).post(ADD, {"id": str(room_id), "participants": [member.id, owner.id]}, format="json")

    assert response.status_code == 200
    assert _state() == before


@pytest.mark.parametrize(
    ("kind", "payload", "status", "code"),
    [
        ("group", {"participants": [999999]}, 400, "invalid_request_data"),
        ("group", {"participants": []}, 400, "invalid_request_data"),
        ("group", {}, 400, "invalid_request_data"),
        ("p2p", {"participants": ["NEW"]}, 400, "invalid_request_data"),
    ],
)
@pytest.mark.django_db
def test_add_refusals_write_nothing(api, user_factory, make_group, make_p2p, kind, payload, status, code) -> None:
    owner, member, newcomer = user_factory(), user_factory(), user_factory()
    room_id = make_group(owner, member) if kind == "group" else make_p2p(owner, member)
    if "participants" in payload:
        payload = {"participants": [newcomer.id if p == "NEW" else p for p in payload["participants"]]}
    before = _state()

    response = api(owner).post(ADD, {"id": str(room_id), **payload}, format="json")

    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert _state() == before


# --- UpdateParticipantRoom ----------------------------------------------------------------------


@pytest.mark.django_db
def test_owner_promotes_a_member_and_room_updated_is_published(api, user_factory, make_group) -> None:
    owner, member = user_factory(), user_factory()
    room_id = make_group(owner, member)
    probe.outbox_clear()

    response = api(owner).put(ROLE, {"id": str(room_id), "participant": member.id, "role": "ADMIN"}, format="json")

    assert response.status_code == 200 and response.json() == {"success": True}
    assert _roles(room_id) == {owner.id: "OWNER", member.id: "ADMIN"}
    assert outbox_types(room_id) == ["is_room_updated"]
    assert api(member).get(f"/api/chat/v1/room/{room_id}").json()["room"]["role"] == "ADMIN"


@pytest.mark.django_db
def test_owner_hands_over_ownership_and_becomes_admin(api, user_factory, make_group) -> None:
    owner, member = user_factory(), user_factory()
    room_id = make_group(owner, member)

    api(owner).put(ROLE, {"id": str(room_id), "participant": str(member.id), "role": "OWNER"}, format="json")

    assert _roles(room_id) == {owner.id: "ADMIN", member.id: "OWNER"}


@pytest.mark.parametrize(
    ("actor", "target", "role", "status", "code"),
    [
        ("member", "other", "ADMIN", 403, "permission_denied"),  # MEMBERs set no roles
        ("admin", "owner", "MEMBER", 403, "permission_denied"),  # only the OWNER touches the OWNER
        ("admin", "other", "OWNER", 403, "permission_denied"),  # only the OWNER hands over ownership
        ("owner", "owner", "ADMIN", 400, "invalid_request_data"),  # the OWNER hands over first
        ("owner", "stranger", "ADMIN", 404, "not_found"),
        ("owner", "other", "KING", 400, "invalid_request_data"),
    ],
)
@pytest.mark.django_db
def test_role_refusals_write_nothing(api, user_factory, make_group, actor, target, role, status, code) -> None:
    users = {name: user_factory() for name in ("owner", "admin", "member", "other", "stranger")}
    room_id = make_group(users["owner"], users["admin"], users["member"], users["other"])
    services.room_participant_role_set(
        user_id=users["owner"].id, room_id=room_id, participant_id=users["admin"].id, role="ADMIN"
    )
    before = _state()

    response = api(users[actor]).put(
        ROLE, {"id": str(room_id), "participant": users[target].id, "role": role}, format="json"
    )

    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert _state() == before


@pytest.mark.django_db
def test_an_admin_can_neither_demote_nor_remove_a_peer_admin(api, user_factory, make_group) -> None:
    owner, admin, other, member = user_factory(), user_factory(), user_factory(), user_factory()
    room_id = make_group(owner, admin, other, member)
    for user in (admin, other):
        services.room_participant_role_set(user_id=owner.id, room_id=room_id, participant_id=user.id, role="ADMIN")
    before = _state()

    demote = api(admin).put(ROLE, {"id": str(room_id), "participant": other.id, "role": "MEMBER"}, format="json")
    remove = api(admin).post(LEAVE, {"id": str(room_id), "participants": [other.id]}, format="json")

    assert demote.status_code == 403 and demote.json()["code"] == "permission_denied"
    assert remove.status_code == 403 and remove.json()["code"] == "permission_denied"
    assert _state() == before
    # An ADMIN still promotes and demotes MEMBERs; the OWNER demotes an ADMIN.
    promote = api(admin).put(ROLE, {"id": str(room_id), "participant": member.id, "role": "ADMIN"}, format="json")
    assert promote.status_code == 200
    owner_demotes = api(owner).put(ROLE, {"id": str(room_id), "participant": other.id, "role": "MEMBER"}, format="json")
    assert owner_demotes.status_code == 200
    assert _roles(room_id)[member.id] == "ADMIN" and _roles(room_id)[other.id] == "MEMBER"


# --- LeaveRoom ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_member_leaves_with_remove_member_message_and_room_leave(api, user_factory, make_group) -> None:
    owner, member = user_factory(), user_factory()
    third = user_factory()
    room_id = make_group(owner, member, third)
    probe.outbox_clear()

    response = api(member).post(LEAVE, {"id": str(room_id)}, format="json")

    assert response.status_code == 200 and response.json() == {"success": True}
    assert probe.participant(room_id, member.id).removed_at is not None
    assert [m.event for m in probe.messages(room_id=room_id)] == ["remove_member"]
    events = outbox(room_id=str(room_id))
    assert [e.event_type for e in events] == ["message", "room_leave"]
    leave = events[1].data["room_leave"]
    assert leave["users_id"] == [str(member.id)] and leave["reason"] == "left" and leave["left_at"]
    assert events[1].subject == f"CHAT_EVENTS.{room_id}"
    encode_event(events[1].data)
    assert api(member).get(f"/api/chat/v1/room/{room_id}").status_code == 404


@pytest.mark.django_db
def test_admin_removes_members_one_event_pair_each(api, user_factory, make_group) -> None:
    owner, admin, one, two = user_factory(), user_factory(), user_factory(), user_factory()
    room_id = make_group(owner, admin, one, two)
    services.room_participant_role_set(user_id=owner.id, room_id=room_id, participant_id=admin.id, role="ADMIN")
    probe.outbox_clear()

    response = api(admin).post(LEAVE, {"id": str(room_id), "participants": [one.id, str(two.id)]}, format="json")

    assert response.status_code == 200
    assert set(_roles(room_id)) == {owner.id, admin.id}
    assert outbox_types(room_id) == ["message", "room_leave", "message", "room_leave"]
    leaves = [e.data["room_leave"] for e in outbox(room_id=str(room_id), event_type="room_leave")]
    assert [(x["users_id"], x["reason"]) for x in leaves] == [([str(one.id)], "removed"), ([str(two.id)], "removed")]


@pytest.mark.parametrize(
    ("admins", "expected"),
    [(True, "admin"), (False, "oldest_member")],
)
@pytest.mark.django_db
def test_owner_leaving_hands_ownership_over(api, user_factory, make_group, admins, expected) -> None:
    owner, oldest, admin = user_factory(), user_factory(), user_factory()
    room_id = make_group(owner, oldest)
    services.room_participants_add(user_id=owner.id, room_id=room_id, participant_ids=[admin.id])
    if admins:
        services.room_participant_role_set(user_id=owner.id, room_id=room_id, participant_id=admin.id, role="ADMIN")
    probe.outbox_clear()

    api(owner).post(LEAVE, {"id": str(room_id)}, format="json")

    heir = admin if expected == "admin" else oldest
    assert _roles(room_id)[heir.id] == "OWNER"
    assert owner.id not in _roles(room_id)
    assert outbox_types(room_id) == ["message", "room_leave", "is_room_updated"]


@pytest.mark.django_db
def test_last_member_leaving_deletes_the_group(api, user_factory, make_group) -> None:
    owner, member = user_factory(), user_factory()
    room_id = make_group(owner, member)
    services.room_leave(user_id=member.id, room_id=room_id)
    probe.outbox_clear()

    api(owner).post(LEAVE, {"id": str(room_id)}, format="json")

    assert probe.room(room_id).deleted_at is not None
    assert outbox_types(room_id) == ["room_leave"]
    assert outbox(room_id=str(room_id))[0].data["room_leave"]["reason"] == "room_deleted"


@pytest.mark.django_db
def test_p2p_leave_removes_both_and_deletes_the_room(api, user_factory, make_p2p) -> None:
    alice, bob = user_factory(), user_factory()
    room_id = make_p2p(alice, bob)
    probe.outbox_clear()

    response = api(alice).post(LEAVE, {"id": str(room_id), "leave_all": False}, format="json")

    assert response.status_code == 200
    room = probe.room(room_id)
    assert room.deleted_at is not None and room.p2p_key is None
    assert len(probe.participants(room_id=room_id, removed_at=None)) == 0
    events = outbox(room_id=str(room_id))
    assert [e.event_type for e in events] == ["room_leave"]
    assert sorted(events[0].data["room_leave"]["users_id"]) == sorted([str(alice.id), str(bob.id)])
    assert len(probe.messages(room_id=room_id)) == 0
    assert api(bob).get(f"/api/chat/v1/room/{room_id}").status_code == 404


@pytest.mark.django_db
def test_owner_leave_all_deletes_the_group(api, user_factory, make_group) -> None:
    owner, one, two = user_factory(), user_factory(), user_factory()
    room_id = make_group(owner, one, two)

    response = api(owner).post(LEAVE, {"id": str(room_id), "leave_all": True}, format="json")

    assert response.status_code == 200
    assert probe.room(room_id).deleted_at is not None
    assert _roles(room_id) == {}


@pytest.mark.parametrize(
    ("actor", "payload", "status", "code"),
    [
        ("member", {"participants": ["other"]}, 403, "permission_denied"),  # MEMBERs remove only themselves
        ("member", {"leave_all": True}, 403, "permission_denied"),
        ("admin", {"leave_all": True}, 403, "permission_denied"),
        ("admin", {"participants": ["owner"]}, 403, "permission_denied"),
        ("admin", {"participants": ["admin2"]}, 403, "permission_denied"),
        ("owner", {"participants": ["stranger"]}, 400, "invalid_request_data"),
        ("owner", {"participants": ["other", "stranger"]}, 400, "invalid_request_data"),
    ],
)
@pytest.mark.django_db
def test_leave_refusals_write_nothing(api, user_factory, make_group, actor, payload, status, code) -> None:
    users = {n: user_factory() for n in ("owner", "admin", "admin2", "member", "other", "stranger")}
    room_id = make_group(users["owner"], users["admin"], users["admin2"], users["member"], users["other"])
    for name in ("admin", "admin2"):
        services.room_participant_role_set(
            user_id=users["owner"].id, room_id=room_id, participant_id=users[name].id, role="ADMIN"
        )
    if "participants" in payload:
        payload = {"participants": [users[n].id for n in payload["participants"]]}
    before = _state()

    response = api(users[actor]).post(LEAVE, {"id": str(room_id), **payload}, format="json")

    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert _state() == before
