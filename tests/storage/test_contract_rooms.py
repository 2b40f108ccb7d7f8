"""Contract of RoomStore and of the unit of work: the same behaviour on every back end (CHAT_STORAGE)."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from storage import ChatRepository
from storage.errors import P2PRoomExistsError
from storage.records import RoomPageQuery
from tests.storage.conftest import ago, make_message, make_room, room_draft

# --- rooms ---------------------------------------------------------------------------------------


def test_insert_then_read_back(repo: ChatRepository, users: Any) -> None:
    owner, a, b = users(3)
    at = timezone.now()
    room = make_room(repo, owner, [a, b], name="Team", at=at)

    assert repo.room_get(room.id) == room
    assert repo.rooms_get([room.id, uuid.uuid4()]) == {room.id: room}
    assert (room.type, room.name, room.created_by_id, room.last_message_id) == ("group", "Team", owner.id, None)
    active = repo.participants_active(room.id)
    assert [(p.user_id, p.role, p.joined_at) for p in active] == [
        (owner.id, "OWNER", at),
        (a.id, "MEMBER", at),
        (b.id, "MEMBER", at),
    ]
    found = repo.membership_get(room.id, a.id)
    assert found is not None and found[0] == room and found[1] == active[1]
    assert found[1].user.name == f"Name {a.username}"
    assert repo.membership_get(room.id, users(1)[0].id) is None
    assert set(repo.room_ids_for_user(b.id)) == {room.id}
    assert repo.room_owner_get(room.id) == active[0]


def test_p2p_pair_is_unique_until_the_room_is_deleted(repo: ChatRepository, users: Any) -> None:
    a, b = users(2)
    room = make_room(repo, a, [b], type="p2p")
    key = f"{min(a.id, b.id)}:{max(a.id, b.id)}"
    assert repo.room_get_by_p2p_key(key) == room

    with repo.atomic():
        with pytest.raises(P2PRoomExistsError):
            repo.room_insert(
                room_draft(b.id, type="p2p", name="", p2p_key=key), participants=[(b.id, "OWNER")], at=timezone.now()
            )
        # The unit of work stays usable after the refused insert.
        repo.room_touch(room.id, at=timezone.now())

    with repo.atomic():
        repo.participants_remove(room.id, user_ids=[a.id, b.id], at=timezone.now())
        repo.room_soft_delete(room.id, at=timezone.now())
    assert repo.room_get(room.id) is None
    assert repo.room_get_by_p2p_key(key) is None
    assert repo.room_ids_for_user(a.id) == []
    again = make_room(repo, b, [a], type="p2p")
    assert again.id != room.id
    assert repo.room_get_by_p2p_key(key) == again


@pytest.mark.django_db(transaction=True)
def test_concurrent_p2p_inserts_make_one_room(users: Any) -> None:
    from storage import get_repository

    repo = get_repository()
    a, b = users(2)
    key = f"{min(a.id, b.id)}:{max(a.id, b.id)}"
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def create() -> None:
        barrier.wait()
        try:
            with repo.atomic():
                repo.room_insert(
                    room_draft(a.id, type="p2p", name="", p2p_key=key),
                    participants=[(a.id, "OWNER"), (b.id, "MEMBER")],
                    at=timezone.now(),
                )
            outcomes.append("created")
        except P2PRoomExistsError:
            outcomes.append("exists")
        finally:
            from django.db import connection

            connection.close()

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["created", "exists", "exists", "exists"]
    room = repo.room_get_by_p2p_key(key)
    assert room is not None
    assert repo.room_ids_for_user(a.id) == [room.id]


def test_update_touch_and_last_message(repo: ChatRepository, users: Any) -> None:
    owner, member = users(2)
    room = make_room(repo, owner, [member])
    later = timezone.now() + timedelta(seconds=1)
    with repo.atomic():
        updated = repo.room_update(room.id, changes={"name": "New", "add_member": True}, at=later)
    assert (updated.name, updated.add_member, updated.updated_at) == ("New", True, later)
    assert repo.room_get(room.id) == updated
    with pytest.raises(ValueError):
        repo.room_update(room.id, changes={"type": "p2p"}, at=later)

    touched = later + timedelta(seconds=1)
    repo.room_touch(room.id, at=touched)
    assert repo.room_get(room.id).updated_at == touched  # type: ignore[union-attr]

    first, second = uuid.uuid4(), uuid.uuid4()
    t1, t2 = ago(minutes=2), ago(minutes=1)
    repo.room_last_message_set(room.id, message_id=second, at=t2)
    repo.room_last_message_set(room.id, message_id=first, at=t1)  # older: never moves backwards
    current = repo.room_get(room.id)
    assert current is not None and (current.last_message_id, current.last_message_at) == (second, t2)
    with repo.atomic():
        repo.room_last_message_replace(room.id, message_id=first, at=t1)  # a delete moves it back
    current = repo.room_get(room.id)
    assert current is not None and (current.last_message_id, current.last_message_at) == (first, t1)
    repo.room_last_message_replace(room.id, message_id=None, at=None)
    current = repo.room_get(room.id)
    assert current is not None and (current.last_message_id, current.last_message_at) == (None, None)


# --- a user's rooms ------------------------------------------------------------------------------


def _page(repo: ChatRepository, user: Any, **query: Any) -> tuple[list[uuid.UUID], int]:
    rows, total = repo.rooms_page_for_user(
        RoomPageQuery(user_id=user.id, offset=query.pop("offset", 0), limit=query.pop("limit", 50), **query)
    )
    for room, participation in rows:
        assert participation.room_id == room.id and participation.user_id == user.id
    return [room.id for room, _ in rows], total


def test_rooms_page_order_pinned_then_last_message_then_created(repo: ChatRepository, users: Any) -> None:
    me, other = users(2)
    quiet_old = make_room(repo, me, [other], name="quiet old")
    quiet_new = make_room(repo, me, [other], name="quiet new")
    talk_old = make_room(repo, me, [other], name="talk old")
    talk_new = make_room(repo, me, [other], name="talk new")
    pinned = make_room(repo, me, [other], name="pinned")
    repo.room_last_message_set(talk_old.id, message_id=uuid.uuid4(), at=ago(hours=2))
    repo.room_last_message_set(talk_new.id, message_id=uuid.uuid4(), at=ago(hours=1))
    assert repo.participant_flag_toggle(pinned.id, me.id, flag="is_pinned") is True

    order, total = _page(repo, me)
    assert order == [pinned.id, talk_new.id, talk_old.id, quiet_new.id, quiet_old.id]
    assert total == 5
    assert _page(repo, me, offset=1, limit=2) == ([talk_new.id, talk_old.id], 5)
    # The other participant has pinned nothing.
    assert _page(repo, other)[0] == [talk_new.id, talk_old.id, pinned.id, quiet_new.id, quiet_old.id]


def test_rooms_page_search_type_and_since(repo: ChatRepository, users: Any) -> None:
    me, jose, ana = users(3)
    jose_profile = jose.chat_profile
    jose_profile.display_name = "José Núñez"
    jose_profile.save()
    with_jose = make_room(repo, me, [jose], type="p2p")
    cafe = make_room(repo, me, [ana], name="Café Olé")
    make_room(repo, me, [ana], name="Other")

    assert _page(repo, me, search="jose")[0] == [with_jose.id]
    assert _page(repo, me, search="NUÑ")[0] == [with_jose.id]
    assert _page(repo, me, search="cafe ole") == ([cafe.id], 1)
    assert _page(repo, me, search="zzz") == ([], 0)
    assert _page(repo, me, type="p2p") == ([with_jose.id], 1)
    assert _page(repo, me, type="group")[1] == 2

    later = timezone.now() + timedelta(seconds=5)
    assert _page(repo, me, since=later) == ([], 0)
    repo.room_touch(cafe.id, at=later)
    assert _page(repo, me, since=later) == ([cafe.id], 1)


def test_participants_add_remove_roles_and_flags(repo: ChatRepository, users: Any) -> None:
    owner, admin, member, newcomer = users(4)
    room = make_room(repo, owner, [admin, member])
    assert repo.participant_role_set(room.id, admin.id, role="ADMIN").role == "ADMIN"

    later = timezone.now() + timedelta(seconds=1)
    with repo.atomic():
        repo.participants_remove(room.id, user_ids=[member.id], at=later)
    removed = repo.participant_get(room.id, member.id)
    assert removed is not None and removed.removed_at == later and not removed.is_active
    assert repo.membership_get(room.id, member.id) is None
    assert repo.room_ids_for_user(member.id) == []
    assert [p.user_id for p in repo.participants_active(room.id)] == [owner.id, admin.id]

    back = later + timedelta(seconds=1)
    with repo.atomic():
        added = repo.participants_add(room.id, user_ids=[member.id, newcomer.id, owner.id], role="MEMBER", at=back)
    assert [(p.user_id, p.is_active) for p in added] == [(member.id, True), (newcomer.id, True), (owner.id, True)]
    assert added[0].joined_at == back and added[2].role == "OWNER"
    assert set(repo.participants_get(room.id, [member.id, newcomer.id, 999_999])) == {member.id, newcomer.id}
    assert [p.user_id for p in repo.participants_active(room.id)] == [owner.id, admin.id, member.id, newcomer.id]

    assert repo.participant_successor(room.id, excluding=[owner.id]).user_id == admin.id  # type: ignore[union-attr]
    assert repo.participant_successor(room.id, excluding=[owner.id, admin.id]).user_id == member.id  # type: ignore[union-attr]
    assert repo.participant_successor(room.id, excluding=[owner.id, admin.id, member.id, newcomer.id]) is None

    for flag in ("is_muted", "is_pinned", "is_partner_blocked"):
        assert repo.participant_flag_toggle(room.id, member.id, flag=flag) is True
        assert getattr(repo.participant_get(room.id, member.id), flag) is True
        assert repo.participant_flag_toggle(room.id, member.id, flag=flag) is False
    with pytest.raises(ValueError):
        repo.participant_flag_toggle(room.id, member.id, flag="role")


def test_participants_page_and_preview(repo: ChatRepository, users: Any) -> None:
    owner, *members = users(6)
    members[2].chat_profile.display_name = "Zoë Special"
    members[2].chat_profile.save()
    room = make_room(repo, owner, members)
    other_room = make_room(repo, members[0], [owner])

    page, total = repo.participants_page(room.id, search="", offset=1, limit=2)
    assert [p.user_id for p in page] == [members[0].id, members[1].id] and total == 6
    page, total = repo.participants_page(room.id, search="zoe", offset=0, limit=10)
    assert [p.user_id for p in page] == [members[2].id] and total == 1

    preview = repo.participants_preview([room.id, other_room.id], viewer_id=members[4].id, limit=2)
    assert [p.user_id for p in preview[room.id]] == [members[4].id, owner.id, members[0].id]
    assert [p.user_id for p in preview[other_room.id]] == [members[0].id, owner.id]  # viewer not a member


def test_sync_rooms_changed_and_gone(repo: ChatRepository, users: Any) -> None:
    me, other = users(2)
    stays = make_room(repo, me, [other], name="stays")
    left = make_room(repo, me, [other], name="left")
    deleted = make_room(repo, other, [me], name="deleted")
    since = timezone.now() + timedelta(seconds=1)
    assert repo.sync_rooms(user_id=me.id, since=since).changed_room_ids == []

    later = since + timedelta(seconds=1)
    make_message(repo, stays, other, at=later)
    with repo.atomic():
        repo.participants_remove(left.id, user_ids=[me.id], at=later)
        repo.room_soft_delete(deleted.id, at=later)
    sync = repo.sync_rooms(user_id=me.id, since=since)
    assert sync.changed_room_ids == [stays.id]
    assert sorted(sync.gone_room_ids) == sorted([left.id, deleted.id])
    everything = repo.sync_rooms(user_id=me.id, since=ago(days=1))
    assert everything.changed_room_ids == [stays.id]
    assert sorted(repo.rooms_gone_since(user_id=me.id, since=since)) == sorted([left.id, deleted.id])
    assert repo.rooms_gone_since(user_id=me.id, since=later + timedelta(seconds=1)) == []
    assert repo.rooms_gone_since(user_id=other.id, since=since) == [deleted.id]


# --- the unit of work ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # postgres: on_commit needs real commits
def test_a_failed_unit_of_work_writes_nothing(repo: ChatRepository, users: Any) -> None:
    owner, member = users(2)
    ran: list[str] = []
    with pytest.raises(RuntimeError):
        with repo.atomic():
            room = make_room(repo, owner, [member])
            repo.on_commit(lambda: ran.append("commit"))
            raise RuntimeError("boom")
    assert repo.room_get(room.id) is None
    assert repo.room_ids_for_user(owner.id) == []
    assert ran == []


@pytest.mark.django_db(transaction=True)
def test_on_commit_runs_after_the_outermost_commit_and_nested_failure_rolls_back_its_part(
    repo: ChatRepository, users: Any
) -> None:
    owner, member = users(2)
    seen: list[bool] = []
    with repo.atomic():
        kept = make_room(repo, owner, [member], name="kept")
        repo.on_commit(lambda: seen.append(repo.room_get(kept.id) is not None))
        with pytest.raises(RuntimeError):
            with repo.atomic():
                dropped = make_room(repo, owner, [member], name="dropped")
                repo.on_commit(lambda: seen.append(False))
                raise RuntimeError("inner")
        assert seen == []
    assert seen == [True]
    assert repo.room_get(dropped.id) is None
    assert repo.room_ids_for_user(member.id) == [kept.id]
    ran: list[int] = []
    repo.on_commit(lambda: ran.append(1))  # outside a unit of work: at once
    assert ran == [1]


@pytest.mark.django_db(transaction=True)
def test_a_failed_unit_of_work_frees_the_p2p_pair_it_claimed(repo: ChatRepository, users: Any) -> None:
    a, b = users(2)
    key = f"{min(a.id, b.id)}:{max(a.id, b.id)}"
    with pytest.raises(RuntimeError):
        with repo.atomic():
            lost = make_room(repo, a, [b], type="p2p")
            raise RuntimeError("after the claim")
    assert repo.room_get_by_p2p_key(key) is None
    assert repo.room_get(lost.id) is None
    room = make_room(repo, b, [a], type="p2p")
    assert repo.room_get_by_p2p_key(key) == room
