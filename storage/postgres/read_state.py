"""`postgres` back end: read state as watermarks (storage/models.py Membership, ReadMark, MessageMeta).

A send writes nothing per member. Who a message was sent to follows from the membership periods (a
period of the user holds its created_at; system messages are sent to nobody); when they read it, from
their first read mark at or past its created_at (the sender read it when sending); MessageMeta rows
are only the exceptions: messages hidden from one member (a p2p partner who blocked the sender).
The meta records the repository interface answers with are derived from these, rule for rule as the
per-member rows of SPEC.md §7 had them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from storage.enums import MessageType
from storage.models import Membership, Message, MessageMeta, ReadMark, Room
from storage.records_messages import MetaRecord

# Sorts before every message: the watermark of a member who has read nothing.
_NEVER = datetime(1970, 1, 1).astimezone()


def period_holds(*, room: Any, at: Any, user: Any = None) -> QuerySet[Membership]:
    """The membership periods of the room (of `user`, if given) that hold the instant `at`
    (expressions or values)."""
    periods = Membership.objects.filter(room_id=room, joined_at__lte=at).filter(
        Q(left_at__isnull=True) | Q(left_at__gt=at)
    )
    return periods if user is None else periods.filter(user_id=user)


def sent_to(viewer_id: int) -> Q:
    """For a Message queryset: the message was sent to the viewer (they were a member when it was
    created, and it is not a system message)."""
    return Q(Exists(period_holds(room=OuterRef("room_id"), user=viewer_id, at=OuterRef("created_at")))) & ~Q(
        type=MessageType.SYSTEM
    )


def hidden_for(viewer_id: int) -> Exists:
    """For a Message queryset: hidden from the viewer (sent by a p2p partner they blocked)."""
    return Exists(MessageMeta.objects.filter(message_id=OuterRef("pk"), user_id=viewer_id, is_sender_blocked=True))


def _watermark(*, room: Any, user: Any) -> Subquery:
    return Subquery(ReadMark.objects.filter(room_id=room, user_id=user).order_by("-up_to").values("up_to")[:1])


def _first_read(*, room: Any, user: Any, created_at: Any) -> Subquery:
    """When the user first read a message of the room created at `created_at`: the earliest mark past it."""
    marks = ReadMark.objects.filter(room_id=room, user_id=user, up_to__gte=created_at)
    return Subquery(marks.order_by("up_to", "read_at").values("read_at")[:1])


def _unread(user_id: int) -> QuerySet[Message]:
    """Messages that count as unread for the user once past their watermark: sent to them by someone
    else, neither deleted nor hidden from them."""
    return (
        Message.objects.filter(is_deleted=False)
        .exclude(sender_id=user_id)
        .filter(sent_to(user_id))
        .filter(~hidden_for(user_id))
    )


class PostgresReadStateMixin:
    def hidden_rows_create(self, message_id: uuid.UUID, room_id: uuid.UUID, user_ids: Sequence[int]) -> None:
        MessageMeta.objects.bulk_create(
            [MessageMeta(message_id=message_id, room_id=room_id, user_id=u, is_sender_blocked=True) for u in user_ids]
        )

    def meta_mark_read(self, *, room_id: uuid.UUID, user_id: int, up_to: datetime, at: datetime) -> int:
        current = ReadMark.objects.filter(room_id=room_id, user_id=user_id).order_by("-up_to").values("up_to").first()
        since = current["up_to"] if current else None
        if since is not None and up_to <= since:
            return 0
        newly = _unread(user_id).filter(room_id=room_id, created_at__lte=up_to)
        if since is not None:
            newly = newly.filter(created_at__gt=since)
        marked = newly.count()
        ReadMark.objects.create(room_id=room_id, user_id=user_id, up_to=up_to, read_at=at)
        return marked

    def unread_counts(self, *, user_id: int, room_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        ids = list(set(room_ids))
        counts: dict[uuid.UUID, int] = dict.fromkeys(ids, 0)
        if not ids:
            return counts
        # Per room, an index range from the room's watermark on: the cost is the unread, not the history.
        past_watermark = (
            _unread(user_id)
            .filter(room_id=OuterRef("pk"), created_at__gt=Coalesce(OuterRef("watermark"), _NEVER))
            .order_by()
            .values("room_id")
            .annotate(n=Count("*"))
            .values("n")
        )
        rows = (
            Room.objects.filter(id__in=ids)
            .annotate(watermark=_watermark(room=OuterRef("pk"), user=user_id))
            .annotate(n=Subquery(past_watermark))
            .values_list("id", "n")
        )
        for room_id, n in rows:
            counts[room_id] = n or 0
        return counts

    def metas_for_user(self, message_ids: Sequence[uuid.UUID], user_id: int) -> dict[uuid.UUID, MetaRecord]:
        ids = list(set(message_ids))
        if not ids:
            return {}
        rows = (
            Message.objects.filter(id__in=ids)
            .annotate(
                was_sent=Exists(period_holds(room=OuterRef("room_id"), user=user_id, at=OuterRef("created_at"))),
                blocked=hidden_for(user_id),
                first_read=_first_read(room=OuterRef("room_id"), user=user_id, created_at=OuterRef("created_at")),
            )
            .values_list(
                "id", "room_id", "sender_id", "type", "created_at", "is_deleted", "was_sent", "blocked", "first_read"
            )
        )
        metas: dict[uuid.UUID, MetaRecord] = {}
        for message_id, room_id, sender_id, type_, created_at, is_deleted, was_sent, blocked, first_read in rows:
            if not blocked and (not was_sent or type_ == MessageType.SYSTEM):
                continue
            if blocked:
                read_at = None
            elif sender_id == user_id:
                read_at = created_at
            else:
                read_at = first_read
            metas[message_id] = MetaRecord(
                message_id=message_id,
                room_id=room_id,
                user_id=user_id,
                read_at=read_at,
                is_deleted=is_deleted,
                is_sender_blocked=blocked,
            )
        return metas

    def messages_read_by_others(self, message_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        ids = list(set(message_ids))
        if not ids:
            return set()
        # Some member other than the sender, whose period holds the message's creation and who did not
        # block the sender, has a read mark at or past it.
        created = OuterRef(OuterRef("created_at"))
        marked = ReadMark.objects.filter(
            room_id=OuterRef(OuterRef("room_id")), user_id=OuterRef("user_id"), up_to__gte=created
        )
        blocked = MessageMeta.objects.filter(
            message_id=OuterRef(OuterRef("pk")), user_id=OuterRef("user_id"), is_sender_blocked=True
        )
        readers = (
            period_holds(room=OuterRef("room_id"), at=OuterRef("created_at"))
            .exclude(user_id=Coalesce(OuterRef("sender_id"), Value(-1)))
            .filter(Exists(marked))
            .exclude(Exists(blocked))
        )
        return set(
            Message.objects.filter(id__in=ids)
            .exclude(type=MessageType.SYSTEM)
            .filter(Exists(readers))
            .values_list("id", flat=True)
        )

    def message_readers(
        self, message_id: uuid.UUID, *, exclude_user_id: int | None, limit: int, offset: int
    ) -> tuple[list[MetaRecord], int]:
        message = Message.objects.filter(id=message_id).values("room_id", "sender_id", "created_at", "type").first()
        if message is None or message["type"] == MessageType.SYSTEM:
            return [], 0
        room_id, sender_id, created_at = message["room_id"], message["sender_id"], message["created_at"]
        # The sender read it when sending, before anyone else: first in the list when included.
        sender: list[MetaRecord] = []
        if sender_id is not None and sender_id != exclude_user_id:
            sender = [MetaRecord(message_id=message_id, room_id=room_id, user_id=sender_id, read_at=created_at)]
        # Members other than the sender whose period holds the message's creation, who did not block
        # the sender and have a read mark at or past it.
        others = (
            period_holds(room=room_id, at=created_at)
            .exclude(user_id__in=[u for u in (sender_id, exclude_user_id) if u is not None])
            .exclude(
                Exists(
                    MessageMeta.objects.filter(
                        message_id=message_id, user_id=OuterRef("user_id"), is_sender_blocked=True
                    )
                )
            )
            .annotate(first_read=_first_read(room=room_id, user=OuterRef("user_id"), created_at=created_at))
            .filter(first_read__isnull=False)
        )
        total = len(sender) + others.count()
        head = sender[offset : offset + limit]
        start = max(0, offset - len(sender))
        rows = others.order_by("first_read", "user_id").values_list("user_id", "first_read")[
            start : start + limit - len(head)
        ]
        return head + [
            MetaRecord(message_id=message_id, room_id=room_id, user_id=u, read_at=read_at) for u, read_at in rows
        ], total
