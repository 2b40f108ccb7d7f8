"""Messages as the API and the event stream show them: the MessageData of events/proto/chat.proto.

Status relative to the viewer (SPEC.md §2):
- a message of someone else: READ once the viewer has read it, else SENT;
- the viewer's own message: READ once any other participant has read it, else SENT;
- a system message: always SENT (nobody "reads" a system message; it creates no unread meta).
A deleted message keeps its envelope (id, sender, times, is_deleted) but loses content and text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kernel.shapes import MessageData, Reaction, Sender
from kernel.timefmt import iso
from storage.enums import MessageStatus, MessageType
from storage.records import UserRecord
from storage.records_messages import MentionRecord, MessageRecord, MetaRecord, ReactionRecord


def sender_data(user: UserRecord | None, user_id: int | None = None) -> Sender:
    """The proto Sender of a user (ids as strings); a bare id when the user no longer exists."""
    if user is None:
        return {"id": "" if user_id is None else str(user_id), "name": "", "avatar": "", "phone": ""}
    return {"id": str(user.id), "name": user.name, "avatar": user.avatar, "phone": user.phone}


def reaction_data(reaction: ReactionRecord, user: UserRecord | None) -> Reaction:
    return {
        "message_id": str(reaction.message_id),
        "reaction": reaction.reaction,
        "user": sender_data(user, reaction.user_id),
        "created_at": iso(reaction.created_at),
    }


def message_status(
    message: MessageRecord, *, viewer_id: int | None, viewer_meta: MetaRecord | None, read_by_others: bool
) -> str:
    """The status of `message` as `viewer_id` sees it (see the module docstring)."""
    if message.type == str(MessageType.SYSTEM):
        return str(MessageStatus.SENT)
    if viewer_id is not None and message.sender_id == viewer_id:
        return str(MessageStatus.READ) if read_by_others else str(MessageStatus.SENT)
    if viewer_meta is not None and viewer_meta.read_at is not None:
        return str(MessageStatus.READ)
    return str(MessageStatus.SENT)


def message_data(
    message: MessageRecord,
    *,
    sender: UserRecord | None,
    status: str,
    reply: MessageData | None = None,
    forwarded_from: UserRecord | None = None,
    forwarded_from_id: int | None = None,
    mentions: Sequence[MentionRecord] = (),
    reactions: Sequence[ReactionRecord] = (),
    users: Mapping[int, UserRecord] | None = None,
) -> MessageData:
    """The MessageData of one message; `users` resolves reaction authors."""
    users = users or {}
    deleted = message.is_deleted
    data: MessageData = {
        "id": str(message.id),
        "room_id": str(message.room_id),
        "sender": sender_data(sender, message.sender_id),
        "content": "" if deleted else message.content,
        "text": "" if deleted else message.text,
        "mentions": [{"tag": m.tag, "user": str(m.user_id)} for m in mentions],
        "status": status,
        "created_at": iso(message.created_at),
        "updated_at": iso(message.updated_at),
        "type": message.type,
        "edited": message.edited,
        "is_deleted": deleted,
        "lifetime": message.lifetime,
        "location_name": message.location_name,
        "origin": message.origin,
        "contact_id": message.contact_id,
        "contact_name": message.contact_name,
        "contact_phone": message.contact_phone,
        "file": "" if deleted else message.file,
        "reactions": [reaction_data(r, users.get(r.user_id)) for r in reactions],
        "event": message.event,
        "sender_message_id": message.sender_message_id,
    }
    if message.location_latitude is not None:
        data["location_latitude"] = message.location_latitude
    if message.location_longitude is not None:
        data["location_longitude"] = message.location_longitude
    if message.audio_transcription and not deleted:
        data["audio_transcription"] = message.audio_transcription
    if message.forwarded_from_id is not None:
        data["forward_id"] = str(message.forwarded_from_id)
        data["forwarded_from"] = sender_data(forwarded_from, forwarded_from_id)
    if reply is not None:
        data["reply"] = reply
    return data
