"""The `postgres` back end: the Django ORM (PostgreSQL; SQLite for the embedded default)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F, Q

from storage.base import ChatRepository
from storage.models import OutboxEvent
from storage.postgres import outbox, send_statement
from storage.postgres.messages import PostgresMessagesMixin
from storage.postgres.rooms import PostgresRoomsMixin
from storage.records import DEAD_LETTER_HORIZON, OutboxRecord
from storage.records_messages import MentionRecord, MessageRecord


def _outbox_record(row: OutboxEvent) -> OutboxRecord:
    return OutboxRecord(
        id=row.id,
        event_id=row.event_id,
        subject=row.subject,
        event_type=row.event_type,
        room_id=row.room_id,
        actor_user_id=row.actor_user_id,
        data=row.data,
        created_at=row.created_at,
        published_at=row.published_at,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
    )


class PostgresRepository(PostgresRoomsMixin, PostgresMessagesMixin, ChatRepository):
    name = "postgres"

    def atomic(self) -> AbstractContextManager[None]:
        return transaction.atomic()

    def on_commit(self, callback: Callable[[], None]) -> None:
        transaction.on_commit(callback)

    def message_send_store(
        self,
        message: MessageRecord,
        *,
        events: Sequence[OutboxRecord],
        hidden_for: Sequence[int] = (),
        mentions: Sequence[MentionRecord] = (),
    ) -> tuple[MessageRecord, bool]:
        """One statement on PostgreSQL (storage/postgres/send_statement.py) for a message without
        hidden rows or mentions (nearly every send); the ORM's unit of work otherwise."""
        if hidden_for or mentions or message.sender_id is None or not send_statement.supported():
            return super().message_send_store(message, events=events, hidden_for=hidden_for, mentions=mentions)
        if send_statement.message_store(message, events=events):
            return message, True
        return self.message_stored_instead(message), False

    def ping(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    # --- outbox ---------------------------------------------------------------------------------

    def outbox_add(self, events: Sequence[OutboxRecord]) -> None:
        OutboxEvent.objects.bulk_create(
            [
                OutboxEvent(
                    event_id=e.event_id,
                    subject=e.subject,
                    event_type=e.event_type,
                    room_id=e.room_id,
                    actor_user_id=e.actor_user_id,
                    data=e.data,
                )
                for e in events
            ]
        )

    def outbox_unpublished(
        self,
        *,
        limit: int,
        now: datetime,
        created_before: datetime | None = None,
        subjects: Collection[str] | None = None,
        exclude: Collection[uuid.UUID] = (),
    ) -> list[OutboxRecord]:
        if outbox.supported():
            return outbox.unpublished(
                limit=limit,
                dead_after=now + DEAD_LETTER_HORIZON,
                created_before=created_before,
                subjects=subjects,
                exclude=exclude,
            )
        rows = OutboxEvent.objects.filter(published_at__isnull=True).filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + DEAD_LETTER_HORIZON)
        )
        if created_before is not None:
            rows = rows.filter(created_at__lt=created_before)
        if subjects is not None:
            rows = rows.filter(subject__in=list(subjects))
        if exclude:
            rows = rows.exclude(event_id__in=list(exclude))
        return [_outbox_record(r) for r in rows.order_by("id")[:limit]]

    def outbox_backlog(self, *, now: datetime) -> tuple[int, datetime | None]:
        return outbox.backlog(dead_after=now + DEAD_LETTER_HORIZON)

    def outbox_get(self, event_ids: Sequence[uuid.UUID]) -> list[OutboxRecord]:
        return [_outbox_record(r) for r in OutboxEvent.objects.filter(event_id__in=list(event_ids)).order_by("id")]

    def outbox_mark_published(self, event_ids: Sequence[uuid.UUID], *, at: datetime) -> None:
        OutboxEvent.objects.filter(event_id__in=list(event_ids), published_at__isnull=True).update(
            published_at=at, attempts=F("attempts") + 1, last_error=""
        )

    def outbox_mark_failed(self, event_ids: Sequence[uuid.UUID], *, error: str, retry_at: datetime) -> None:
        OutboxEvent.objects.filter(event_id__in=list(event_ids), published_at__isnull=True).update(
            attempts=F("attempts") + 1, last_error=error[:2000], next_attempt_at=retry_at
        )

    def outbox_prune(self, *, published_before: datetime) -> int:
        deleted, _ = OutboxEvent.objects.filter(published_at__lt=published_before).delete()
        return deleted
