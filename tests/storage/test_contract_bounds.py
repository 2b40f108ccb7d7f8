"""The repository's reads cost a bounded number of round trips whatever the size of what they read
(SQL queries; CQL statements on scylla): the same count for a small and a large room or user."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from storage import ChatRepository
from storage.records import RoomPageQuery
from storage.records_messages import MessageCursor, MessageWindow
from tests import storage_probe as probe
from tests.storage.conftest import ago, make_message, make_room


def _history_cost(repo: ChatRepository, owner: Any, member: Any, messages: int) -> int:
    room = make_room(repo, owner, [member], at=ago(hours=2))
    sent = [make_message(repo, room, owner, at=ago(hours=1) + timedelta(seconds=i)) for i in range(messages)]
    cursor = MessageCursor(created_at=sent[-1].created_at, id=sent[-1].id)
    window = MessageWindow(room_id=room.id, viewer_id=member.id, visible_from=room.created_at, before=cursor)
    with probe.round_trips() as cost:
        page = repo.messages_page(window, limit=50)
        total = repo.messages_count(window)
    assert len(page) == 50 and total == messages - 1
    return cost.count


def test_a_history_page_costs_the_same_in_a_small_and_a_large_room(repo: ChatRepository, users: Any) -> None:
    owner, member = users(2)
    assert _history_cost(repo, owner, member, 60) == _history_cost(repo, owner, member, 240)


def _room_list_cost(repo: ChatRepository, me: Any, others: list[Any], rooms: int) -> int:
    for i in range(rooms):
        room = make_room(repo, me, others[:3], name=f"r{i}")
        make_message(repo, room, others[0])
    with probe.round_trips() as cost:
        page, total = repo.rooms_page_for_user(RoomPageQuery(user_id=me.id, offset=0, limit=100))
        ids = [room.id for room, _ in page]
        preview = repo.participants_preview(ids, viewer_id=me.id, limit=5)
        last = repo.last_messages(ids, viewer_id=me.id)
        unread = repo.unread_counts(user_id=me.id, room_ids=ids)
    assert total == rooms and len(preview) == len(last) == rooms and set(unread.values()) == {1}
    return cost.count


def test_a_room_list_costs_the_same_for_few_and_many_rooms(repo: ChatRepository, users: Any) -> None:
    few, many, *others = users(5)
    assert _room_list_cost(repo, few, others, 3) == _room_list_cost(repo, many, others, 30)


def _sync_cost(repo: ChatRepository, me: Any, other: Any, rooms: int) -> int:
    ids = []
    for i in range(rooms):
        room = make_room(repo, me, [other], name=f"s{i}")
        make_message(repo, room, other)
        ids.append(room.id)
    with probe.round_trips() as cost:
        changed = repo.sync_rooms(user_id=me.id, since=ago(days=1))
        found = repo.messages_since(room_ids=ids, viewer_id=me.id, since=ago(days=1), per_room=20)
    assert len(changed.changed_room_ids) == rooms and len(found) == rooms
    return cost.count


def test_a_sync_costs_the_same_for_few_and_many_rooms(repo: ChatRepository, users: Any) -> None:
    few, many, other = users(3)
    assert _sync_cost(repo, few, other, 3) == _sync_cost(repo, many, other, 30)


def test_a_reconnect_asks_one_query_for_the_rooms_left_when_there_are_none(repo: ChatRepository, users: Any) -> None:
    """streaming.selectors.left_room_ids, on every reconnect with a cursor: one round trip (it was the
    whole of sync_rooms and the user's room list)."""
    from streaming.selectors import left_room_ids

    me, other = users(2)
    for _ in range(3):
        make_room(repo, me, [other])
    with probe.round_trips() as cost:
        assert left_room_ids(user_id=me.id, within_seconds=3600) == []
    assert cost.count == 1


def _formatting_cost(repo: ChatRepository, viewer: Any, ids: list[uuid.UUID]) -> int:
    with probe.round_trips() as cost:
        repo.messages_get_many(ids)
        repo.metas_for_user(ids, viewer.id)
        repo.messages_read_by_others(ids)
        repo.reactions_for(ids)
        repo.mentions_for(ids)
    return cost.count


def test_what_formatting_reads_costs_the_same_for_one_and_fifty_messages(repo: ChatRepository, users: Any) -> None:
    owner, member = users(2)
    room = make_room(repo, owner, [member])
    ids = [make_message(repo, room, owner).id for _ in range(50)]
    assert _formatting_cost(repo, member, ids[:1]) == _formatting_cost(repo, member, ids)
