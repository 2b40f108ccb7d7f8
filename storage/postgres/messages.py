"""`postgres` back end, part 2: messages, meta, reactions, mentions."""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from django.db import IntegrityError, connections, router
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery, Window
from django.db.models.constants import OnConflict
from django.db.models.functions import RowNumber
from django.db.models.sql import InsertQuery

from storage.models import Mention, Message, Participant, Reaction, Room
from storage.postgres.read_state import PostgresReadStateMixin, hidden_for, sent_to
from storage.postgres.rooms import record_from
from storage.records_messages import (
    MentionRecord,
    MessageRecord,
    MessageWindow,
    ReactionRecord,
    StaffMessageQuery,
    SyncRooms,
)


def message_record(row: Message) -> MessageRecord:
    return record_from(MessageRecord, row)


def reaction_record(row: Reaction) -> ReactionRecord:
    return record_from(ReactionRecord, row)


def _window_queryset(window: MessageWindow) -> QuerySet[Message]:
    qs = Message.objects.filter(room_id=window.room_id, is_deleted=False).filter(~hidden_for(window.viewer_id))
    if window.visible_from is not None:
        qs = qs.filter(Q(created_at__gte=window.visible_from) | sent_to(window.viewer_id))
    if window.before is not None:
        c = window.before
        qs = qs.filter(Q(created_at__lt=c.created_at) | Q(created_at=c.created_at, id__lt=c.id))
    if window.after is not None:
        c = window.after
        qs = qs.filter(Q(created_at__gt=c.created_at) | Q(created_at=c.created_at, id__gt=c.id))
    if window.before_date is not None:
        qs = qs.filter(created_at__lt=window.before_date)
    if window.after_date is not None:
        qs = qs.filter(created_at__gt=window.after_date)
    return qs


def message_row(message: MessageRecord) -> Message:
    """The unsaved Message row of a record."""
    return Message(**{f.name: getattr(message, f.name) for f in dataclasses.fields(message)})


def _insert_unless_conflict(row: Message) -> bool:
    """INSERTs the message with ON CONFLICT DO NOTHING (one statement, no savepoint); False if a unique
    constraint (the sender's sender_message_id) already holds another row."""
    query = InsertQuery(Message, on_conflict=OnConflict.IGNORE)
    query.insert_values(Message._meta.local_concrete_fields, [row])
    using = router.db_for_write(Message)
    with connections[using].cursor() as cursor:
        for sql, params in query.get_compiler(using=using).as_sql():
            cursor.execute(sql, params)
        return bool(cursor.rowcount == 1)


class PostgresMessagesMixin(PostgresReadStateMixin):
    # --- writes ----------------------------------------------------------------------------------

    def message_create(
        self,
        message: MessageRecord,
        *,
        hidden_for: Sequence[int] = (),
        mentions: Sequence[MentionRecord] = (),
    ) -> tuple[MessageRecord, bool]:
        row = message_row(message)
        if message.sender_message_id and message.sender_id is not None:
            # The unique constraint decides between concurrent sends of one sender_message_id: the
            # loser's INSERT ... ON CONFLICT DO NOTHING waits for the winner's commit, inserts nothing,
            # and reads the winner's message. No savepoint: the transaction stays usable either way.
            if not _insert_unless_conflict(row):
                return self.message_stored_instead(message), False
        else:
            row.save(force_insert=True)
        if hidden_for:
            self.hidden_rows_create(message.id, message.room_id, hidden_for)
        if mentions:
            Mention.objects.bulk_create(
                [Mention(message_id=m.message_id, user_id=m.user_id, tag=m.tag) for m in mentions]
            )
        return message, True

    def message_stored_instead(self, message: MessageRecord) -> MessageRecord:
        """The stored message whose (sender, sender_message_id) kept `message` from being inserted."""
        existing = self.message_get_by_sender_message_id(message.sender_id or 0, message.sender_message_id)
        if existing is None:
            raise IntegrityError(f"message {message.id} conflicts with a stored row")
        return existing

    def message_edit(self, message_id: uuid.UUID, *, content: str, text: str, at: datetime) -> MessageRecord | None:
        updated = Message.objects.filter(id=message_id).update(content=content, text=text, edited=True, updated_at=at)
        return self.message_get(message_id) if updated else None

    def message_touch(self, message_id: uuid.UUID, *, at: datetime) -> None:
        Message.objects.filter(id=message_id).update(updated_at=at)

    def messages_soft_delete(self, message_ids: Sequence[uuid.UUID], *, at: datetime) -> None:
        ids = list(message_ids)
        Message.objects.filter(id__in=ids).update(is_deleted=True, deleted_at=at, updated_at=at)

    def room_last_message_replace(
        self, room_id: uuid.UUID, *, message_id: uuid.UUID | None, at: datetime | None
    ) -> None:
        Room.objects.filter(id=room_id).update(last_message_id=message_id, last_message_at=at)

    def reaction_set(self, message_id: uuid.UUID, user_id: int, reaction: str, *, at: datetime) -> None:
        Reaction.objects.bulk_create(
            [Reaction(message_id=message_id, user_id=user_id, reaction=reaction, created_at=at, updated_at=at)],
            update_conflicts=True,
            unique_fields=["message", "user"],
            update_fields=["reaction", "updated_at"],
        )

    def reaction_delete(self, message_id: uuid.UUID, user_id: int) -> bool:
        deleted, _ = Reaction.objects.filter(message_id=message_id, user_id=user_id).delete()
        return bool(deleted)

    # --- reads -----------------------------------------------------------------------------------

    def message_get(self, message_id: uuid.UUID) -> MessageRecord | None:
        row = Message.objects.filter(id=message_id).first()
        return message_record(row) if row else None

    def messages_get_many(self, message_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, MessageRecord]:
        ids = list(set(message_ids))
        if not ids:
            return {}
        return {row.id: message_record(row) for row in Message.objects.filter(id__in=ids)}

    def message_get_by_sender_message_id(self, sender_id: int, sender_message_id: str) -> MessageRecord | None:
        if not sender_message_id:
            return None
        row = Message.objects.filter(sender_id=sender_id, sender_message_id=sender_message_id).first()
        return message_record(row) if row else None

    def messages_page(
        self, window: MessageWindow, *, limit: int, offset: int = 0, oldest_first: bool = False
    ) -> list[MessageRecord]:
        order = ("created_at", "id") if oldest_first else ("-created_at", "-id")
        rows = _window_queryset(window).order_by(*order)[offset : offset + limit]
        return [message_record(r) for r in rows]

    def messages_count(self, window: MessageWindow) -> int:
        return _window_queryset(window).count()

    def messages_for_staff(self, query: StaffMessageQuery) -> tuple[list[MessageRecord], int]:
        qs = Message.objects.filter(room_id=query.room_id)
        if query.deleted is not None:
            qs = qs.filter(is_deleted=query.deleted)
        if query.search:
            qs = qs.filter(text__icontains=query.search)
        rows = qs.order_by("-created_at", "-id")[query.offset : query.offset + query.limit]
        return [message_record(r) for r in rows], qs.count()

    def messages_since(
        self, *, room_ids: Sequence[uuid.UUID], viewer_id: int, since: datetime, per_room: int
    ) -> dict[uuid.UUID, list[MessageRecord]]:
        ids = list(room_ids)
        if not ids or per_room < 1:
            return {}
        joined_before = Exists(
            Participant.objects.filter(
                room_id=OuterRef("room_id"), user_id=viewer_id, joined_at__lte=OuterRef("created_at")
            )
        )
        rows = (
            Message.objects.filter(room_id__in=ids, updated_at__gte=since)
            .filter(~hidden_for(viewer_id))
            .filter(joined_before | sent_to(viewer_id))
            .annotate(
                rank=Window(RowNumber(), partition_by=[F("room_id")], order_by=[F("created_at").desc(), F("id").desc()])
            )
            .filter(rank__lte=per_room)
            .order_by("room_id", "-created_at", "-id")
        )
        result: dict[uuid.UUID, list[MessageRecord]] = defaultdict(list)
        for row in rows:
            result[row.room_id].append(message_record(row))
        return dict(result)

    def last_messages(self, room_ids: Sequence[uuid.UUID], *, viewer_id: int | None) -> dict[uuid.UUID, MessageRecord]:
        ids = list(set(room_ids))
        if not ids:
            return {}
        candidates = Message.objects.filter(room_id=OuterRef("pk"), is_deleted=False)
        if viewer_id is not None:
            candidates = candidates.filter(~hidden_for(viewer_id))
        newest_visible = candidates.order_by("-created_at", "-id").values("id")[:1]
        last_ids = Room.objects.filter(id__in=ids).annotate(last_id=Subquery(newest_visible)).values("last_id")
        return {row.room_id: message_record(row) for row in Message.objects.filter(id__in=last_ids)}

    def reactions_for(self, message_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[ReactionRecord]]:
        ids = list(set(message_ids))
        result: dict[uuid.UUID, list[ReactionRecord]] = defaultdict(list)
        if ids:
            for row in Reaction.objects.filter(message_id__in=ids).order_by("created_at", "id"):
                result[row.message_id].append(reaction_record(row))
        return dict(result)

    def reactions_page(self, message_id: uuid.UUID, *, limit: int, offset: int) -> tuple[list[ReactionRecord], int]:
        qs = Reaction.objects.filter(message_id=message_id)
        total = qs.count()
        rows = qs.order_by("created_at", "id")[offset : offset + limit]
        return [reaction_record(r) for r in rows], total

    def mentions_for(self, message_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[MentionRecord]]:
        ids = list(set(message_ids))
        result: dict[uuid.UUID, list[MentionRecord]] = defaultdict(list)
        if ids:
            for row in Mention.objects.filter(message_id__in=ids).order_by("id"):
                result[row.message_id].append(
                    MentionRecord(message_id=row.message_id, user_id=row.user_id, tag=row.tag)
                )
        return dict(result)

    def sync_rooms(self, *, user_id: int, since: datetime) -> SyncRooms:
        changed = (
            Participant.objects.filter(user_id=user_id, removed_at__isnull=True, room__deleted_at__isnull=True)
            .filter(
                Q(room__updated_at__gte=since)
                | Q(room__last_message_at__gte=since)
                | Q(updated_at__gte=since)
                | Q(joined_at__gte=since)
            )
            .order_by("-room__last_message_at", "-room__created_at")
            .values_list("room_id", flat=True)
        )
        return SyncRooms(
            changed_room_ids=list(changed), gone_room_ids=self.rooms_gone_since(user_id=user_id, since=since)
        )

    def rooms_gone_since(self, *, user_id: int, since: datetime) -> list[uuid.UUID]:
        return list(
            Participant.objects.filter(user_id=user_id)
            .filter(Q(removed_at__gte=since) | Q(room__deleted_at__gte=since))
            .values_list("room_id", flat=True)
        )
