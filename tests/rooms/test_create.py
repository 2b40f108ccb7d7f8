"""CreateRoom (SPEC.md §3): rules, p2p de-duplication (also concurrent), encryption data, events."""

from __future__ import annotations

import base64
import binascii
import json
import threading
import uuid

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings
from django.db import connection
from django.utils import timezone

from events.builders import encode_event
from rooms import services
from storage import get_repository
from storage.errors import P2PRoomExistsError
from storage.records import RoomDraft
from tests import storage_probe as probe
from tests.factories import UserFactory
from tests.rooms.conftest import outbox

URL = "/api/chat/v1/room/create"
REAL_ROOM_KEYS = True  # every room gets its own scrypt-derived key here


def _counts() -> tuple[int, int, int]:
    return len(probe.rooms()), len(probe.participants()), len(probe.outbox())


def _unwrap_independently(encryption_data: str) -> tuple[bytes, bytes]:
    """SPEC.md §6 written from the text, with `cryptography` primitives only (not kernel.crypto):
    base64 → hex → AES-256-CBC with the master key/IV → PKCS7 unpad → JSON {"key": hex, "iv": hex}."""
    sealed = binascii.unhexlify(base64.b64decode(encryption_data))
    decryptor = Cipher(algorithms.AES(settings.CHAT_MASTER_KEY), modes.CBC(settings.CHAT_MASTER_IV)).decryptor()
    padded = decryptor.update(sealed) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    document = json.loads(unpadder.update(padded) + unpadder.finalize())
    return bytes.fromhex(document["key"]), bytes.fromhex(document["iv"])


@pytest.mark.django_db
def test_p2p_create_answers_the_room_as_owner_with_the_partner(api, user_factory) -> None:
    alice = user_factory()
    bob = user_factory(profile={"display_name": "Bob Builder", "avatar_url": "https://img.example/bob.png"})

    response = api(alice).post(URL, {"type": "p2p", "participants": [str(bob.id)]}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True
    room = body["room"]
    assert room["type"] == "p2p"
    assert room["role"] == "OWNER"
    assert room["name"] == "Bob Builder"
    assert room["photo_url"] == "https://img.example/bob.png"
    assert room["partner"]["id"] == str(bob.id)
    assert room["partner"]["role"] == "MEMBER"
    assert room["participants"] == []
    assert room["unread_count"] == 0 and room["last_message"] is None
    encode_event({"room": room})

    stored = probe.room(room["id"])
    assert stored.p2p_key == f"{min(alice.id, bob.id)}:{max(alice.id, bob.id)}"
    roles = {p.user_id: p.role for p in probe.participants(room_id=stored.id)}
    assert roles == {alice.id: "OWNER", bob.id: "MEMBER"}


@pytest.mark.django_db
def test_create_emits_one_room_join_per_participant_on_their_direct_subject(api, user_factory) -> None:
    alice, bob, carol = user_factory(), user_factory(), user_factory()

    response = api(alice).post(
        URL, {"type": "group", "name": "Team", "participants": [bob.id, carol.id]}, format="json"
    )

    room_id = response.json()["room"]["id"]
    events = outbox(room_id=room_id)
    assert [e.event_type for e in events] == ["room_join"] * 3
    assert [e.subject for e in events] == [f"CHAT_DIRECT_EVENTS.{u.id}" for u in (alice, bob, carol)]
    for event, user in zip(events, (alice, bob, carol), strict=True):
        assert event.actor_user_id == str(alice.id)
        join = event.data["room_join"]
        assert join["user_id"] == str(user.id)
        assert join["display_name"] == user.chat_profile.display_name
        assert join["owner_user_id"] == str(alice.id)
        assert join["joined_at"]
        assert event.data["room_id"] == room_id
        # The attached room is the room as that participant sees it.
        assert event.data["room"]["id"] == room_id
        assert event.data["room"]["role"] == ("OWNER" if user == alice else "MEMBER")
        encode_event(event.data)


@pytest.mark.django_db
def test_group_create_stores_permissions_and_roles(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()

    response = api(alice).post(
        URL,
        {
            "type": "group",
            "name": "Team",
            "description": "d",
            "photo_url": "https://img.example/t.png",
            "participants": [bob.id, alice.id],
            "send_message": False,
            "add_member": True,
            "edit_group": True,
        },
        format="json",
    )

    assert response.status_code == 200
    room = response.json()["room"]
    assert (room["name"], room["description"], room["photo_url"]) == ("Team", "d", "https://img.example/t.png")
    assert (room["send_message"], room["add_member"], room["edit_group"]) == (False, True, True)
    assert room["role"] == "OWNER"
    assert {p["id"] for p in room["participants"]} == {str(alice.id), str(bob.id)}
    assert room["partner"] is None
    assert len(probe.participants(room_id=uuid.UUID(room["id"]))) == 2


@pytest.mark.django_db
def test_p2p_create_returns_the_existing_room_of_the_pair(api, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    first = api(alice).post(URL, {"type": "p2p", "participants": [bob.id]}, format="json").json()["room"]
    before = _counts()

    again = api(alice).post(URL, {"type": "p2p", "participants": [bob.id]}, format="json")
    reverse = api(bob).post(URL, {"type": "p2p", "participants": [alice.id]}, format="json")

    assert again.status_code == reverse.status_code == 200
    assert again.json()["room"]["id"] == first["id"] == reverse.json()["room"]["id"]
    assert reverse.json()["room"]["role"] == "MEMBER"  # bob sees his own role in the existing room
    assert reverse.json()["room"]["partner"]["id"] == str(alice.id)
    assert _counts() == before


@pytest.mark.django_db
def test_p2p_after_the_pair_left_creates_a_new_room(make_p2p, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    first = make_p2p(alice, bob)
    services.room_leave(user_id=alice.id, room_id=first)

    second = make_p2p(bob, alice)

    assert second != first
    assert probe.room(first).deleted_at is not None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"type": "p2p", "participants": ["BOB", "CAROL"]}, "participants"),  # p2p takes exactly one
        ({"type": "p2p", "participants": ["ALICE"]}, "participants"),  # only yourself
        ({"type": "group", "participants": ["BOB"]}, "name"),  # a group needs a name
        ({"type": "group", "name": "  ", "participants": ["BOB"]}, "name"),
        ({"type": "group", "name": "T", "participants": []}, "participants"),
        ({"type": "group", "name": "T", "participants": ["BOB", 999999]}, "participants"),  # unknown user
        ({"type": "group", "name": "T", "participants": ["x1"]}, "participants"),  # not an id
        ({"type": "nope", "name": "T", "participants": ["BOB"]}, "type"),
    ],
)
@pytest.mark.django_db
def test_create_refusals_write_nothing(api, user_factory, payload, field) -> None:
    alice, bob, carol = user_factory(), user_factory(), user_factory()
    ids = {"ALICE": alice.id, "BOB": bob.id, "CAROL": carol.id}
    payload = {**payload, "participants": [ids.get(p, p) for p in payload["participants"]]}
    before = _counts()

    response = api(alice).post(URL, payload, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_request_data"
    assert field in response.json()["details"]
    assert _counts() == before


@pytest.mark.django_db
def test_create_needs_authentication(api) -> None:
    response = api().post(URL, {"type": "p2p", "participants": [1]}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


@pytest.mark.django_db
def test_encryption_data_unwraps_with_an_independent_implementation(api, user_factory) -> None:
    alice, bob, carol = user_factory(), user_factory(), user_factory()
    one = api(alice).post(URL, {"type": "p2p", "participants": [bob.id]}, format="json").json()["room"]
    two = api(alice).post(URL, {"type": "p2p", "participants": [carol.id]}, format="json").json()["room"]

    key, iv = _unwrap_independently(one["encryption_data"])
    other_key, other_iv = _unwrap_independently(two["encryption_data"])

    assert len(key) == 32 and len(iv) == 16
    assert (key, iv) != (other_key, other_iv)  # fresh per room


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_p2p_creates_make_one_room(monkeypatch) -> None:
    alice, bob = UserFactory(), UserFactory()
    barrier = threading.Barrier(2)
    # Force the race: each thread's look-up before its insert finds nothing, so both insert and the
    # unique p2p_key decides (the look-up after a collision is the real one).
    repository_class = type(get_repository())
    real_lookup = repository_class.room_get_by_p2p_key
    seen = threading.local()

    def lookup_missing_first(self, p2p_key):  # type: ignore[no-untyped-def]
        if not getattr(seen, "done", False):
            seen.done = True
            return None
        return real_lookup(self, p2p_key)

    monkeypatch.setattr(repository_class, "room_get_by_p2p_key", lookup_missing_first)
    real_insert = repository_class.room_insert
    collisions: list[str] = []

    def insert_counting_collisions(self, draft, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return real_insert(self, draft, **kwargs)
        except P2PRoomExistsError:
            collisions.append(draft.p2p_key)
            raise

    monkeypatch.setattr(repository_class, "room_insert", insert_counting_collisions)
    results: list[str] = []
    errors: list[BaseException] = []

    def create(user_id: int, partner_id: int) -> None:
        try:
            barrier.wait(timeout=10)
            result = services.room_create(user_id=user_id, room_type="p2p", participant_ids=[partner_id])
            results.append(result.room["id"])
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=create, args=(alice.id, bob.id)),
        threading.Thread(target=create, args=(bob.id, alice.id)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert errors == []
    assert len(collisions) == 1  # both inserted; the unique key refused the second
    assert len(results) == 2 and results[0] == results[1]
    assert len(probe.rooms(type="p2p")) == 1
    assert len(probe.participants(room_id=uuid.UUID(results[0]))) == 2
    assert len(probe.outbox(event_type="room_join")) == 2


@pytest.mark.django_db
def test_room_insert_with_a_taken_p2p_key_raises_and_keeps_the_unit_of_work(make_p2p, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    existing = make_p2p(alice, bob)
    repo = get_repository()
    draft = RoomDraft(
        type="p2p",
        name="",
        description="",
        photo_url="",
        encryption_data="x",
        send_message=True,
        add_member=False,
        edit_group=False,
        created_by_id=bob.id,
        p2p_key=services.p2p_key_for(bob.id, alice.id),
    )

    with repo.atomic():
        with pytest.raises(P2PRoomExistsError):
            repo.room_insert(draft, participants=[(bob.id, "OWNER")], at=timezone.now())
        # The savepoint rolled back only the insert: the transaction still answers.
        assert repo.room_get_by_p2p_key(draft.p2p_key or "").id == existing  # type: ignore[union-attr]

    assert len(probe.rooms()) == 1
