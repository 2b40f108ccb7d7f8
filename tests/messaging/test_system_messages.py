"""system_message_create, last_messages_for, unread_counts_for (the interfaces rooms uses)."""

from __future__ import annotations

import pytest

from events.builders import encode_event
from kernel.crypto import content_decrypt, encryption_data_unwrap
from messaging.selectors import last_messages_for, unread_counts_for
from messaging.services import system_message_create
from storage import get_repository
from tests import storage_probe as probe
from tests.messaging.conftest import last_outbox_id, outbox_since

pytestmark = pytest.mark.django_db(transaction=False)


def test_system_message_is_stored_encrypted_moves_last_message_and_emits(user_factory, room_factory) -> None:
    owner, member = user_factory(), user_factory()
    room = room_factory(owner, [member])
    record = get_repository().room_get(room.id)
    marker = last_outbox_id()

    with get_repository().atomic():
        data = system_message_create(room=record, actor_id=owner.id, event="new_name", text="Renamed to X")

    stored = probe.message(data["id"])
    assert stored.type == "system_message" and stored.event == "new_name"
    assert stored.text == "Renamed to X"
    assert content_decrypt(stored.content, encryption_data_unwrap(room.encryption_data)) == "Renamed to X"
    assert not probe.metas(message_id=stored.id)
    room = probe.room(room.id)
    assert room.last_message_id == stored.id and room.last_message_at == stored.created_at
    assert data["sender"]["id"] == str(owner.id) and data["status"] == "SENT" and data["type"] == "system_message"
    events = outbox_since(marker)
    assert [e.event_type for e in events] == ["message"]
    assert events[0].data["message"]["id"] == data["id"]
    encode_event({"message": data})


def test_unknown_system_event_is_refused(user_factory, room_factory) -> None:
    owner = user_factory()
    room = room_factory(owner, [user_factory()])
    before = len(probe.messages())
    with pytest.raises(ValueError):
        system_message_create(room=get_repository().room_get(room.id), actor_id=owner.id, event="x", text="t")
    assert len(probe.messages()) == before


def test_last_messages_and_unread_counts_in_bulk(user_factory, room_factory, django_assert_max_num_queries) -> None:
    owner, member = user_factory(), user_factory()
    rooms = [room_factory(owner, [member], name=f"g{i}") for i in range(6)]
    repo = get_repository()
    for room in rooms[:5]:
        with repo.atomic():
            system_message_create(room=repo.room_get(room.id), actor_id=owner.id, event="new_photo", text="photo")
    room_ids = [r.id for r in rooms]
    with django_assert_max_num_queries(8):
        last = last_messages_for(room_ids=room_ids, viewer_id=member.id)
    assert set(last) == set(room_ids[:5])
    assert all(last[r.id]["room_id"] == str(r.id) for r in rooms[:5])
    with django_assert_max_num_queries(1):
        counts = unread_counts_for(user_id=member.id, room_ids=room_ids)
    assert counts == dict.fromkeys(room_ids, 0)
    assert len([r for r in probe.rooms() if r.id in room_ids[:5] and r.last_message_id is not None]) == 5
