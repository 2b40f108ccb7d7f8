"""The `postgres` back end's read state as watermarks (storage/postgres/read_state.py): a send writes
nothing per member, membership periods decide what was sent to whom, and migration 0003 moves the
per-member meta rows of an existing database into periods and marks without changing any answer.

Postgres only (the Makefile leaves this module out of the scylla pass): it reads the ORM tables.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from storage import ChatRepository
from storage.models import Membership, MessageMeta, ReadMark
from storage.records_messages import MessageWindow
from tests.storage.conftest import ago, make_message, make_room


def _sends_cost(repo: ChatRepository, users: Any, members: int) -> tuple[int, int]:
    """(queries, rows of MessageMeta written) of storing one message in a group of `members`."""
    owner, *others = users(members)
    room = make_room(repo, owner, others, at=ago(hours=1))
    before = MessageMeta.objects.count()
    with CaptureQueriesContext(connection) as captured:
        make_message(repo, room, owner)
    return len(captured.captured_queries), MessageMeta.objects.count() - before


def test_a_send_writes_nothing_per_member(repo: ChatRepository, users: Any) -> None:
    small = _sends_cost(repo, users, 2)
    large = _sends_cost(repo, users, 60)
    assert large == small
    assert large[1] == 0  # the 59 others have it unread without a row each


def test_hidden_messages_are_the_only_rows(repo: ChatRepository, users: Any) -> None:
    a, b = users(2)
    room = make_room(repo, a, [b], type="p2p", at=ago(hours=1))
    hidden = make_message(repo, room, a, hidden_for=[b])
    assert list(MessageMeta.objects.values_list("message_id", "user_id", "is_sender_blocked")) == [
        (hidden.id, b.id, True)
    ]
    assert repo.unread_counts(user_id=b.id, room_ids=[room.id]) == {room.id: 0}


def test_membership_periods_decide_what_was_sent_to_a_member(repo: ChatRepository, users: Any) -> None:
    owner, member = users(2)
    room = make_room(repo, owner, [member], at=ago(hours=3))
    first = make_message(repo, room, owner, at=ago(hours=2, minutes=30))
    with repo.atomic():
        repo.participants_remove(room.id, user_ids=[member.id], at=ago(hours=2))
    away = make_message(repo, room, owner, at=ago(hours=1, minutes=30))
    with repo.atomic():
        repo.participants_add(room.id, user_ids=[member.id], role="MEMBER", at=ago(hours=1))
    back = make_message(repo, room, owner, at=ago(minutes=30))

    assert list(
        Membership.objects.filter(room_id=room.id, user_id=member.id)
        .order_by("joined_at")
        .values_list("left_at", flat=True)
    )[1:] == [None]
    metas = repo.metas_for_user([first.id, away.id, back.id], member.id)
    assert set(metas) == {first.id, back.id}
    assert repo.unread_counts(user_id=member.id, room_ids=[room.id]) == {room.id: 2}
    window = MessageWindow(room_id=room.id, viewer_id=member.id, visible_from=ago(hours=1))
    assert [m.id for m in repo.messages_page(window, limit=10)] == [back.id, first.id]

    with repo.atomic():
        assert repo.meta_mark_read(room_id=room.id, user_id=member.id, up_to=back.created_at, at=timezone.now()) == 2
    assert repo.unread_counts(user_id=member.id, room_ids=[room.id]) == {room.id: 0}
    assert repo.messages_read_by_others([first.id, away.id, back.id]) == {first.id, back.id}
    assert ReadMark.objects.filter(room_id=room.id, user_id=member.id).count() == 1


# --- migration 0003: meta rows → periods and marks ------------------------------------------------

BEFORE = [("chat", "0002_content_types")]
# 0003 and the migrations after it: the state the models (and so the repository and the factories) expect.
AFTER = MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes("chat")


def _migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_migration_moves_existing_read_state(user_factory: Any) -> None:
    owner, reader, rejoiner, blocker = (user_factory() for _ in range(4))  # made with the current models
    old = _migrate(BEFORE)
    Room, Participant = old.get_model("chat", "Room"), old.get_model("chat", "Participant")  # noqa: N806
    Message, Meta = old.get_model("chat", "Message"), old.get_model("chat", "MessageMeta")  # noqa: N806
    t0 = timezone.now() - timedelta(days=1)
    at = [t0 + timedelta(minutes=10 * i) for i in range(8)]
    room = Room.objects.create(type="group", name="old", encryption_data="enc")
    Participant.objects.create(room=room, user_id=owner.id, role="OWNER", joined_at=t0)
    Participant.objects.create(room=room, user_id=reader.id, role="MEMBER", joined_at=t0)
    # The rejoiner had the first three messages, was away for the next two, and came back at at[5].
    Participant.objects.create(room=room, user_id=rejoiner.id, role="MEMBER", joined_at=at[5] - timedelta(minutes=1))
    Participant.objects.create(room=room, user_id=blocker.id, role="MEMBER", joined_at=t0)
    ids = [uuid.uuid4() for _ in at]
    for i, (message_id, created) in enumerate(zip(ids, at, strict=True)):
        Message.objects.create(id=message_id, room=room, sender_id=owner.id, created_at=created, updated_at=created)
        Meta.objects.create(message_id=message_id, room=room, user_id=owner.id, read_at=created)
        # The reader read the first four at one time, the next two at another, not the last two.
        read_at = at[3] + timedelta(seconds=5) if i < 4 else (at[5] + timedelta(seconds=5) if i < 6 else None)
        Meta.objects.create(message_id=message_id, room=room, user_id=reader.id, read_at=read_at)
        if i < 3 or i >= 5:
            Meta.objects.create(message_id=message_id, room=room, user_id=rejoiner.id)
        Meta.objects.create(message_id=message_id, room=room, user_id=blocker.id, is_sender_blocked=i == 7)
    from storage import get_repository

    def answers() -> dict[str, Any]:
        repo = get_repository()
        people = (owner.id, reader.id, rejoiner.id, blocker.id)
        return {
            "metas": {
                u: sorted((m.message_id, m.read_at, m.is_sender_blocked) for m in repo.metas_for_user(ids, u).values())
                for u in people
            },
            "unread": {u: repo.unread_counts(user_id=u, room_ids=[room.id]) for u in people},
            "read_by_others": repo.messages_read_by_others(ids),
            "readers": [repo.message_readers(i, exclude_user_id=owner.id, limit=10, offset=0) for i in ids],
        }

    expected = {
        "metas": {
            owner.id: sorted((i, a, False) for i, a in zip(ids, at, strict=True)),
            reader.id: sorted(
                (i, at[3] + timedelta(seconds=5) if n < 4 else (at[5] + timedelta(seconds=5) if n < 6 else None), False)
                for n, i in enumerate(ids)
            ),
            rejoiner.id: sorted((i, None, False) for n, i in enumerate(ids) if n < 3 or n >= 5),
            blocker.id: sorted((i, None, n == 7) for n, i in enumerate(ids)),
        },
        "unread": {
            owner.id: {room.id: 0},
            reader.id: {room.id: 2},
            rejoiner.id: {room.id: 6},
            blocker.id: {room.id: 7},
        },
    }
    try:
        _migrate(AFTER)
        got = answers()
        assert got["metas"] == expected["metas"]
        assert got["unread"] == expected["unread"]
        assert got["read_by_others"] == set(ids[:6])
        assert [total for _, total in got["readers"]] == [1] * 6 + [0, 0]
        assert MessageMeta.objects.count() == 1  # only the hidden one is left

        _migrate(BEFORE)  # and back: the meta rows again
        back = {(m.message_id, m.user_id): (m.read_at, m.is_sender_blocked) for m in Meta.objects.all()}
        assert len(back) == 8 + 8 + 6 + 8
        assert back[(ids[0], reader.id)] == (at[3] + timedelta(seconds=5), False)
        assert back[(ids[6], reader.id)] == (None, False)
        assert (ids[3], rejoiner.id) not in back
    finally:
        _migrate(AFTER)
