"""GetRooms, GetRoom, GetRoomParticipants: ordering, search, filters, paging, query bounds, formatting."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events.builders import encode_event
from messaging.services.send import SendRequest, message_send
from rooms import services
from tests import storage_probe as probe

LIST = "/api/chat/v1/room/list"


def _ids(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    return [room["id"] for room in response.json()["items"]]


@pytest.mark.django_db
def test_rooms_are_ordered_pinned_then_last_message_then_created(api, user_factory, make_group) -> None:
    me, other = user_factory(), user_factory()
    old_quiet, new_quiet, old_talk, new_talk, pinned = (make_group(me, other, name=f"r{i}") for i in range(5))
    now = timezone.now()
    probe.room_update(old_talk, last_message_at=now - timedelta(hours=2))
    probe.room_update(new_talk, last_message_at=now - timedelta(hours=1))
    probe.room_update(old_quiet, created_at=now - timedelta(days=2))
    probe.room_update(new_quiet, created_at=now - timedelta(days=1))
    services.room_pin_toggle(user_id=me.id, room_id=pinned)

    ids = _ids(api(me).get(LIST))

    assert ids == [str(r) for r in (pinned, new_talk, old_talk, new_quiet, old_quiet)]
    # Pinning is per user: the other member's order has no pinned room first.
    assert _ids(api(other).get(LIST))[0] == str(new_talk)


@pytest.mark.django_db
def test_search_is_accent_and_case_insensitive_on_room_and_partner_names(api, user_factory, make_group, make_p2p):
    me = user_factory()
    zoe = user_factory(profile={"display_name": "Zoë Ångström"})
    bob = user_factory(profile={"display_name": "Bob"})
    jose_room = make_group(me, bob, name="José's café")
    other_room = make_group(me, bob, name="Plain")
    zoe_p2p = make_p2p(me, zoe)
    bob_p2p = make_p2p(me, bob)

    assert _ids(api(me).get(LIST, {"search": "jose"})) == [str(jose_room)]
    assert _ids(api(me).get(LIST, {"search": "JOSÉ'S CAFE"})) == [str(jose_room)]
    assert _ids(api(me).get(LIST, {"search": "angstrom"})) == [str(zoe_p2p)]
    assert _ids(api(me).get(LIST, {"search": "zoë"})) == [str(zoe_p2p)]
    # A group member's name is not a p2p partner name: "bob" finds only the p2p room with Bob.
    assert _ids(api(me).get(LIST, {"search": "bob"})) == [str(bob_p2p)]
    assert _ids(api(me).get(LIST, {"search": "nothing-like-it"})) == []
    assert str(other_room) in _ids(api(me).get(LIST))


@pytest.mark.django_db
def test_type_since_and_paging(api, user_factory, make_group, make_p2p) -> None:
    me, other, third = user_factory(), user_factory(), user_factory()
    groups = [make_group(me, other, name=f"g{i}") for i in range(3)]
    p2p = make_p2p(me, third)
    long_ago = timezone.now() - timedelta(days=3)
    for group in groups[:2]:
        probe.room_update(group, updated_at=long_ago)
        probe.participant_update(group, updated_at=long_ago)
    since = (timezone.now() - timedelta(days=1)).isoformat()

    assert _ids(api(me).get(LIST, {"type": "p2p"})) == [str(p2p)]
    assert set(_ids(api(me).get(LIST, {"since": since}))) == {str(groups[2]), str(p2p)}
    page = api(me).get(LIST, {"type": "group", "limit": 2, "page": 2}).json()
    assert len(page["items"]) == 1
    assert page["meta"] == {
        "total_items": 3,
        "item_count": 1,
        "items_per_page": 2,
        "total_pages": 2,
        "current_page": 2,
    }


@pytest.mark.parametrize(
    "params", [{"limit": "0"}, {"limit": "x"}, {"page": "-1"}, {"since": "yesterday"}, {"type": "x"}]
)
@pytest.mark.django_db
def test_bad_list_parameters_are_400(api, user_factory, params) -> None:
    response = api(user_factory()).get(LIST, params)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request_data"


@pytest.mark.django_db
def test_removed_and_deleted_rooms_are_not_listed(api, user_factory, make_group, make_p2p) -> None:
    me, other = user_factory(), user_factory()
    left = make_group(other, me, name="left")
    deleted_p2p = make_p2p(me, other)
    kept = make_group(me, other, name="kept")
    services.room_leave(user_id=me.id, room_id=left)
    services.room_leave(user_id=other.id, room_id=deleted_p2p)

    assert _ids(api(me).get(LIST)) == [str(kept)]


def _make_rooms(count: int, me, others) -> None:  # type: ignore[no-untyped-def]
    """Rooms with a last message and an unread message each; half p2p, half groups of 6."""
    for i in range(count):
        if i % 2:
            room = services.room_create(user_id=me.id, room_type="p2p", participant_ids=[others[i].id]).room
        else:
            room = services.room_create(
                user_id=me.id, room_type="group", participant_ids=[o.id for o in others[:6]], name=f"g{i}"
            ).room
        sender = others[i] if i % 2 else others[0]
        message_send(user_id=sender.id, request=SendRequest(room_id=uuid.UUID(room["id"]), text=f"hello {i}"))


@pytest.mark.django_db
def test_get_rooms_queries_are_bounded_whatever_the_number_of_rooms(
    api, user_factory, django_assert_max_num_queries
) -> None:
    few, many = user_factory(), user_factory()
    others = [user_factory() for _ in range(50)]
    _make_rooms(5, few, others)
    _make_rooms(50, many, others)

    def queries_of(user, limit: int) -> int:  # type: ignore[no-untyped-def]
        client = api(user)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(LIST, {"limit": limit})
        assert response.status_code == 200
        assert len(response.json()["items"]) == min(limit, 50 if user == many else 5)
        for room in response.json()["items"]:
            assert room["unread_count"] == 1
            assert room["last_message"]["text"].startswith("hello")
        return len(captured)

    from django.core.cache import cache

    cache.clear()
    cold_few = queries_of(few, 100)
    cache.clear()
    cold_many = queries_of(many, 100)
    warm_many = queries_of(many, 100)

    assert cold_many == cold_few  # the bound does not grow with the number of rooms
    assert warm_many <= cold_many
    # auth 1 + rooms 2 (count, page) + participants 1 (cold only) + messaging's bulk last messages
    # and unread counts (~6), however many rooms.
    with django_assert_max_num_queries(12):
        api(many).get(LIST, {"limit": 100})


@pytest.mark.django_db
def test_get_room_for_members_only(api, user_factory, make_group) -> None:
    owner, member, stranger = user_factory(), user_factory(), user_factory()
    room_id = make_group(owner, member, name="Team")
    url = f"/api/chat/v1/room/{room_id}"

    ok = api(member).get(url)
    assert ok.status_code == 200
    assert ok.json()["success"] is True
    assert ok.json()["room"]["id"] == str(room_id)
    assert ok.json()["room"]["role"] == "MEMBER"
    encode_event({"room": ok.json()["room"]})

    for response in (
        api(stranger).get(url),
        api(member).get("/api/chat/v1/room/00000000-0000-0000-0000-000000000000"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert api().get(url).json()["code"] == "invalid_token"

    services.room_leave(user_id=member.id, room_id=room_id)
    assert api(member).get(url).status_code == 404


@pytest.mark.django_db
def test_formatted_group_lists_at_most_five_participants_and_encodes(api, user_factory, make_group) -> None:
    owner = user_factory()
    members = [user_factory() for _ in range(7)]
    room_id = make_group(owner, *members)
    message_send(user_id=members[0].id, request=SendRequest(room_id=room_id, text="hi"))

    room = api(owner).get(f"/api/chat/v1/room/{room_id}").json()["room"]

    assert len(room["participants"]) == 5
    assert room["participants"][0]["id"] == str(owner.id)
    assert room["unread_count"] == 1
    assert room["last_message"]["text"] == "hi"
    assert room["last_message_at"] == room["last_message"]["created_at"]
    for field in ("created_at", "updated_at", "last_message_at"):
        assert "T" in room[field]
    decoded = encode_event({"room": room, "room_id": room["id"]})
    assert decoded.room.last_message.room_id == str(room_id)
    assert len(decoded.room.participants) == 5


@pytest.mark.django_db
def test_participants_paged_and_searched(api, user_factory, make_group) -> None:
    owner = user_factory(profile={"display_name": "Owner"})
    members = [user_factory(profile={"display_name": f"Member {i}"}) for i in range(4)]
    jose = user_factory(profile={"display_name": "José"})
    room_id = make_group(owner, *members, jose)
    url = f"/api/chat/v1/room/{room_id}/participants"

    first = api(owner).get(url, {"limit": 4}).json()
    assert [p["name"] for p in first["participants"]][:1] == ["Owner"]
    assert first["meta"]["total_items"] == 6 and first["meta"]["total_pages"] == 2
    assert api(owner).get(url, {"limit": 4, "page": 2}).json()["meta"]["item_count"] == 2
    found = api(owner).get(url, {"search": "jose"}).json()["participants"]
    assert [p["id"] for p in found] == [str(jose.id)]
    assert found[0]["role"] == "MEMBER" and found[0]["removed_at"] is None

    stranger = api(user_factory()).get(url)
    assert stranger.status_code == 404 and stranger.json()["code"] == "not_found"
