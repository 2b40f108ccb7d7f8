"""Reads of the messaging domain. Every function answers in a bounded number of queries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.access import MESSAGE_NOT_FOUND, message_access, room_access
from kernel.errors import InvalidRequestData, NotFound, PermissionDenied
from kernel.pagination import Page
from kernel.shapes import MessageData, MessageReader, Reaction
from kernel.timefmt import iso
from messaging.formatting import message_data, message_status, reaction_data
from storage import get_repository
from storage.records_messages import MessageCursor, MessageRecord, MessageWindow

# --- used by rooms (room lists, GetRoom) ---------------------------------------------------------


def last_messages_for(*, room_ids: list[uuid.UUID], viewer_id: int) -> dict[uuid.UUID, MessageData]:
    """Per room, the newest message the viewer can see, formatted for the viewer (rooms with none absent)."""
    records = list(get_repository().last_messages(room_ids, viewer_id=viewer_id).values())
    return {m.room_id: data for m, data in zip(records, messages_data(records, viewer_id=viewer_id), strict=True)}


def unread_counts_for(*, user_id: int, room_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Per room (every given one), how many messages the user has not read."""
    return get_repository().unread_counts(user_id=user_id, room_ids=room_ids)


# --- MessageData of stored messages -------------------------------------------------------------


def messages_data(
    messages: Sequence[MessageRecord], *, viewer_id: int | None, with_replies: bool = True
) -> list[MessageData]:
    """MessageData dicts of `messages` (in their order) for the viewer, each with its reply one level
    deep (none with `with_replies=False`). A fixed number of storage queries whatever their number."""
    if not messages:
        return []
    repo = get_repository()
    by_id: dict[uuid.UUID, MessageRecord] = {m.id: m for m in messages}
    reply_ids = (
        [m.reply_to_id for m in messages if m.reply_to_id and m.reply_to_id not in by_id] if with_replies else []
    )
    related: dict[uuid.UUID, MessageRecord] = dict(by_id)
    related.update(repo.messages_get_many(reply_ids))
    replies = (
        [related[m.reply_to_id] for m in messages if m.reply_to_id and m.reply_to_id in related] if with_replies else []
    )
    shown = list(messages) + [r for r in replies if r.id not in by_id]

    forward_ids = [m.forwarded_from_id for m in shown if m.forwarded_from_id and m.forwarded_from_id not in related]
    related.update(repo.messages_get_many(forward_ids))

    ids = [m.id for m in shown]
    own_ids = [m.id for m in shown if viewer_id is not None and m.sender_id == viewer_id]
    metas = repo.metas_for_user(ids, viewer_id) if viewer_id is not None else {}
    read_by_others = repo.messages_read_by_others(own_ids) if own_ids else set()
    mentions = repo.mentions_for(ids)
    reactions = repo.reactions_for(ids)

    user_ids: set[int] = set()
    user_ids.update(m.sender_id for m in shown if m.sender_id is not None)
    for m in shown:
        original = related.get(m.forwarded_from_id) if m.forwarded_from_id else None
        if original is not None and original.sender_id is not None:
            user_ids.add(original.sender_id)
    user_ids.update(r.user_id for rs in reactions.values() for r in rs)
    users = repo.users_get(user_ids) if user_ids else {}

    def one(message: MessageRecord, reply: MessageData | None) -> MessageData:
        original = related.get(message.forwarded_from_id) if message.forwarded_from_id else None
        original_sender_id = original.sender_id if original is not None else None
        return message_data(
            message,
            sender=users.get(message.sender_id) if message.sender_id is not None else None,
            status=message_status(
                message,
                viewer_id=viewer_id,
                viewer_meta=metas.get(message.id),
                read_by_others=message.id in read_by_others,
            ),
            reply=reply,
            forwarded_from=users.get(original_sender_id) if original_sender_id is not None else None,
            forwarded_from_id=original_sender_id,
            mentions=mentions.get(message.id, ()),
            reactions=reactions.get(message.id, ()),
            users=users,
        )

    result = []
    for m in messages:
        reply_record = related.get(m.reply_to_id) if m.reply_to_id and with_replies else None
        result.append(one(m, one(reply_record, None) if reply_record is not None else None))
    return result


def message_data_for(message: MessageRecord, *, viewer_id: int | None) -> MessageData:
    """The MessageData dict of one message for the viewer."""
    return messages_data([message], viewer_id=viewer_id)[0]


# --- GetMessageHistory ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryQuery:
    page: Page
    before_message_id: uuid.UUID | None = None
    after_message_id: uuid.UUID | None = None
    before_date: datetime | None = None
    after_date: datetime | None = None


def message_history(*, room_id: uuid.UUID, user_id: int, query: HistoryQuery) -> tuple[list[MessageData], int]:
    """GetMessageHistory: a page of the room's messages the caller can see, newest first, and their total.

    The caller sees the messages sent to them (while they were a member) and those created since their
    latest join (system messages included), except deleted ones and ones from a sender they blocked;
    messages sent while they were not a member stay hidden. `before_message_id` pages back without gaps
    or repeats while new messages arrive. With only after-bounds (after_message_id / after_date) the page
    holds the OLDEST messages after the bound (still listed newest first), so paging forward skips nothing.
    """
    room, participant = room_access(room_id=room_id, user_id=user_id)
    repo = get_repository()
    cursor_ids = [i for i in (query.before_message_id, query.after_message_id) if i is not None]
    cursors = repo.messages_get_many(cursor_ids) if cursor_ids else {}

    def cursor(message_id: uuid.UUID | None, field: str) -> MessageCursor | None:
        if message_id is None:
            return None
        found = cursors.get(message_id)
        if found is None or found.room_id != room.id:
            raise InvalidRequestData(f"{field} is not a message of this room.", details={field: ["Not in this room."]})
        return MessageCursor(created_at=found.created_at, id=found.id)

    window = MessageWindow(
        room_id=room.id,
        viewer_id=user_id,
        visible_from=participant.joined_at,
        before=cursor(query.before_message_id, "before_message_id"),
        after=cursor(query.after_message_id, "after_message_id"),
        before_date=query.before_date,
        after_date=query.after_date,
    )
    oldest_first = (window.after is not None or window.after_date is not None) and (
        window.before is None and window.before_date is None
    )
    records = repo.messages_page(window, limit=query.page.limit, offset=query.page.offset, oldest_first=oldest_first)
    if oldest_first:
        records.reverse()
    total = repo.messages_count(window)
    return messages_data(records, viewer_id=user_id), total


# --- single messages -----------------------------------------------------------------------------


def message_for_user(*, message_id: uuid.UUID, user_id: int) -> MessageData:
    """GetMessage: the MessageData, for an active member of its room who can see it (else 404).
    A deleted message is returned as such (is_deleted, no content)."""
    message, _, _ = message_access(message_id=message_id, user_id=user_id)
    return messages_data([message], viewer_id=user_id)[0]


def sender_message_status(*, user_id: int, sender_message_id: str) -> str:
    """GetSenderMessage: the status of the caller's own message with this client id (else 404)."""
    repo = get_repository()
    message = repo.message_get_by_sender_message_id(user_id, sender_message_id)
    if message is None:
        raise NotFound(MESSAGE_NOT_FOUND)
    return message_status(
        message, viewer_id=user_id, viewer_meta=None, read_by_others=bool(repo.messages_read_by_others([message.id]))
    )


def _own_message(*, message_id: uuid.UUID, user_id: int) -> uuid.UUID:
    message, _, _ = message_access(message_id=message_id, user_id=user_id)
    if message.sender_id != user_id:
        raise PermissionDenied("Only the sender can see this.")
    return message.id


def message_readers(*, message_id: uuid.UUID, user_id: int, page: Page) -> tuple[list[MessageReader], int]:
    """GetMessageRead: who (other than the sender) read the caller's message and when; sender only."""
    own_id = _own_message(message_id=message_id, user_id=user_id)
    repo = get_repository()
    metas, total = repo.message_readers(own_id, exclude_user_id=user_id, limit=page.limit, offset=page.offset)
    users = repo.users_get({m.user_id for m in metas}) if metas else {}
    items: list[MessageReader] = []
    for meta in metas:
        user = users.get(meta.user_id)
        items.append(
            {
                "user_id": str(meta.user_id),
                "user_name": user.name if user else "",
                "user_avatar": user.avatar if user else "",
                "user_phone": user.phone if user else "",
                "read_at": iso(meta.read_at),
            }
        )
    return items, total


def message_reactions(*, message_id: uuid.UUID, user_id: int, page: Page) -> tuple[list[Reaction], int]:
    """GetMessageReactions: the reactions to the caller's message, oldest first; sender only."""
    own_id = _own_message(message_id=message_id, user_id=user_id)
    repo = get_repository()
    reactions, total = repo.reactions_page(own_id, limit=page.limit, offset=page.offset)
    users = repo.users_get({r.user_id for r in reactions}) if reactions else {}
    return [reaction_data(r, users.get(r.user_id)) for r in reactions], total
