"""Size limits: refused with a 400 (413 for an event too large to publish) and a code, before anything
is stored; values beyond what storage and the wire hold are a 400, never a 500."""

from __future__ import annotations

import pytest

from events.builders import envelope_size, room_event
from kernel import limits
from streaming.envelope import encode_envelope
from tests.messaging.conftest import assert_error, make_room, post, send, snapshot
from tests.messaging.test_send import client_encrypt, client_unwrap

pytestmark = pytest.mark.django_db


def _refused(response, field: str, code: str = "invalid_request_data", status: int = 400) -> None:
    body = assert_error(response, status, code)
    assert field in body["details"], body


def test_message_fields_over_their_limits_are_refused_and_nothing_is_stored(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    key, iv = client_unwrap(room.encryption_data)
    too_long = "x" * (limits.MESSAGE_TEXT_MAX_CHARS + 1)
    before = snapshot()
    cases = {
        "text": {"text": too_long},
        "content": {"content": "A" * (limits.MESSAGE_CONTENT_MAX_CHARS + 4)},
        "mentions": {"text": "hi", "mentions": [{"tag": "@b", "user": bob.id}] * (limits.MENTIONS_MAX + 1)},
        "lifetime": {"text": "hi", "lifetime": limits.INT32_MAX + 1},
    }
    for field, body in cases.items():
        _refused(post(api(alice), "send", {"room_id": str(room.id), **body}), field)
    # Ciphertexts within their length cap that decrypt to more text than allowed.
    for char in ("x", "😀"):
        content = client_encrypt(char * (limits.MESSAGE_TEXT_MAX_CHARS + 1), key, iv)
        assert len(content) <= limits.MESSAGE_CONTENT_MAX_CHARS
        _refused(post(api(alice), "send", {"room_id": str(room.id), "content": content}), "content")
    assert snapshot() == before
    # At the limit it is accepted.
    assert send(api(alice), room, "y" * limits.MESSAGE_TEXT_MAX_CHARS)["text"] == "y" * limits.MESSAGE_TEXT_MAX_CHARS


def test_an_edit_over_the_limit_is_refused(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    message = send(api(alice), room, "short")
    before = snapshot()
    body = {"message_id": message["id"], "new_text": "x" * (limits.MESSAGE_TEXT_MAX_CHARS + 1)}
    _refused(post(api(alice), "edit", body), "new_text")
    assert snapshot() == before


def test_room_fields_and_ids_beyond_their_limits_are_refused(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    before = snapshot()
    base = {"type": "group", "name": "g", "participants": [bob.id]}
    cases = {
        "description": {**base, "description": "d" * (limits.ROOM_DESCRIPTION_MAX_CHARS + 1)},
        "name": {**base, "name": "n" * (limits.ROOM_NAME_MAX_CHARS + 1)},
        "participants": {**base, "participants": [2**63]},  # beyond a bigint
    }
    for field, body in cases.items():
        _refused(post(api(alice), "room/create", body), field)
    assert snapshot() == before
    response = api(alice).get("/api/chat/v1/room/list", {"page": 2**40})
    _refused(response, "page")


def test_a_room_takes_at_most_the_member_limit(api, user_factory, monkeypatch) -> None:
    monkeypatch.setattr(limits, "ROOM_MEMBERS_MAX", 3)
    alice, bob, carol, dave, erin = (user_factory() for _ in range(5))
    body = {"type": "group", "name": "g", "participants": [bob.id, carol.id, dave.id]}
    _refused(post(api(alice), "room/create", body), "participants", code="room_full")
    room = make_room(alice, [bob])
    assert post(api(alice), "room/participant/add", {"id": str(room.id), "participants": [carol.id]}).status_code == 200
    before = snapshot()
    response = post(api(alice), "room/participant/add", {"id": str(room.id), "participants": [dave.id, erin.id]})
    _refused(response, "participants", code="room_full")
    assert snapshot() == before


def test_a_change_whose_event_would_be_too_large_to_publish_is_refused_with_413(api, user_factory, monkeypatch) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    monkeypatch.setattr(limits, "EVENT_MAX_BYTES", 3_000)
    before = snapshot()
    response = post(api(alice), "send", {"room_id": str(room.id), "text": "z" * 2_000})
    _refused(response, "event", code="payload_too_large", status=413)
    assert snapshot() == before


def test_the_envelope_size_is_measured_exactly() -> None:
    record = room_event("delete_message", "m" * 1000, room_id="r", actor_user_id=12345)
    from events.builders import encode_event

    payload = encode_event(record.data).ByteSize()
    assert envelope_size(payload, "12345") == len(encode_envelope(actor_user_id="12345", data=record.data))
