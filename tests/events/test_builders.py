"""Event builders and emit(): what a service hands to the outbox, and when the publisher hears of it."""

from __future__ import annotations

import uuid

import pytest
from google.protobuf import json_format

from events.builders import build_event, direct_event, room_event
from events.emit import add_after_commit_record_listener, emit, remove_after_commit_record_listener
from events.subjects import direct_subject, is_room_subject, room_subject
from storage import get_repository
from storage.records import OutboxRecord
from tests import storage_probe as probe

ROOM = uuid.UUID(int=7)


def test_room_and_direct_events_go_to_their_subjects_with_a_fresh_event_id() -> None:
    first = room_event("delete_message", "m1", room_id=ROOM, actor_user_id=3)
    second = room_event("delete_message", "m1", room_id=ROOM, actor_user_id=3)
    assert first.subject == room_subject(ROOM) == f"CHAT_EVENTS.{ROOM}" and is_room_subject(first.subject)
    assert first.event_id != second.event_id
    assert first.data == {"event_id": str(first.event_id), "room_id": str(ROOM), "delete_message": "m1"}
    assert first.actor_user_id == "3"

    join = {"user_id": "5", "joined_at": None, "display_name": "Eve", "owner_user_id": "3"}
    direct = direct_event("room_join", join, user_id=5, room_id=ROOM, actor_user_id=None)
    assert direct.subject == direct_subject(5) == "CHAT_DIRECT_EVENTS.5" and not is_room_subject(direct.subject)
    assert direct.room_id == str(ROOM) and direct.actor_user_id == ""


def test_an_event_is_encoded_once_and_the_publisher_sends_those_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The builder's size check makes the protobuf bytes; the envelope of the record reuses them
    (the same bytes as encoding the dict, which an event read back from the outbox still does)."""
    from streaming import envelope

    event = room_event("delete_message", "m1", room_id=ROOM, actor_user_id=3)
    expected = envelope.encode_envelope(actor_user_id="3", data=event.data)
    assert event.payload is not None

    def no_second_encoding(data: object) -> None:
        raise AssertionError("the event was encoded again")

    monkeypatch.setattr(envelope, "encode_event", no_second_encoding)
    assert envelope.encode_envelope(actor_user_id="3", data=event.data, payload=event.payload) == expected
    assert event == OutboxRecord(**{**event.__dict__, "payload": None})  # not part of its identity


def test_an_unknown_or_malformed_event_fails_the_builder_not_the_bridge() -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        build_event(event_type="shout", value="x", room_id=ROOM, actor_user_id=1)
    with pytest.raises(json_format.ParseError):
        room_event("status_update", {"no_such_field": 1}, room_id=ROOM, actor_user_id=1)  # type: ignore[arg-type]


@pytest.mark.django_db(transaction=True)
def test_emit_writes_the_outbox_in_the_unit_of_work_and_tells_listeners_after_commit() -> None:
    heard: list[list[OutboxRecord]] = []
    add_after_commit_record_listener(heard.append)
    try:
        marker = probe.outbox_marker()
        event = room_event("delete_message", "m1", room_id=ROOM, actor_user_id=1)
        with get_repository().atomic():
            emit([event])
            assert heard == []  # not before the commit
        assert [e.event_id for e in heard[0]] == [event.event_id]
        assert [e.event_id for e in probe.outbox_since(marker)] == [event.event_id]

        rolled_back = room_event("delete_message", "m2", room_id=ROOM, actor_user_id=1)
        with pytest.raises(RuntimeError), get_repository().atomic():
            emit([rolled_back])
            raise RuntimeError("the service failed")
        assert len(heard) == 1
        assert rolled_back.event_id not in {e.event_id for e in probe.outbox_since(marker)}
    finally:
        remove_after_commit_record_listener(heard.append)
