"""Per-user rates (kernel/throttling.py): over one, 429 `throttled` with Retry-After, nothing stored."""

from __future__ import annotations

import pytest

from tests.messaging.conftest import assert_error, make_room, post, send, snapshot

pytestmark = pytest.mark.django_db


def test_sends_over_the_default_rate_are_refused_with_retry_after(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    client = api(alice)
    for n in range(120):  # the default: 120 a minute
        send(client, room, f"m{n}")
    before = snapshot()
    response = post(client, "send", {"room_id": str(room.id), "text": "one too many"})
    assert_error(response, 429, "throttled")
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert snapshot() == before
    # Edits and reactions share the budget; other users have their own.
    assert post(client, "react", {"message_id": send(api(bob), room, "x")["id"], "reaction": "👍"}).status_code == 429
    assert send(api(bob), room, "bob is not throttled")["text"] == "bob is not throttled"


def test_room_creation_and_member_adds_have_rates_of_their_own(api, user_factory, settings) -> None:
    settings.CHAT_RATES = {"room_create": "2/h", "member_add": "1/h"}
    alice, bob, carol, dave = (user_factory() for _ in range(4))
    for _ in range(2):
        body = {"type": "group", "name": "g", "participants": [bob.id]}
        assert post(api(alice), "room/create", body).status_code == 200
    assert_error(
        post(api(alice), "room/create", {"type": "group", "name": "g", "participants": [bob.id]}), 429, "throttled"
    )
    room = make_room(bob, [alice])
    add = {"id": str(room.id), "participants": [carol.id]}
    assert post(api(bob), "room/participant/add", add).status_code == 200
    before = snapshot()
    assert_error(post(api(bob), "room/participant/add", {**add, "participants": [dave.id]}), 429, "throttled")
    assert snapshot() == before


def test_a_rate_set_empty_is_off(api, user_factory, settings) -> None:
    settings.CHAT_RATES = {"send": ""}
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    for n in range(130):
        send(api(alice), room, f"m{n}")
