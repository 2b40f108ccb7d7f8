"""The storage repository interface. Services talk to storage only through it.

It is composed of three parts, each in its own module: rooms and participants (`base_rooms`),
messages, meta, reactions and mentions (`base_messages`), and the event outbox (here). A back end
implements all three; `storage.get_repository()` returns the one `CHAT_STORAGE` names.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from datetime import datetime

from storage.base_messages import MessageStore
from storage.base_rooms import RoomStore
from storage.records import OutboxRecord
from storage.records_messages import MentionRecord, MessageRecord


class OutboxStore(abc.ABC):
    @abc.abstractmethod
    def outbox_add(self, events: Sequence[OutboxRecord]) -> None:
        """Stores events in the current unit of work (`atomic()`): they exist iff its writes do."""

    @abc.abstractmethod
    def outbox_unpublished(
        self,
        *,
        limit: int,
        now: datetime,
        created_before: datetime | None = None,
        subjects: Collection[str] | None = None,
        exclude: Collection[uuid.UUID] = (),
    ) -> list[OutboxRecord]:
        """The unpublished events, oldest first (the publish order), whatever their next try
        (`next_attempt_at`), except dead-lettered ones (next try beyond `now` + DEAD_LETTER_HORIZON)
        and those in `exclude`; only those created before `created_before` and of `subjects`, when
        given."""

    @abc.abstractmethod
    def outbox_backlog(self, *, now: datetime) -> tuple[int, datetime | None]:
        """(how many, when the oldest was created) of the events outbox_unpublished() would return
        without its filters: one cheap query, for the metrics scrape."""

    @abc.abstractmethod
    def outbox_get(self, event_ids: Sequence[uuid.UUID]) -> list[OutboxRecord]:
        """The events with these ids, in creation order."""

    @abc.abstractmethod
    def outbox_mark_published(self, event_ids: Sequence[uuid.UUID], *, at: datetime) -> None: ...

    @abc.abstractmethod
    def outbox_mark_failed(self, event_ids: Sequence[uuid.UUID], *, error: str, retry_at: datetime) -> None: ...

    @abc.abstractmethod
    def outbox_prune(self, *, published_before: datetime) -> int:
        """Deletes published events older than the retention period; returns how many."""


class ChatRepository(RoomStore, MessageStore, OutboxStore, abc.ABC):
    """All chat storage. `atomic()` makes a unit of work: every write inside commits or none does."""

    name: str = ""

    @abc.abstractmethod
    def atomic(self) -> AbstractContextManager[None]: ...

    @abc.abstractmethod
    def on_commit(self, callback: Callable[[], None]) -> None:
        """Runs `callback` after the current unit of work commits (at once outside one)."""

    def message_send_store(
        self,
        message: MessageRecord,
        *,
        events: Sequence[OutboxRecord],
        hidden_for: Sequence[int] = (),
        mentions: Sequence[MentionRecord] = (),
    ) -> tuple[MessageRecord, bool]:
        """The writes of one SendMessage, one unit of work: message_create; when it stored a new
        message, room_last_message_set (at the message's created_at) and outbox_add(events). Returns
        what message_create returns. A back end may do it in fewer round trips (`postgres`: one)."""
        with self.atomic():
            stored, created = self.message_create(message, hidden_for=hidden_for, mentions=mentions)
            if created:
                self.room_last_message_set(message.room_id, message_id=message.id, at=message.created_at)
                self.outbox_add(events)
        return stored, created

    @abc.abstractmethod
    def ping(self) -> None:
        """One cheap round trip to the storage's servers (readiness); raises when they do not answer."""
