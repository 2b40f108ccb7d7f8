"""SendMessage: rules in the original order, storage, meta rows, idempotency, events, query count."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings
from django.db import connection

from events.builders import encode_event
from rooms import services as room_services
from tests import storage_probe as probe
from tests.messaging.conftest import (
    assert_error,
    last_outbox_id,
    make_room,
    outbox_since,
    post,
    send,
    snapshot,
)

pytestmark = pytest.mark.django_db

# Measured: 3 on PostgreSQL (token auth, membership, one statement that writes the message, the room's
# last message and the outbox rows). 16 with a reply and mentions: the reply's checks (2) and the
# formatting of the replied-to message (6), the mentions' look-up (1), and, for the mention rows, the
# ORM's unit of work instead of the one statement. Whatever the number of mentions or participants.
SEND_MAX_QUERIES = 3
SEND_WITH_REPLY_MAX_QUERIES = 16


# --- an independent client-side implementation of SPEC.md §6 (not kernel.crypto) -------------


def _aes_cbc(key: bytes, iv: bytes) -> Cipher:
    return Cipher(algorithms.AES(key), modes.CBC(iv))


def client_unwrap(encryption_data: str) -> tuple[bytes, bytes]:
    """encryption_data = base64(hex(AES-256-CBC/PKCS7(JSON {"key","iv"}, master key, master IV)))."""
    sealed = bytes.fromhex(base64.b64decode(encryption_data).decode("ascii"))
    decryptor = _aes_cbc(settings.CHAT_MASTER_KEY, settings.CHAT_MASTER_IV).decryptor()
    padded = decryptor.update(sealed) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    document = json.loads(unpadder.update(padded) + unpadder.finalize())
    return bytes.fromhex(document["key"]), bytes.fromhex(document["iv"])


def client_encrypt(text: str, key: bytes, iv: bytes) -> str:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(text.encode()) + padder.finalize()
    encryptor = _aes_cbc(key, iv).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()


def client_decrypt(content: str, key: bytes, iv: bytes) -> str:
    decryptor = _aes_cbc(key, iv).decryptor()
    padded = decryptor.update(base64.b64decode(content)) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return (unpadder.update(padded) + unpadder.finalize()).decode()


# --- success --------------------------------------------------------------------------------------


def test_client_encrypted_content_is_decrypted_and_stored(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    created = post(api(alice), "room/create", {"type": "group", "name": "G", "participants": [bob.id]})
    assert created.status_code == 200, created.content
    room = created.json()["room"]
    key, iv = client_unwrap(room["encryption_data"])
    content = client_encrypt("¡Hola, señor! 👋", key, iv)

    message = send(api(alice), uuid.UUID(room["id"]), text="", content=content)

    stored = probe.message(message["id"])
    assert stored.text == "¡Hola, señor! 👋"
    assert stored.content == content
    assert message["content"] == content and message["text"] == "¡Hola, señor! 👋"


def test_plain_text_is_encrypted_with_the_room_key(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    message = send(api(alice), room, "plain words")
    key, iv = client_unwrap(room.encryption_data)
    assert client_decrypt(message["content"], key, iv) == "plain words"
    assert client_decrypt(probe.message(message["id"]).content, key, iv) == "plain words"


def test_send_stores_message_meta_rows_and_emits_events(api, user_factory) -> None:
    alice, bob, carol, gone = user_factory(), user_factory(), user_factory(), user_factory()
    room = make_room(alice, [bob, carol, gone])
    probe.participant_update(room.id, gone.id, removed_at="2026-01-01T00:00:00Z")
    marker = last_outbox_id()

    message = send(api(alice), room, "hi all", sender_message_id="c-1", lifetime=60, origin="web")

    stored = probe.message(message["id"])
    assert (stored.type, stored.status, stored.sender_id, stored.room_id) == ("user_message", "SENT", alice.id, room.id)
    assert (stored.lifetime, stored.origin, stored.sender_message_id) == (60, "web", "c-1")
    metas = {m.user_id: m for m in probe.metas(message_id=stored.id)}
    assert set(metas) == {alice.id, bob.id, carol.id}
    assert metas[alice.id].read_at is not None
    assert metas[bob.id].read_at is None and metas[carol.id].read_at is None
    assert not any(m.is_sender_blocked or m.is_deleted for m in metas.values())
    room = probe.room(room.id)
    assert room.last_message_id == stored.id and room.last_message_at == stored.created_at

    assert message["sender"] == {
        "id": str(alice.id),
        "name": f"Name {alice.username}",
        "avatar": "",
        "phone": "+100000",
    }
    assert message["status"] == "SENT" and message["type"] == "user_message"
    events = outbox_since(marker)
    assert [e.event_type for e in events] == ["status_update", "message"]
    status, new = events
    assert status.subject == f"CHAT_EVENTS.{room.id}" and status.actor_user_id == str(alice.id)
    assert status.data["status_update"] == {
        "message_id": message["id"],
        "status": "SENT",
        "updated_at": message["created_at"],
        "user_id": str(alice.id),
        "sender_id": str(alice.id),
    }
    assert new.subject == f"CHAT_EVENTS.{room.id}" and new.room_id == str(room.id)
    assert new.data["message"] == message
    encode_event(new.data)


def test_response_and_event_encode_as_proto(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    first = send(api(alice), room, "first")
    message = send(
        api(bob),
        room,
        "reply",
        reply_id=first["id"],
        mentions=[{"tag": "@alice", "user": str(alice.id)}],
        location_name="Here",
        location_latitude=40.4,
        location_longitude=-3.7,
    )
    encode_event({"message": message})
    assert message["reply"]["id"] == first["id"] and "reply" not in message["reply"]
    assert message["mentions"] == [{"tag": "@alice", "user": str(alice.id)}]
    assert (message["location_latitude"], message["location_longitude"]) == (40.4, -3.7)
    assert [(m.user_id, m.tag) for m in probe.mentions(message_id=uuid.UUID(message["id"]))] == [(alice.id, "@alice")]


@pytest.mark.parametrize(
    "fields, kind",
    [
        ({"location_name": "Café", "location_latitude": 1.5, "location_longitude": 2.5}, "user_message"),
        ({"contact_name": "Ana", "contact_phone": "+34600000000", "contact_id": "77"}, "contact"),
        ({"file": "https://files.example.com/a.pdf"}, "user_message"),
    ],
)
def test_attachments_need_no_text(api, user_factory, fields: dict[str, Any], kind: str) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    message = send(api(alice), room, text="", **fields)
    assert message["type"] == kind and message["text"] == "" and message["content"] == ""
    for name, value in fields.items():
        assert message[name] == value


def test_forward_of_a_visible_message_from_another_room(api, user_factory) -> None:
    alice, bob, carol = user_factory(), user_factory(), user_factory()
    source = make_room(alice, [bob], name="source")
    target = make_room(bob, [carol], name="target")
    original = send(api(alice), source, "worth sharing")

    forwarded = send(api(bob), target, text="", forward_id=original["id"])

    assert forwarded["forward_id"] == original["id"]
    assert forwarded["forwarded_from"]["id"] == str(alice.id)
    assert forwarded["text"] == "worth sharing"
    key, iv = client_unwrap(target.encryption_data)
    assert client_decrypt(forwarded["content"], key, iv) == "worth sharing"


# --- idempotency ----------------------------------------------------------------------------------


def test_same_sender_message_id_returns_the_first_message(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    first = send(api(alice), room, "once", sender_message_id="dup-1")
    marker = last_outbox_id()
    before = snapshot()

    again = send(api(alice), room, "once, retried", sender_message_id="dup-1")

    assert again["id"] == first["id"] and again["text"] == "once"
    assert snapshot() == before and outbox_since(marker) == []
    # Another sender may use the same client id.
    other = send(api(bob), room, "mine", sender_message_id="dup-1")
    assert other["id"] != first["id"]


def test_the_unique_constraint_decides_a_repeated_sender_message_id(api, user_factory, monkeypatch) -> None:
    """No look-up before the insert: the insert meets the constraint, writes nothing (no outbox row,
    no last-message move) and the first message is read once, after it."""
    from storage import get_repository

    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    first = send(api(alice), room, "first", sender_message_id="race-1")
    repo = get_repository()
    real = type(repo).message_get_by_sender_message_id
    calls = {"n": 0}

    def counted(self: Any, sender_id: int, sender_message_id: str) -> Any:
        calls["n"] += 1
        return real(self, sender_id, sender_message_id)

    monkeypatch.setattr(type(repo), "message_get_by_sender_message_id", counted)
    marker = last_outbox_id()
    before = snapshot()

    again = send(api(alice), room, "second", sender_message_id="race-1")

    assert calls["n"] == 1
    assert again["id"] == first["id"] and again["text"] == "first"
    assert snapshot() == before and outbox_since(marker) == []


def test_a_retry_whose_checks_now_fail_answers_with_the_stored_message(api, user_factory) -> None:
    """The replied-to message was deleted after the first send: its retry still gets the message."""
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    quoted = send(api(bob), room, "quoted")
    body = {"room_id": str(room.id), "text": "reply", "reply_id": quoted["id"], "sender_message_id": "retry-1"}
    first = post(api(alice), "send", body).json()
    assert post(api(bob), "delete", {"room_id": str(room.id), "message_ids": [quoted["id"]]}).status_code == 200
    marker = last_outbox_id()

    again = post(api(alice), "send", body).json()

    assert again["message"]["id"] == first["message"]["id"]
    assert outbox_since(marker) == []
    # Without the sender_message_id the same request is refused.
    refused = api(alice).post("/api/chat/v1/send", {**body, "sender_message_id": ""}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_request_data"


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_with_one_sender_message_id_store_one_message(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    barrier = threading.Barrier(4)
    results: list[Any] = []
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            client = api(alice)
            barrier.wait(timeout=10)
            results.append(post(client, "send", {"room_id": str(room.id), "text": f"t{n}", "sender_message_id": "c"}))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors
    assert [r.status_code for r in results] == [200] * 4
    ids = {r.json()["message"]["id"] for r in results}
    assert len(ids) == 1
    assert len(probe.messages(sender_id=alice.id, sender_message_id="c")) == 1
    assert len(probe.metas(message_id=uuid.UUID(ids.pop()))) == 2


# --- refusals, in the original order -------------------------------------------------------------


def test_room_id_is_required(api, user_factory) -> None:
    alice = user_factory()
    before = snapshot()
    body = assert_error(post(api(alice), "send", {"text": "x"}), 400, "invalid_request_data")
    assert "room_id" in body["details"]
    assert snapshot() == before


def test_anonymous_is_refused(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    assert_error(post(api(), "send", {"room_id": str(room.id), "text": "x"}), 401, "invalid_token")


@pytest.mark.parametrize("how", ["stranger", "removed", "unknown room"])
def test_non_members_get_404(api, user_factory, how: str) -> None:
    alice, bob, eve = user_factory(), user_factory(), user_factory()
    room = make_room(alice, [bob, eve])
    room_id = room.id
    if how == "removed":
        probe.participant_update(room.id, eve.id, removed_at="2026-01-01T00:00:00Z")
    elif how == "unknown room":
        room_id = uuid.uuid4()
    caller = eve if how != "stranger" else user_factory()
    before = snapshot()
    # Even an invalid body answers 404 first: membership is checked before the content.
    assert_error(post(api(caller), "send", {"room_id": str(room_id), "content": "!!"}), 404, "not_found")
    assert snapshot() == before


def test_group_member_without_send_message_gets_403_before_mention_checks(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob], send_message=False)
    before = snapshot()
    body = {"room_id": str(room.id), "text": "x", "mentions": [{"tag": "@z", "user": 999999}]}
    assert_error(post(api(bob), "send", body), 403, "permission_denied")
    assert snapshot() == before
    # The OWNER keeps the permission.
    assert send(api(alice), room, "owner speaks")["text"] == "owner speaks"


def test_mentions_are_refused_in_p2p_before_the_block_check(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob], type="p2p")
    assert post(api(alice), "room/block", {"id": str(room.id)}).status_code == 200
    before = snapshot()
    body = {"room_id": str(room.id), "text": "x", "mentions": [{"tag": "@bob", "user": bob.id}]}
    assert "mentions" in assert_error(post(api(alice), "send", body), 400, "invalid_request_data")["details"]
    assert snapshot() == before


def test_sender_who_blocked_the_partner_cannot_send(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob], type="p2p")
    assert post(api(alice), "room/block", {"id": str(room.id)}).status_code == 200
    before = snapshot()
    assert_error(post(api(alice), "send", {"room_id": str(room.id), "text": "x"}), 403, "partner_blocked")
    assert snapshot() == before


def test_partner_who_blocked_the_sender_does_not_see_the_message(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob], type="p2p")
    assert post(api(bob), "room/block", {"id": str(room.id)}).status_code == 200
    marker = last_outbox_id()

    message = send(api(alice), room, "can you hear me?")

    (bob_meta,) = probe.metas(message_id=uuid.UUID(message["id"]), user_id=bob.id)
    assert bob_meta.is_sender_blocked and bob_meta.read_at is None
    assert api(bob).get(f"/api/chat/v1/history/{room.id}").json()["items"] == []
    assert api(bob).get(f"/api/chat/v1/room/{room.id}").json()["room"]["unread_count"] == 0
    assert api(bob).get(f"/api/chat/v1/message/{message['id']}").status_code == 404
    assert [i["id"] for i in api(alice).get(f"/api/chat/v1/history/{room.id}").json()["items"]] == [message["id"]]
    # The `message` event goes to the sender's own subject only, not to the room the partner streams.
    events = {e.event_type: e for e in outbox_since(marker)}
    assert events["message"].subject == f"CHAT_DIRECT_EVENTS.{alice.id}"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"content": "abc", "text": "abc"}, "content"),
        ({}, "content"),
        ({"text": ""}, "content"),
    ],
)
def test_exactly_one_of_content_and_text(api, user_factory, body: dict[str, Any], field: str) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    before = snapshot()
    error = assert_error(post(api(alice), "send", {"room_id": str(room.id), **body}), 400, "invalid_request_data")
    assert field in error["details"]
    assert snapshot() == before


@pytest.mark.parametrize("content", ["not base64 !!", base64.b64encode(b"short").decode(), "AAAAAAAAAAAAAAAAAAAAAA=="])
def test_undecryptable_content_is_refused(api, user_factory, content: str) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    other_key, other_iv = client_unwrap(make_room(alice, [bob], name="other").encryption_data)
    before = snapshot()
    assert_error(post(api(alice), "send", {"room_id": str(room.id), "content": content}), 400, "invalid_ciphertext")
    wrong_key = client_encrypt("secret", other_key, other_iv)
    response = post(api(alice), "send", {"room_id": str(room.id), "content": wrong_key})
    # A foreign key decrypts to garbage: either bad padding or not UTF-8; both are refused.
    assert_error(response, 400, "invalid_ciphertext")
    assert snapshot() == before


def test_reply_must_be_in_the_same_room(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room, other = make_room(alice, [bob]), make_room(alice, [bob], name="other")
    elsewhere = send(api(alice), other, "elsewhere")
    before = snapshot()
    for reply_id in (elsewhere["id"], str(uuid.uuid4())):
        response = post(api(alice), "send", {"room_id": str(room.id), "text": "x", "reply_id": reply_id})
        assert "reply_id" in assert_error(response, 400, "invalid_request_data")["details"]
    assert snapshot() == before


def test_reply_needs_a_message_the_sender_can_see(api, user_factory) -> None:
    """A member who joined later cannot quote (and so show everyone) a message from before they joined."""
    alice, bob, late = user_factory(), user_factory(), user_factory()
    room = make_room(alice, [bob])
    earlier = send(api(alice), room, "said before late joined")
    room_services.room_participants_add(user_id=alice.id, room_id=room.id, participant_ids=[late.id])
    before = snapshot()
    response = post(api(late), "send", {"room_id": str(room.id), "text": "quoting", "reply_id": earlier["id"]})
    assert "reply_id" in assert_error(response, 400, "invalid_request_data")["details"]
    assert snapshot() == before
    # Bob, who saw it, still can; and late can reply to what was sent after they joined.
    assert send(api(bob), room, "quoting", reply_id=earlier["id"])["reply"]["id"] == earlier["id"]
    since = send(api(alice), room, "said after")
    assert send(api(late), room, "ok", reply_id=since["id"])["reply"]["id"] == since["id"]


def test_forward_needs_a_message_the_sender_can_see(api, user_factory) -> None:
    alice, bob, carol = user_factory(), user_factory(), user_factory()
    secret_room = make_room(alice, [carol], name="secret")
    room = make_room(bob, [carol])
    secret = send(api(alice), secret_room, "secret")
    before = snapshot()
    response = post(api(bob), "send", {"room_id": str(room.id), "text": "", "forward_id": secret["id"]})
    assert "forward_id" in assert_error(response, 400, "invalid_request_data")["details"]
    assert snapshot() == before


def test_mentioned_users_must_be_active_members(api, user_factory) -> None:
    alice, bob, outsider = user_factory(), user_factory(), user_factory()
    room = make_room(alice, [bob])
    before = snapshot()
    for user in (outsider.id, "abc"):
        body = {"room_id": str(room.id), "text": "x", "mentions": [{"tag": "@o", "user": user}]}
        assert_error(post(api(alice), "send", body), 400, "invalid_request_data")
    assert snapshot() == before


def test_bad_field_values_are_refused(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    room = make_room(alice, [bob])
    before = snapshot()
    for extra in ({"lifetime": -1}, {"location_latitude": 91}, {"reply_id": "nope"}, {"sender_message_id": "x" * 129}):
        assert_error(
            post(api(alice), "send", {"room_id": str(room.id), "text": "x", **extra}), 400, "invalid_request_data"
        )
    assert snapshot() == before


# --- cost -----------------------------------------------------------------------------------------


def test_send_runs_in_a_bounded_number_of_queries(api, user_factory, django_assert_max_num_queries) -> None:
    alice = user_factory()
    members = [user_factory() for _ in range(30)]
    room = make_room(alice, members)
    client = api(alice)
    first = send(client, room, "warm-up")  # token and session look-ups are not the send's

    with django_assert_max_num_queries(SEND_MAX_QUERIES):
        send(client, room, "to 31 people", sender_message_id="q-1")
    with django_assert_max_num_queries(SEND_WITH_REPLY_MAX_QUERIES):
        send(
            client,
            room,
            "again",
            sender_message_id="q-2",
            reply_id=first["id"],
            mentions=[{"tag": "@a", "user": m.id} for m in members[:10]],
        )

    (q1,) = probe.messages(sender_message_id="q-1")
    (q2,) = probe.messages(sender_message_id="q-2")
    assert len(probe.metas(message_id=q1.id)) == 31
    assert len(probe.mentions(message_id=q2.id)) == 10
