"""Consent to groups: a user who has blocked someone in their p2p room cannot be put into a group by
them, neither by CreateRoom nor by AddParticipantToRoom; the refusal is the one of an unknown user."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from rooms import services
from storage import get_repository
from tests import storage_probe as probe

CREATE = "/api/chat/v1/room/create"
ADD = "/api/chat/v1/room/participant/add"
BLOCK = "/api/chat/v1/room/block"


def _state() -> tuple[Any, ...]:
    return (
        sorted((p.room_id.int, p.user_id, p.role, p.removed_at) for p in probe.participants()),
        sorted((r.id.int, r.deleted_at) for r in probe.rooms()),
        len(probe.messages()),
        len(probe.outbox()),
    )


def _block(api: Any, user: Any, room_id: uuid.UUID) -> bool:
    """BlockUser as `user` in the p2p room; the caller's is_partner_blocked after the toggle."""
    response = api(user).post(BLOCK, {"id": str(room_id)}, format="json")
    assert response.status_code == 200, response.content
    return probe.participant(room_id, user.id).is_partner_blocked


def _active(room_id: uuid.UUID) -> set[int]:
    return {p.user_id for p in probe.participants(room_id=room_id, removed_at=None)}


def _refused_like_an_unknown_user(response: Any, user_id: int) -> None:
    assert response.status_code == 400, response.content
    assert response.json() == {
        "code": "invalid_request_data",
        "message": "Unknown or unavailable users.",
        "details": {"participants": [f"Unknown or unavailable user ids: {user_id}."]},
    }


# --- CreateRoom -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_group_create_with_a_participant_who_blocked_the_caller_is_refused_and_writes_nothing(
    api, user_factory, make_p2p
) -> None:
    alice, bob, carol = user_factory(), user_factory(), user_factory()
    assert _block(api, bob, make_p2p(alice, bob)) is True
    payload = {"type": "group", "name": "T", "participants": [carol.id, bob.id]}
    before = _state()

    response = api(alice).post(CREATE, payload, format="json")

    _refused_like_an_unknown_user(response, bob.id)
    assert _state() == before  # no room, no participant, no message, no event


@pytest.mark.django_db
def test_a_block_is_refused_exactly_like_an_unknown_user(api, user_factory, make_p2p) -> None:
    alice, bob, carol = user_factory(), user_factory(), user_factory()
    _block(api, bob, make_p2p(alice, bob))
    unknown = 10**12

    both = {"type": "group", "name": "T", "participants": [carol.id, bob.id, unknown]}

    response = api(alice).post(CREATE, both, format="json")

    # One answer for both, in the order given: nothing tells the block from the missing account.
    assert response.status_code == 400
    assert response.json()["details"] == {"participants": [f"Unknown or unavailable user ids: {bob.id}, {unknown}."]}
    alone = api(alice).post(CREATE, {"type": "group", "name": "T", "participants": [unknown]}, format="json")
    _refused_like_an_unknown_user(alone, unknown)


@pytest.mark.django_db
def test_a_p2p_create_with_the_blocker_answers_the_pairs_room(api, user_factory, make_p2p) -> None:
    alice, bob = user_factory(), user_factory()
    room_id = make_p2p(alice, bob)
    _block(api, bob, room_id)
    before = _state()

    response = api(alice).post(CREATE, {"type": "p2p", "participants": [bob.id]}, format="json")

    assert response.status_code == 200 and response.json()["room"]["id"] == str(room_id)
    assert _state() == before


# --- AddParticipantToRoom -------------------------------------------------------------------------


@pytest.mark.django_db
def test_add_of_a_user_who_blocked_the_caller_is_refused_and_writes_nothing(
    api, user_factory, make_group, make_p2p
) -> None:
    alice, bob, carol, dave = user_factory(), user_factory(), user_factory(), user_factory()
    group = make_group(alice, carol)
    _block(api, bob, make_p2p(alice, bob))
    before = _state()

    response = api(alice).post(ADD, {"id": str(group), "participants": [dave.id, bob.id]}, format="json")

    _refused_like_an_unknown_user(response, bob.id)
    assert _state() == before  # dave is not added either: the whole request is refused
    assert _active(group) == {alice.id, carol.id}


@pytest.mark.django_db
def test_a_removed_member_who_blocked_the_caller_is_not_reactivated(api, user_factory, make_group, make_p2p) -> None:
    alice, bob = user_factory(), user_factory()
    group = make_group(alice, bob)
    services.room_leave(user_id=bob.id, room_id=group)
    _block(api, bob, make_p2p(alice, bob))
    before = _state()

    _refused_like_an_unknown_user(
        api(alice).post(ADD, {"id": str(group), "participants": [bob.id]}, format="json"), bob.id
    )
    assert _state() == before


@pytest.mark.django_db
def test_naming_an_active_member_who_blocked_the_caller_stays_a_no_op(api, user_factory, make_group, make_p2p) -> None:
    alice, bob = user_factory(), user_factory()
    group = make_group(alice, bob)
    _block(api, bob, make_p2p(alice, bob))
    before = _state()

    response = api(alice).post(ADD, {"id": str(group), "participants": [bob.id]}, format="json")

    assert response.status_code == 200, response.content
    assert _state() == before


@pytest.mark.django_db
def test_after_the_blocker_unblocks_the_add_works(api, user_factory, make_group, make_p2p) -> None:
    alice, bob, carol = user_factory(), user_factory(), user_factory()
    group = make_group(alice, carol)
    p2p = make_p2p(alice, bob)
    assert _block(api, bob, p2p) is True
    _refused_like_an_unknown_user(
        api(alice).post(ADD, {"id": str(group), "participants": [bob.id]}, format="json"), bob.id
    )

    assert _block(api, bob, p2p) is False  # the toggle again: unblocked
    response = api(alice).post(ADD, {"id": str(group), "participants": [bob.id]}, format="json")

    assert response.status_code == 200, response.content
    assert _active(group) == {alice.id, bob.id, carol.id}
    created = api(alice).post(CREATE, {"type": "group", "name": "T", "participants": [bob.id]}, format="json")
    assert created.status_code == 200, created.content


@pytest.mark.django_db
def test_a_block_by_the_caller_does_not_stop_the_caller_adding_the_blocked_user(
    api, user_factory, make_group, make_p2p
) -> None:
    """The rule protects the blocker: blocking someone is no consent rule on the blocker's own adds."""
    alice, bob, carol = user_factory(), user_factory(), user_factory()
    group = make_group(alice, carol)
    _block(api, alice, make_p2p(alice, bob))  # alice blocked bob

    added = api(alice).post(ADD, {"id": str(group), "participants": [bob.id]}, format="json")
    created = api(alice).post(CREATE, {"type": "group", "name": "T", "participants": [bob.id]}, format="json")

    assert added.status_code == 200, added.content
    assert bob.id in _active(group)
    assert created.status_code == 200, created.content


@pytest.mark.django_db
def test_a_block_of_someone_else_does_not_concern_the_caller(api, user_factory, make_group, make_p2p) -> None:
    alice, bob, carol = user_factory(), user_factory(), user_factory()
    group = make_group(alice, carol)
    _block(api, bob, make_p2p(bob, carol))  # bob blocked carol, not alice

    response = api(alice).post(ADD, {"id": str(group), "participants": [bob.id]}, format="json")

    assert response.status_code == 200, response.content
    assert bob.id in _active(group)


@pytest.mark.django_db
def test_staff_adding_from_the_admin_are_not_held_by_their_own_p2p_blocks(
    api, user_factory, make_group, make_p2p
) -> None:
    alice, bob, staff = user_factory(), user_factory(), user_factory(is_staff=True)
    group = make_group(alice, user_factory())
    _block(api, bob, make_p2p(staff, bob))

    result = services.room_participants_add(user_id=staff.id, room_id=group, participant_ids=[bob.id], as_staff=True)

    assert result.added == (bob.id,)


# --- the repository's look-up ---------------------------------------------------------------------


@pytest.mark.django_db
def test_users_blocking_finds_the_blockers_in_a_bounded_number_of_round_trips(api, user_factory, make_p2p) -> None:
    alice = user_factory()
    partners = [user_factory() for _ in range(12)]
    rooms = {p.id: make_p2p(alice, p) for p in partners}
    blockers = {partners[1].id, partners[4].id, partners[7].id}
    for p in partners:
        if p.id in blockers:
            _block(api, p, rooms[p.id])
    _block(api, partners[9], rooms[partners[9].id])
    services.room_leave(user_id=partners[9].id, room_id=rooms[partners[9].id])  # the pair's room is gone
    _block(api, alice, rooms[partners[2].id])  # the caller's own block: not a block of the caller
    strangers = [user_factory().id for _ in range(3)]  # no p2p room with alice
    repo = get_repository()

    with probe.round_trips() as one:
        assert repo.users_blocking(alice.id, [partners[1].id]) == {partners[1].id}
    with probe.round_trips() as many:
        found = repo.users_blocking(alice.id, [alice.id, *(p.id for p in partners), *strangers])

    assert found == blockers
    assert many.count == one.count  # not one read per user
    if repo.name == "postgres":
        assert many.count == 1
    assert repo.users_blocking(alice.id, []) == set()
