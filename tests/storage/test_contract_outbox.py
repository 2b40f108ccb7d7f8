"""Contract of OutboxStore: events exist iff their unit of work commits; the relay's queries."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from storage import ChatRepository
from storage.records import OutboxRecord
from tests.storage.conftest import make_room


def event(room_id: uuid.UUID | str = "", kind: str = "is_room_updated") -> OutboxRecord:
    event_id = uuid.uuid4()
    return OutboxRecord(
        event_id=event_id,
        subject=f"CHAT_EVENTS.{room_id}",
        event_type=kind,
        room_id=str(room_id),
        actor_user_id="7",
        data={"event_id": str(event_id), "room_id": str(room_id), kind: True, "nested": {"a": [1, "ü"]}},
    )


def _ids(records: list[OutboxRecord]) -> list[uuid.UUID]:
    return [r.event_id for r in records]


def test_events_are_written_with_the_unit_of_work_or_not_at_all(repo: ChatRepository, users: Any) -> None:
    owner, member = users(2)
    kept, dropped = event(), event()
    with repo.atomic():
        room = make_room(repo, owner, [member])
        repo.outbox_add([kept])
    with pytest.raises(RuntimeError):
        with repo.atomic():
            repo.room_touch(room.id, at=timezone.now() + timedelta(days=1))
            repo.outbox_add([dropped])
            raise RuntimeError("boom")
    assert _ids(repo.outbox_get([kept.event_id, dropped.event_id])) == [kept.event_id]
    assert repo.room_get(room.id).updated_at < timezone.now() + timedelta(hours=1)  # type: ignore[union-attr]
    stored = repo.outbox_get([kept.event_id])[0]
    assert (stored.subject, stored.event_type, stored.room_id, stored.actor_user_id, stored.data) == (
        kept.subject,
        kept.event_type,
        kept.room_id,
        kept.actor_user_id,
        kept.data,
    )
    assert stored.published_at is None and stored.attempts == 0 and stored.created_at is not None


def test_unpublished_publish_fail_and_prune(repo: ChatRepository) -> None:
    events = [event(kind="typing" if i % 2 else "is_room_updated") for i in range(5)]
    with repo.atomic():
        repo.outbox_add(events[:3])
    repo.outbox_add(events[3:])
    now = timezone.now()
    assert _ids(repo.outbox_unpublished(limit=10, now=now)) == _ids(events)  # emit order
    assert _ids(repo.outbox_unpublished(limit=2, now=now)) == _ids(events[:2])
    assert _ids(repo.outbox_get([e.event_id for e in reversed(events)])) == _ids(events)

    repo.outbox_mark_published([events[0].event_id, events[2].event_id], at=now)
    repo.outbox_mark_published([events[0].event_id], at=now + timedelta(minutes=1))  # already: unchanged
    repo.outbox_mark_failed([events[1].event_id], error="nats down", retry_at=now + timedelta(seconds=30))
    # An event in back-off is still listed (it holds back the later ones of its subject), with its time.
    waiting, *rest = repo.outbox_unpublished(limit=10, now=now)
    assert [waiting.event_id, *_ids(rest)] == _ids([events[1], events[3], events[4]])
    assert waiting.next_attempt_at == now + timedelta(seconds=30)
    assert waiting.waiting(now) and not waiting.waiting(now + timedelta(seconds=31))
    assert not any(r.waiting(now) for r in rest)
    published, failed = repo.outbox_get([events[0].event_id, events[1].event_id])
    assert (published.published_at, published.attempts) == (now, 1)
    assert (failed.published_at, failed.attempts) == (None, 1)

    assert repo.outbox_prune(published_before=now) == 0
    assert repo.outbox_prune(published_before=now + timedelta(seconds=1)) == 2
    assert _ids(repo.outbox_get([e.event_id for e in events])) == _ids(events[1:2] + events[3:])
    assert repo.outbox_prune(published_before=now + timedelta(hours=2)) == 0


def test_unpublished_leaves_out_dead_letters_and_events_created_later(repo: ChatRepository) -> None:
    events = [event() for _ in range(4)]
    for e in events:
        repo.outbox_add([e])
    now = timezone.now()
    # A dead-lettered event (its retry a century away) holds nothing back and is not listed.
    repo.outbox_mark_failed([events[1].event_id], error="dead-lettered: too big", retry_at=now + timedelta(days=36500))
    assert _ids(repo.outbox_unpublished(limit=10, now=now)) == _ids([events[0], events[2], events[3]])
    # "retry now" (staff) makes it an ordinary unpublished event again.
    repo.outbox_mark_failed([events[1].event_id], error="retry requested by staff", retry_at=now)
    assert _ids(repo.outbox_unpublished(limit=10, now=now)) == _ids(events)
    third = repo.outbox_get([events[2].event_id])[0]
    assert third.created_at is not None
    assert _ids(repo.outbox_unpublished(limit=10, now=now, created_before=third.created_at)) == _ids(events[:2])
    assert _ids(repo.outbox_unpublished(limit=1, now=now, created_before=third.created_at)) == _ids(events[:1])


def test_unpublished_of_some_subjects_leaving_some_out(repo: ChatRepository) -> None:
    room_a, room_b = uuid.uuid4(), uuid.uuid4()
    events = [event(room_a), event(room_b), event(room_a), event(room_b)]
    repo.outbox_add(events)
    now = timezone.now()
    of_a = repo.outbox_unpublished(limit=10, now=now, subjects={events[0].subject})
    assert _ids(of_a) == _ids([events[0], events[2]])
    assert _ids(repo.outbox_unpublished(limit=10, now=now, exclude={events[0].event_id, events[3].event_id})) == _ids(
        events[1:3]
    )
    assert repo.outbox_unpublished(limit=10, now=now, subjects={events[0].subject}, exclude=_ids(of_a)) == []


def test_backlog_counts_the_unpublished_events_and_dates_the_oldest(repo: ChatRepository) -> None:
    now = timezone.now()
    assert repo.outbox_backlog(now=now) == (0, None)
    events = [event() for _ in range(4)]
    for e in events:
        repo.outbox_add([e])
    first = repo.outbox_get([events[0].event_id])[0]
    assert repo.outbox_backlog(now=timezone.now()) == (4, first.created_at)
    now = timezone.now()
    repo.outbox_mark_published([events[0].event_id], at=now)
    repo.outbox_mark_failed([events[1].event_id], error="nats down", retry_at=now + timedelta(seconds=30))
    repo.outbox_mark_failed([events[2].event_id], error="dead-lettered: too big", retry_at=now + timedelta(days=36500))
    # Published and dead-lettered events are no backlog; one waiting for its retry is.
    second = repo.outbox_get([events[1].event_id])[0]
    assert repo.outbox_backlog(now=now) == (2, second.created_at)
