"""Each wire shape is described once (kernel.shapes); the OpenAPI serializers and the proto mirror it.

These tests fail when a field is added to, renamed in or dropped from one of the three without the
others, and when a formatter answers keys its shape does not declare.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, is_typeddict

import pytest
from rest_framework import serializers

from events.proto import chat_pb2
from kernel import shapes
from messaging import serializers as message_serializers
from messaging.formatting import message_data, reaction_data
from rooms import serializers as room_serializers
from rooms.formatting import participant_format, room_format_base, room_with_live_fields
from storage.records import ParticipantRecord, RoomRecord, UserRecord
from storage.records_messages import MentionRecord, MessageRecord, ReactionRecord

# shape → (its OpenAPI serializer or None, its proto message or None); every shape is listed.
MIRRORS: dict[Any, tuple[type[serializers.Serializer[Any]] | None, str | None]] = {
    shapes.Sender: (message_serializers.SenderSerializer, "Sender"),
    shapes.Mention: (message_serializers.MentionSerializer, "Mention"),
    shapes.Reaction: (message_serializers.ReactionSerializer, "Reaction"),
    shapes.MessageData: (message_serializers.MessageDataSerializer, "MessageData"),
    shapes.RoomParticipant: (room_serializers.RoomParticipantSerializer, "RoomParticipant"),
    shapes.RoomBase: (None, None),  # a Room without its live fields: checked through Room
    shapes.Room: (room_serializers.RoomSerializer, "Room"),
    shapes.StatusUpdate: (None, "StatusUpdate"),
    shapes.RoomJoin: (None, "RoomJoin"),
    shapes.RoomLeave: (None, "RoomLeave"),
    shapes.Typing: (None, "Typing"),
    shapes.ErrorEvent: (None, "ErrorEvent"),
    shapes.MessageReader: (message_serializers.ReaderSerializer, None),
    shapes.SyncSummary: (room_serializers.SyncSummarySerializer, None),
    shapes.SyncData: (room_serializers.SyncResponseSerializer, None),
}


def keys(shape: Any) -> set[str]:
    return set(shape.__required_keys__) | set(shape.__optional_keys__)


def test_every_shape_of_the_kernel_is_mirrored_here() -> None:
    declared = {value for value in vars(shapes).values() if is_typeddict(value)}
    assert declared == set(MIRRORS)


@pytest.mark.parametrize("shape", [s for s, (_, proto) in MIRRORS.items() if proto], ids=lambda s: s.__name__)
def test_the_proto_message_has_the_fields_of_the_shape(shape: Any) -> None:
    proto = MIRRORS[shape][1]
    fields = {f.name for f in getattr(chat_pb2, str(proto)).DESCRIPTOR.fields}
    assert fields == keys(shape)


@pytest.mark.parametrize("shape", [s for s, (ser, _) in MIRRORS.items() if ser], ids=lambda s: s.__name__)
def test_the_openapi_serializer_documents_the_fields_of_the_shape(shape: Any) -> None:
    serializer = MIRRORS[shape][0]
    assert serializer is not None
    fields = serializer().fields
    assert set(fields) == keys(shape)
    # What may be left out of an answer is documented as not required, and nothing else.
    not_required = {name for name, field in fields.items() if not field.required}
    assert not_required == set(shape.__optional_keys__)


def test_the_proto_event_carries_every_event_shape() -> None:
    oneof = chat_pb2.MessageEvent.DESCRIPTOR.oneofs_by_name["event"]
    by_message = {f.message_type.name for f in oneof.fields if f.message_type is not None}
    assert by_message == {"MessageData", "StatusUpdate", "RoomJoin", "RoomLeave", "Typing", "ErrorEvent"}


AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ALICE = UserRecord(id=1, name="Alice", phone="+1", avatar="https://a/1.png")
BOB = UserRecord(id=2, name="Bob")


def _message(**fields: Any) -> MessageRecord:
    return MessageRecord(
        id=uuid.uuid4(),
        room_id=uuid.uuid4(),
        sender_id=ALICE.id,
        type="user_message",
        created_at=AT,
        updated_at=AT,
        **fields,
    )


def test_a_formatted_message_answers_exactly_the_keys_of_message_data() -> None:
    plain = message_data(_message(text="hi"), sender=ALICE, status="SENT")
    assert set(plain) == set(shapes.MessageData.__required_keys__)

    original = _message()
    full = message_data(
        _message(
            text="hi",
            location_latitude=1.5,
            location_longitude=2.5,
            audio_transcription="said hi",
            forwarded_from_id=original.id,
        ),
        sender=ALICE,
        status="READ",
        reply=plain,
        forwarded_from=BOB,
        forwarded_from_id=BOB.id,
        mentions=[MentionRecord(message_id=original.id, user_id=BOB.id, tag="@bob")],
        reactions=[ReactionRecord(message_id=original.id, user_id=BOB.id, reaction="👍", created_at=AT, updated_at=AT)],
        users={BOB.id: BOB},
    )
    assert set(full) == keys(shapes.MessageData)
    assert set(full["reactions"][0]) == keys(shapes.Reaction)
    assert set(full["mentions"][0]) == keys(shapes.Mention)
    assert set(full["sender"]) == keys(shapes.Sender)
    reaction = ReactionRecord(message_id=original.id, user_id=BOB.id, reaction="👍", created_at=AT, updated_at=AT)
    assert set(reaction_data(reaction, None)) == keys(shapes.Reaction)


def test_a_formatted_room_answers_exactly_the_keys_of_room() -> None:
    room = RoomRecord(
        id=uuid.uuid4(),
        type="group",
        name="G",
        description="",
        photo_url="",
        encryption_data="x",
        join_all_user=False,
        send_message=True,
        add_member=False,
        edit_group=False,
        created_by_id=ALICE.id,
        last_message_id=None,
        last_message_at=None,
        created_at=AT,
        updated_at=AT,
    )

    def member(user: UserRecord, role: str) -> ParticipantRecord:
        return ParticipantRecord(
            room_id=room.id,
            user=user,
            role=role,
            is_muted=False,
            is_pinned=False,
            is_partner_blocked=False,
            joined_at=AT,
        )

    base = room_format_base(room, viewer=member(ALICE, "OWNER"), others=[member(BOB, "MEMBER")])
    assert set(base) == keys(shapes.RoomBase)
    assert set(participant_format(member(BOB, "MEMBER"))) == keys(shapes.RoomParticipant)
    full = room_with_live_fields(base, unread_count=0, last_message=None)
    assert set(full) == keys(shapes.Room)
