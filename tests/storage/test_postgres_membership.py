"""The `postgres` membership look-up (storage/postgres/membership.py), one plain statement, answers
exactly as the ORM query it replaced. Postgres only (the Makefile leaves it out of the scylla pass)."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from storage import ChatRepository
from storage.models import Profile
from tests.storage.conftest import make_room


def test_the_plain_statement_answers_as_the_orm(repo: ChatRepository, users: Any, user_factory: Any) -> None:
    owner, member = users(2, display_name="Shown Name", phone="+1555", avatar_url="https://a.example/p.png")
    bare = user_factory(first_name="Ada", last_name="Lovelace")
    Profile.objects.filter(user=bare).delete()
    gone = user_factory()
    room = make_room(repo, owner, [member, bare, gone])
    with repo.atomic():
        repo.participants_remove(room.id, user_ids=[gone.id], at=timezone.now())
        repo.participant_flag_toggle(room.id, member.id, flag="is_muted")
    deleted = make_room(repo, owner, [member], name="Deleted")
    with repo.atomic():
        repo.room_soft_delete(deleted.id, at=timezone.now())

    cases = [(room.id, u.id) for u in (owner, member, bare, gone)] + [(deleted.id, owner.id), (uuid.uuid4(), owner.id)]
    for room_id, user_id in cases:
        assert repo.membership_get(room_id, user_id) == repo.membership_get_orm(room_id, user_id)  # type: ignore[attr-defined]
    found = repo.membership_get(room.id, bare.id)
    assert found is not None and found[1].user.name == "Ada Lovelace"
    assert repo.membership_get(room.id, gone.id) is None and repo.membership_get(deleted.id, owner.id) is None
    with CaptureQueriesContext(connection) as captured:
        repo.membership_get(room.id, member.id)
    assert len(captured.captured_queries) == 1
