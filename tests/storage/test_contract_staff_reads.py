"""Contract of the admin's reads (rooms_for_staff, messages_for_staff): the same on every back end."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from storage import ChatRepository
from storage.records import StaffRoomQuery
from storage.records_messages import StaffMessageQuery
from tests.storage.conftest import ago, make_message, make_room, month_start


def test_rooms_for_staff_lists_every_room_newest_first_with_filters(repo: ChatRepository, users: Any) -> None:
    alice, bob, carol = users(3)
    zoe = users(1, display_name="Zoë Quill")[0]
    old = make_room(repo, alice, [bob], name="Old news", at=ago(days=2))
    p2p = make_room(repo, alice, [zoe], type="p2p", at=ago(days=1))
    gone = make_room(repo, carol, [bob], name="Gone room", at=ago(hours=1))
    with repo.atomic():
        repo.room_soft_delete(gone.id, at=timezone.now())

    def ids(**query: Any) -> tuple[list[Any], int]:
        rooms, total = repo.rooms_for_staff(StaffRoomQuery(**{"offset": 0, "limit": 10, **query}))
        return [r.id for r in rooms], total

    assert ids() == ([gone.id, p2p.id, old.id], 3)
    assert ids(offset=1, limit=1) == ([p2p.id], 3)
    assert ids(deleted=False) == ([p2p.id, old.id], 2)
    assert ids(deleted=True) == ([gone.id], 1)
    assert ids(type="p2p") == ([p2p.id], 1)
    assert ids(search="old NEWS") == ([old.id], 1)  # by name, ignoring case
    assert ids(search="quill") == ([p2p.id], 1)  # by a member's display name
    assert ids(search=carol.username) == ([gone.id], 1)  # by a member's username
    assert ids(search="nothing like it") == ([], 0)
    repo.participants_remove(p2p.id, user_ids=[zoe.id], at=timezone.now())
    assert ids(search="quill") == ([], 0)  # removed participants do not name a room


def test_messages_for_staff_lists_a_rooms_messages_as_stored(repo: ChatRepository, users: Any) -> None:
    alice, bob = users(2)
    room = make_room(repo, alice, [bob])
    other = make_room(repo, bob, [alice])
    first = make_message(repo, room, alice, text="The quick brown fox", at=month_start(1))
    hidden = make_message(repo, room, bob, text="blocked from alice", at=ago(minutes=3), hidden_for=[alice])
    deleted = make_message(repo, room, alice, text="spam BROWN", at=ago(minutes=2))
    last = make_message(repo, room, bob, text="lazy dog", at=ago(minutes=1))
    make_message(repo, other, bob, text="brown elsewhere")
    with repo.atomic():
        repo.messages_soft_delete([deleted.id], at=timezone.now())

    def ids(**query: Any) -> tuple[list[Any], int]:
        found, total = repo.messages_for_staff(
            StaffMessageQuery(**{"room_id": room.id, "offset": 0, "limit": 10, **query})
        )
        return [m.id for m in found], total

    assert ids() == ([last.id, deleted.id, hidden.id, first.id], 4)  # across months, newest first
    assert ids(offset=1, limit=2) == ([deleted.id, hidden.id], 4)
    assert ids(search="brown") == ([deleted.id, first.id], 2)
    assert ids(search="brown", deleted=False) == ([first.id], 1)
    assert ids(deleted=True) == ([deleted.id], 1)
    found, _ = repo.messages_for_staff(StaffMessageQuery(room_id=room.id, offset=0, limit=1, search="fox"))
    assert (found[0].text, found[0].sender_id, found[0].is_deleted) == ("The quick brown fox", alice.id, False)
