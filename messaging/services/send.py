"""SendMessage (SPEC.md §4, DESIGN.md "Interfaces") and the system messages of room changes."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from domain import room_cache
from domain.access import is_visible, room_access
from domain.permissions import check_member_permission
from events.builders import direct_event, room_event
from events.emit import emit, emitted
from kernel import crypto
from kernel.errors import Conflict, InvalidRequestData, NotFound, PermissionDenied
from kernel.metrics import MESSAGES_SENT, SEND_SECONDS
from kernel.shapes import MessageData
from messaging.formatting import message_data
from messaging.selectors import message_data_for, messages_data
from messaging.services.common import decrypted_text, room_key, status_update_event, user_id_of
from storage import get_repository
from storage.enums import MessageStatus, MessageType, SystemEvent
from storage.errors import SenderMessageIdBusyError
from storage.records import ParticipantRecord, RoomRecord
from storage.records_messages import MentionRecord, MessageRecord

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MentionInput:
    tag: str
    user: Any  # a user id, int or numeric string


@dataclass(frozen=True)
class SendRequest:
    """What a client asks SendMessage for (the original request fields, plus `text`).

    `content` is ciphertext (SPEC.md §6) and `text` plain text; an empty string means "not given".
    """

    room_id: uuid.UUID
    content: str = ""
    text: str = ""
    mentions: Sequence[MentionInput] = ()
    reply_id: uuid.UUID | None = None
    forward_id: uuid.UUID | None = None
    lifetime: int = 0
    origin: str = ""
    location_name: str = ""
    location_latitude: float | None = None
    location_longitude: float | None = None
    contact_id: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    file: str = ""
    event: str = ""
    sender_message_id: str = ""


@dataclass(frozen=True)
class SendResult:
    message: MessageData
    created: bool = True
    record: MessageRecord | None = field(default=None, compare=False)


def _check_can_send(room: RoomRecord, participant: ParticipantRecord, request: SendRequest) -> None:
    """The original checks after membership, in their order: permission, mentions, block."""
    check_member_permission(room, participant, "send_message")
    if request.mentions and room.is_p2p:
        raise InvalidRequestData(
            "Mentions are not allowed in p2p rooms.", details={"mentions": ["Not allowed in p2p rooms."]}
        )
    if room.is_p2p and participant.is_partner_blocked:
        raise PermissionDenied("You blocked this user: unblock them to send messages.", code="partner_blocked")


def _has_attachment(request: SendRequest) -> bool:
    return bool(
        request.file
        or request.contact_name
        or request.contact_phone
        or request.location_name
        or request.location_latitude is not None
        or request.location_longitude is not None
    )


def _text_and_content(request: SendRequest, room: RoomRecord, forwarded: MessageRecord | None) -> tuple[str, str]:
    """(content, text): exactly one of content/text, unless the message carries an attachment or is a
    forward (a forward without either repeats the original's text, encrypted with this room's key)."""
    if request.content and request.text:
        raise InvalidRequestData(
            "Give either content or text, not both.",
            details={"content": ["Give either content or text, not both."]},
        )
    key = room_key(room)
    if request.content:
        return request.content, decrypted_text(request.content, key, field="content")
    if request.text:
        return crypto.content_encrypt(request.text, key), request.text
    if forwarded is not None and forwarded.text:
        return crypto.content_encrypt(forwarded.text, key), forwarded.text
    if _has_attachment(request) or forwarded is not None:
        return "", ""
    raise InvalidRequestData("content or text is required.", details={"content": ["content or text is required."]})


def _check_reply_and_forward(
    request: SendRequest, room: RoomRecord, participant: ParticipantRecord
) -> tuple[MessageRecord | None, MessageRecord | None]:
    """The replied-to message (of this room, one the sender can see: the reply embeds it for everyone)
    and the forwarded one (a message the sender can see)."""
    user_id = participant.user_id
    wanted = [i for i in (request.reply_id, request.forward_id) if i is not None]
    if not wanted:
        return None, None
    repo = get_repository()
    found = repo.messages_get_many(wanted)
    metas = repo.metas_for_user(wanted, user_id)
    reply = None
    if request.reply_id is not None:
        reply = found.get(request.reply_id)
        if (
            reply is None
            or reply.room_id != room.id
            or reply.is_deleted
            or not is_visible(reply, participant=participant, meta=metas.get(reply.id))
        ):
            raise InvalidRequestData(
                "reply_id is not a message of this room.", details={"reply_id": ["Not a message of this room."]}
            )
    forwarded = None
    if request.forward_id is not None:
        forwarded = found.get(request.forward_id)
        visible = False
        if forwarded is not None and not forwarded.is_deleted:
            membership: ParticipantRecord | None
            try:
                _, membership = room_access(room_id=forwarded.room_id, user_id=user_id)
            except NotFound:  # not an active member of the original's room
                membership = None
            visible = membership is not None and is_visible(
                forwarded, participant=membership, meta=metas.get(forwarded.id)
            )
        if not visible:
            raise InvalidRequestData(
                "forward_id is not a message you can see.", details={"forward_id": ["Not a message you can see."]}
            )
    return reply, forwarded


def _mentions(request: SendRequest, message_id: uuid.UUID, room_id: uuid.UUID) -> list[MentionRecord]:
    """The mentions, each of an active member of the room (one look-up for all of them)."""
    if not request.mentions:
        return []
    mentioned = [user_id_of(mention.user, field="mentions") for mention in request.mentions]
    found = get_repository().participants_get(room_id, mentioned)
    members = {u for u, p in found.items() if p.removed_at is None}
    records: list[MentionRecord] = []
    for mention, user_id in zip(request.mentions, mentioned, strict=True):
        if user_id not in members:
            raise InvalidRequestData(
                "Mentioned users must be members of the room.",
                details={"mentions": [f"User {user_id} is not a member of the room."]},
            )
        records.append(MentionRecord(message_id=message_id, user_id=user_id, tag=mention.tag))
    return records


def _already_sent(stored: MessageRecord, user_id: int) -> SendResult:
    """The answer to a send whose sender_message_id is stored already: that message, created=False."""
    return SendResult(message=message_data_for(stored, viewer_id=user_id), created=False, record=stored)


def message_send(*, user_id: int, request: SendRequest) -> SendResult:
    """SendMessage. Checks as the original did (membership 404, permission 403, mentions in p2p 400,
    blocked partner 403), then stores the message, its read state and mentions, moves the room's last
    message, and emits `status_update` SENT and `message` - one unit of work.

    Idempotent by `sender_message_id`: the same id from the same sender returns the first message
    (created=False) and writes nothing, also when two sends race (the unique constraint decides).
    """
    started = time.perf_counter()
    repo = get_repository()
    room, participant = room_access(room_id=request.room_id, user_id=user_id)
    _check_can_send(room, participant, request)
    message_id = uuid.uuid4()
    try:
        reply, forwarded = _check_reply_and_forward(request, room, participant)
        content, text = _text_and_content(request, room, forwarded)
        mentions = _mentions(request, message_id, room.id)
    except InvalidRequestData:
        # A retry of a stored send answers with the stored message, also when what it checks has
        # changed since (e.g. the replied-to message was deleted).
        existing = repo.message_get_by_sender_message_id(user_id, request.sender_message_id)
        if existing is None:
            raise
        return _already_sent(existing, user_id)
    now = timezone.now()
    message = MessageRecord(
        id=message_id,
        room_id=room.id,
        sender_id=user_id,
        type=str(MessageType.CONTACT) if (request.contact_name or request.contact_phone) else str(MessageType.USER),
        created_at=now,
        updated_at=now,
        content=content,
        text=text,
        event=request.event,
        sender_message_id=request.sender_message_id,
        status=str(MessageStatus.SENT),
        reply_to_id=reply.id if reply else None,
        forwarded_from_id=forwarded.id if forwarded else None,
        lifetime=request.lifetime,
        origin=request.origin,
        location_name=request.location_name or (forwarded.location_name if forwarded else ""),
        location_latitude=request.location_latitude
        if request.location_latitude is not None
        else (forwarded.location_latitude if forwarded else None),
        location_longitude=request.location_longitude
        if request.location_longitude is not None
        else (forwarded.location_longitude if forwarded else None),
        contact_id=request.contact_id,
        contact_name=request.contact_name,
        contact_phone=request.contact_phone,
        file=request.file or (forwarded.file if forwarded else ""),
    )
    # In p2p, a partner who blocked the sender gets the message hidden. Nothing else of the send
    # depends on the room's members: its cost does not grow with the room.
    blocked_by = (
        [p.user_id for p in repo.participants_active(room.id) if p.user_id != user_id and p.is_partner_blocked]
        if room.is_p2p
        else []
    )

    reply_data = messages_data([reply], viewer_id=user_id, with_replies=False)[0] if reply is not None else None
    forwarded_sender = None
    if forwarded is not None and forwarded.sender_id is not None:
        forwarded_sender = repo.users_get([forwarded.sender_id]).get(forwarded.sender_id)
    data = message_data(
        message,
        sender=participant.user,
        status=str(MessageStatus.SENT),
        reply=reply_data,
        forwarded_from=forwarded_sender,
        forwarded_from_id=forwarded.sender_id if forwarded else None,
        mentions=mentions,
    )
    if blocked_by:
        # Hidden from the partner: the message goes to the sender's own connections only.
        message_event = direct_event("message", data, user_id=user_id, room_id=room.id, actor_user_id=user_id)
    else:
        message_event = room_event("message", data, room_id=room.id, actor_user_id=user_id)
    events = [
        status_update_event(message=message, status=str(MessageStatus.SENT), user_id=user_id, at=now),
        message_event,
    ]

    # One unit of work: the message, the room's last message and the events (one statement on postgres).
    try:
        stored, created = repo.message_send_store(message, events=events, hidden_for=blocked_by, mentions=mentions)
    except SenderMessageIdBusyError:
        raise Conflict("A message with this sender_message_id is being stored; retry.") from None
    if not created:
        return _already_sent(stored, user_id)
    emitted(events)
    repo.on_commit(lambda: room_cache.room_cache_on_new_message(room.id, data))
    MESSAGES_SENT.inc()
    SEND_SECONDS.observe(time.perf_counter() - started)
    return SendResult(message=data, created=True, record=message)


def system_message_create(*, room: RoomRecord, actor_id: int, event: str, text: str) -> MessageData:
    """Stores a system message of a room change (event new_member / remove_member / new_name /
    new_photo) sent by `actor_id`, moves the room's last message and emits its `message` event.

    Runs inside the caller's unit of work. `content` is `text` encrypted with the room key. System
    messages create no meta rows: nobody has them unread, and their status is always SENT.
    """
    if event not in SystemEvent.values:
        raise ValueError(f"unknown system message event {event!r}")
    repo = get_repository()
    now = timezone.now()
    message = MessageRecord(
        id=uuid.uuid4(),
        room_id=room.id,
        sender_id=actor_id,
        type=str(MessageType.SYSTEM),
        event=event,
        created_at=now,
        updated_at=now,
        content=crypto.content_encrypt(text, room_key(room)),
        text=text,
    )
    repo.message_create(message)
    repo.room_last_message_set(room.id, message_id=message.id, at=now)
    actor = repo.users_get([actor_id]).get(actor_id)
    data = message_data(message, sender=actor, status=str(MessageStatus.SENT))
    emit([room_event("message", data, room_id=room.id, actor_user_id=actor_id)])
    repo.on_commit(lambda: room_cache.room_cache_on_new_message(room.id, data))
    return data
