"""Contract of MessageStore: the same behaviour on every back end (CHAT_STORAGE)."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from storage import ChatRepository
from storage.records_messages import MentionRecord, MessageCursor, MessageRecord, MessageWindow
from tests.storage.conftest import ago, make_message, make_room, month_start


def _ids(messages: list[MessageRecord]) -> list[uuid.UUID]:
    return [m.id for m in messages]


def test_create_and_read_back(repo: ChatRepository, users: Any) -> None:
    owner, member = users(2)
    room = make_room(repo, owner, [member])
    at = timezone.now()
    message = MessageRecord(
        id=uuid.uuid4(),
        room_id=room.id,
        sender_id=owner.id,
        type="contact",
        created_at=at,
        updated_at=at,
        content="cipher",
        text="plain",
        event="ev",
        lifetime=30,
        origin="web",
        location_name="Lima",
        location_latitude=-12.04,
        location_longitude=-77.03,
        contact_id="c1",
        contact_name="Ana",
        contact_phone="+51",
        file="f.png",
    )
    mentions = [
        MentionRecord(message_id=message.id, user_id=member.id, tag="@m"),
        MentionRecord(message.id, owner.id, "@o"),
    ]
    with repo.atomic():
        stored, created = repo.message_create(message, mentions=mentions)
    assert created and stored == message
    assert repo.message_get(message.id) == message
    assert repo.messages_get_many([message.id, uuid.uuid4()]) == {message.id: message}
    assert repo.message_get(uuid.uuid4()) is None
    assert repo.mentions_for([message.id, uuid.uuid4()]) == {message.id: mentions}


def test_sender_message_id_makes_a_send_idempotent(repo: ChatRepository, users: Any) -> None:
    owner, member = users(2)
    room = make_room(repo, owner, [member])
    first = make_message(repo, room, owner, sender_message_id="client-1")
    again = MessageRecord(
        id=uuid.uuid4(),
        room_id=room.id,
        sender_id=owner.id,
        type="user_message",
        created_at=timezone.now(),
        updated_at=timezone.now(),
        text="again",
        sender_message_id="client-1",
    )
    with repo.atomic():
        stored, created = repo.message_create(again)
    assert (stored, created) == (first, False)
    assert repo.message_get(again.id) is None
    assert repo.message_get_by_sender_message_id(owner.id, "client-1") == first
    assert repo.message_get_by_sender_message_id(member.id, "client-1") is None
    assert repo.message_get_by_sender_message_id(owner.id, "") is None
    assert repo.unread_counts(user_id=member.id, room_ids=[room.id]) == {room.id: 1}


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_of_one_sender_message_id_store_one_message(users: Any) -> None:
    from django.db import connection

    from storage import get_repository

    repo = get_repository()
    owner, member = users(2)
    room = make_room(repo, owner, [member])
    results: list[tuple[uuid.UUID, bool]] = []
    barrier = threading.Barrier(4)

    def send() -> None:
        barrier.wait()
        try:
            message = MessageRecord(
                id=uuid.uuid4(),
                room_id=room.id,
                sender_id=owner.id,
                type="user_message",
                created_at=timezone.now(),
                updated_at=timezone.now(),
                text="x",
                sender_message_id="same",
            )
            with repo.atomic():
                stored, created = repo.message_create(message)
            results.append((stored.id, created))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert len({message_id for message_id, _ in results}) == 1
    assert repo.unread_counts(user_id=member.id, room_ids=[room.id]) == {room.id: 1}


def test_history_pages_cursors_dates_and_visibility(repo: ChatRepository, users: Any) -> None:
    owner, member, late = users(3)
    room = make_room(repo, owner, [member], at=ago(hours=2))
    base = ago(hours=1)
    messages = []
    for i in range(8):
        if i == 6:  # `late` joins between the 6th and the 7th message
            with repo.atomic():
                repo.participants_add(room.id, user_ids=[late.id], role="MEMBER", at=base + timedelta(minutes=5.5))
        messages.append(
            make_message(repo, room, owner if i % 2 else member, text=f"m{i}", at=base + timedelta(minutes=i))
        )
    newest_first = list(reversed(messages))
    window = MessageWindow(room_id=room.id, viewer_id=member.id)
    assert _ids(repo.messages_page(window, limit=3)) == _ids(newest_first[:3])
    assert _ids(repo.messages_page(window, limit=3, offset=6)) == _ids(newest_first[6:])
    assert _ids(repo.messages_page(window, limit=3, oldest_first=True)) == _ids(messages[:3])
    assert repo.messages_count(window) == 8

    cursor = MessageCursor(created_at=messages[5].created_at, id=messages[5].id)
    before = MessageWindow(room_id=room.id, viewer_id=member.id, before=cursor)
    assert _ids(repo.messages_page(before, limit=10)) == _ids(list(reversed(messages[:5])))
    after = MessageWindow(room_id=room.id, viewer_id=member.id, after=cursor)
    assert _ids(repo.messages_page(after, limit=1, oldest_first=True)) == [messages[6].id]
    assert repo.messages_count(after) == 2
    dated = MessageWindow(
        room_id=room.id, viewer_id=member.id, after_date=messages[1].created_at, before_date=messages[4].created_at
    )
    assert _ids(repo.messages_page(dated, limit=10)) == [messages[3].id, messages[2].id]
    joined = MessageWindow(room_id=room.id, viewer_id=late.id, visible_from=messages[6].created_at)
    assert _ids(repo.messages_page(joined, limit=10)) == [messages[7].id, messages[6].id]

    # Deleted messages leave everyone's history; a sender-blocked one leaves the blocker's only.
    with repo.atomic():
        repo.messages_soft_delete([messages[7].id], at=timezone.now())
    blocked = make_message(repo, room, owner, text="blocked", hidden_for=[member])
    assert _ids(repo.messages_page(window, limit=2)) == [messages[6].id, messages[5].id]
    assert repo.messages_count(window) == 7
    assert _ids(repo.messages_page(MessageWindow(room_id=room.id, viewer_id=owner.id), limit=1)) == [blocked.id]
    deleted = repo.message_get(messages[7].id)
    assert deleted is not None and deleted.is_deleted and deleted.deleted_at is not None


def test_history_walks_time_buckets(repo: ChatRepository, users: Any) -> None:
    owner, member = users(2)
    room = make_room(repo, owner, [member], at=month_start(14))
    old = make_message(repo, room, owner, at=month_start(13))
    middle = make_message(repo, room, owner, at=month_start(2))
    new = make_message(repo, room, owner)
    window = MessageWindow(room_id=room.id, viewer_id=member.id)
    assert _ids(repo.messages_page(window, limit=10)) == [new.id, middle.id, old.id]
    assert _ids(repo.messages_page(window, limit=1, offset=1)) == [middle.id]
    assert _ids(repo.messages_page(window, limit=2, oldest_first=True)) == [old.id, middle.id]
    assert repo.messages_count(window) == 3
    cursor = MessageCursor(created_at=new.created_at, id=new.id)
    assert _ids(repo.messages_page(MessageWindow(room_id=room.id, viewer_id=member.id, before=cursor), limit=1)) == [
        middle.id
    ]
    assert repo.last_messages([room.id], viewer_id=member.id)[room.id] == new


def test_edit_and_delete(repo: ChatRepository, users: Any) -> None:
    owner, member = users(2)
    room = make_room(repo, owner, [member])
    message = make_message(repo, room, owner)
    later = timezone.now() + timedelta(seconds=1)
    with repo.atomic():
        edited = repo.message_edit(message.id, content="c2", text="t2", at=later)
    assert edited is not None and (edited.content, edited.text, edited.edited, edited.updated_at) == (
        "c2",
        "t2",
        True,
        later,
    )
    assert repo.message_get(message.id) == edited
    assert repo.message_edit(uuid.uuid4(), content="x", text="x", at=later) is None

    assert repo.unread_counts(user_id=member.id, room_ids=[room.id]) == {room.id: 1}
    with repo.atomic():
        repo.messages_soft_delete([message.id], at=later)
    gone = repo.message_get(message.id)
    assert gone is not None and (gone.is_deleted, gone.deleted_at, gone.updated_at) == (True, later, later)
    assert repo.metas_for_user([message.id], member.id)[message.id].is_deleted
    assert repo.unread_counts(user_id=member.id, room_ids=[room.id]) == {room.id: 0}


def test_last_messages_skip_deleted_and_hidden_also_inside_the_deleting_unit(repo: ChatRepository, users: Any) -> None:
    owner, member = users(2)
    room = make_room(repo, owner, [member])
    empty = make_room(repo, owner, [member])
    first = make_message(repo, room, owner)
    second = make_message(repo, room, member)
    hidden = make_message(repo, room, owner, hidden_for=[member])
    assert repo.last_messages([room.id, empty.id], viewer_id=member.id) == {room.id: second}
    assert repo.last_messages([room.id], viewer_id=owner.id) == {room.id: hidden}
    with repo.atomic():
        repo.messages_soft_delete([hidden.id, second.id], at=timezone.now())
        newest = repo.last_messages([room.id], viewer_id=None)[room.id]
        repo.room_last_message_replace(room.id, message_id=newest.id, at=newest.created_at)
    assert newest == first
    assert repo.room_get(room.id).last_message_id == first.id  # type: ignore[union-attr]
    assert repo.last_messages([room.id], viewer_id=None) == {room.id: first}


def test_read_state_unread_counts_receipts(repo: ChatRepository, users: Any) -> None:
    owner, reader, other = users(3)
    room = make_room(repo, owner, [reader, other], at=ago(hours=1))
    messages = [make_message(repo, room, owner, at=ago(minutes=10 - i)) for i in range(4)]
    mine = make_message(repo, room, reader)
    assert repo.unread_counts(user_id=reader.id, room_ids=[room.id, uuid.uuid4()])[room.id] == 4
    assert repo.messages_read_by_others([m.id for m in messages]) == set()

    read_at = timezone.now()
    with repo.atomic():
        marked = repo.meta_mark_read(room_id=room.id, user_id=reader.id, up_to=messages[2].created_at, at=read_at)
    assert marked == 3
    assert repo.unread_counts(user_id=reader.id, room_ids=[room.id]) == {room.id: 1}
    metas = repo.metas_for_user([m.id for m in messages] + [mine.id], reader.id)
    assert [metas[m.id].read_at for m in messages] == [read_at, read_at, read_at, None]
    assert metas[mine.id].read_at == mine.created_at
    assert repo.messages_read_by_others([m.id for m in messages] + [mine.id]) == {m.id for m in messages[:3]}
    assert repo.meta_mark_read(room_id=room.id, user_id=reader.id, up_to=messages[2].created_at, at=read_at) == 0

    later = read_at + timedelta(seconds=1)
    repo.meta_mark_read(room_id=room.id, user_id=other.id, up_to=messages[0].created_at, at=later)
    readers, total = repo.message_readers(messages[0].id, exclude_user_id=owner.id, limit=10, offset=0)
    assert [(m.user_id, m.read_at) for m in readers] == [(reader.id, read_at), (other.id, later)] and total == 2
    readers, total = repo.message_readers(messages[0].id, exclude_user_id=None, limit=1, offset=1)
    assert [m.user_id for m in readers] == [reader.id] and total == 3


def test_reactions(repo: ChatRepository, users: Any) -> None:
    owner, a, b = users(3)
    room = make_room(repo, owner, [a, b])
    message = make_message(repo, room, owner)
    repo.reaction_set(message.id, a.id, "👍", at=ago(seconds=30))
    repo.reaction_set(message.id, b.id, "❤️", at=ago(seconds=20))
    before = repo.reactions_for([message.id])[message.id][0]
    repo.reaction_set(message.id, a.id, "😂", at=ago(seconds=10))  # replaces a's: keeps its place
    reactions = repo.reactions_for([message.id, uuid.uuid4()])[message.id]
    assert [(r.user_id, r.reaction) for r in reactions] == [(a.id, "😂"), (b.id, "❤️")]
    assert reactions[0].created_at == before.created_at
    page, total = repo.reactions_page(message.id, limit=1, offset=1)
    assert [r.user_id for r in page] == [b.id] and total == 2
    assert repo.reaction_delete(message.id, a.id) is True
    assert repo.reaction_delete(message.id, a.id) is False
    assert [r.user_id for r in repo.reactions_for([message.id])[message.id]] == [b.id]


def test_a_touched_message_is_changed_since(repo: ChatRepository, users: Any) -> None:
    me, other = users(2)
    room = make_room(repo, me, [other], at=ago(days=2))
    touched = make_message(repo, room, other, at=ago(days=1))
    make_message(repo, room, other, at=ago(days=1))
    repo.message_touch(touched.id, at=ago(minutes=5))
    repo.message_touch(uuid.uuid4(), at=ago(minutes=5))  # unknown ids are ignored

    found = repo.messages_since(room_ids=[room.id], viewer_id=me.id, since=ago(hours=1), per_room=10)
    assert [m.id for m in found[room.id]] == [touched.id]
    stored = repo.message_get(touched.id)
    assert stored is not None and stored.updated_at > stored.created_at


def test_messages_since(repo: ChatRepository, users: Any) -> None:
    me, other = users(2)
    room = make_room(repo, me, [other], at=ago(days=2))
    quiet = make_room(repo, me, [other], at=ago(days=2))
    old = make_message(repo, room, other, at=ago(days=1))
    edited_old = make_message(repo, room, other, at=ago(hours=20))
    since = ago(hours=1)
    new = [make_message(repo, room, other, at=ago(minutes=30 - i)) for i in range(3)]
    hidden = make_message(repo, room, other, hidden_for=[me])
    repo.message_edit(edited_old.id, content="c", text="t", at=ago(minutes=5))

    found = repo.messages_since(room_ids=[room.id, quiet.id], viewer_id=me.id, since=since, per_room=10)
    assert list(found) == [room.id]
    assert _ids(found[room.id]) == [new[2].id, new[1].id, new[0].id, edited_old.id]
    assert hidden.id not in _ids(found[room.id]) and old.id not in _ids(found[room.id])
    assert _ids(repo.messages_since(room_ids=[room.id], viewer_id=me.id, since=since, per_room=2)[room.id]) == [
        new[2].id,
        new[1].id,
    ]
    everything = repo.messages_since(room_ids=[room.id], viewer_id=me.id, since=ago(days=3), per_room=50)
    assert len(everything[room.id]) == 5
    assert repo.messages_since(room_ids=[room.id], viewer_id=me.id, since=since, per_room=0) == {}


def test_a_rejoined_member_sees_what_was_sent_to_them_not_what_was_sent_while_away(
    repo: ChatRepository, users: Any
) -> None:
    owner, member = users(2)
    room = make_room(repo, owner, [member], at=ago(hours=3))
    before = make_message(repo, room, owner, at=ago(hours=2))
    with repo.atomic():
        repo.participants_remove(room.id, user_ids=[member.id], at=ago(minutes=90))
    away = make_message(repo, room, owner, at=ago(hours=1))
    rejoined = ago(minutes=30)
    with repo.atomic():
        repo.participants_add(room.id, user_ids=[member.id], role="MEMBER", at=rejoined)
    after = make_message(repo, room, owner, at=ago(minutes=10))

    window = MessageWindow(room_id=room.id, viewer_id=member.id, visible_from=rejoined)
    assert _ids(repo.messages_page(window, limit=10)) == [after.id, before.id]
    assert _ids(repo.messages_page(window, limit=1, offset=1)) == [before.id]
    assert _ids(repo.messages_page(window, limit=10, oldest_first=True)) == [before.id, after.id]
    assert repo.messages_count(window) == 2
    cursor = MessageCursor(created_at=after.created_at, id=after.id)
    paged = MessageWindow(room_id=room.id, viewer_id=member.id, visible_from=rejoined, before=cursor)
    assert _ids(repo.messages_page(paged, limit=10)) == [before.id]

    since = repo.messages_since(room_ids=[room.id], viewer_id=member.id, since=ago(days=1), per_room=10)
    assert _ids(since[room.id]) == [after.id, before.id]
    assert away.id in _ids(repo.messages_page(MessageWindow(room_id=room.id, viewer_id=owner.id), limit=10))


def test_deleted_messages_are_tombstones_in_sync(repo: ChatRepository, users: Any) -> None:
    owner, member = users(2)
    room = make_room(repo, owner, [member], at=ago(hours=2))
    kept = make_message(repo, room, owner, at=ago(hours=1))
    gone = make_message(repo, room, owner, at=ago(minutes=50))
    since = ago(minutes=5)
    with repo.atomic():
        repo.messages_soft_delete([gone.id], at=timezone.now())
    found = repo.messages_since(room_ids=[room.id], viewer_id=member.id, since=since, per_room=10)
    assert [(m.id, m.is_deleted) for m in found[room.id]] == [(gone.id, True)]
    assert kept.id in _ids(repo.messages_page(MessageWindow(room_id=room.id, viewer_id=member.id), limit=10))
    assert repo.last_messages([room.id], viewer_id=member.id) == {room.id: kept}


@pytest.mark.django_db(transaction=True)
def test_a_failed_unit_of_work_frees_the_sender_message_id_it_claimed(users: Any) -> None:
    from storage import get_repository

    repo = get_repository()
    owner, member = users(2)
    room = make_room(repo, owner, [member])
    with pytest.raises(RuntimeError):
        with repo.atomic():
            lost = make_message(repo, room, owner, sender_message_id="retry-me")
            raise RuntimeError("after the claim")
    assert repo.message_get_by_sender_message_id(owner.id, "retry-me") is None
    assert repo.message_get(lost.id) is None
    assert repo.unread_counts(user_id=member.id, room_ids=[room.id]) == {room.id: 0}
    again = make_message(repo, room, owner, sender_message_id="retry-me")
    assert repo.message_get_by_sender_message_id(owner.id, "retry-me") == again


def test_the_writes_of_a_send_together(repo: ChatRepository, users: Any) -> None:
    """message_send_store: the message, the room's last message (never backwards) and its events;
    nothing but the read of the stored message when the sender_message_id is taken."""
    from tests.storage.test_contract_outbox import event

    owner, member = users(2)
    room = make_room(repo, owner, [member])
    at = timezone.now() + timedelta(seconds=10)  # every message after the member's join

    def record(text: str, created_at: Any, sender_message_id: str = "") -> MessageRecord:
        return MessageRecord(
            id=uuid.uuid4(),
            room_id=room.id,
            sender_id=owner.id,
            type="user_message",
            created_at=created_at,
            updated_at=created_at,
            text=text,
            sender_message_id=sender_message_id,
        )

    first, first_events = record("first", at, "send-1"), [event(room.id), event(room.id, "message")]
    assert repo.message_send_store(first, events=first_events) == (first, True)
    assert repo.message_get(first.id) == first
    assert [e.data for e in repo.outbox_get([e.event_id for e in first_events])] == [e.data for e in first_events]
    assert (repo.room_get(room.id).last_message_id, repo.room_get(room.id).last_message_at) == (first.id, at)  # type: ignore[union-attr]
    assert repo.unread_counts(user_id=member.id, room_ids=[room.id]) == {room.id: 1}

    older = record("older", at - timedelta(seconds=5))
    assert repo.message_send_store(older, events=[event(room.id)]) == (older, True)
    assert repo.room_get(room.id).last_message_id == first.id  # type: ignore[union-attr]

    again, again_events = record("again", at + timedelta(seconds=1), "send-1"), [event(room.id)]
    assert repo.message_send_store(again, events=again_events) == (first, False)
    assert repo.message_get(again.id) is None
    assert repo.outbox_get([again_events[0].event_id]) == []
    assert repo.room_get(room.id).last_message_id == first.id  # type: ignore[union-attr]
    assert repo.unread_counts(user_id=member.id, room_ids=[room.id]) == {room.id: 2}
