"""`postgres` back end: the membership look-up of every room operation in one plain statement.

room_access (domain/access.py) runs it on every request that names a room, SendMessage included. The
ORM query it replaces (participant, room, user and profile through select_related) cost more CPU to
compile than the database spent answering it; the statement here is built once per process.
"""

from __future__ import annotations

import dataclasses
import functools
import uuid

from django.contrib.auth import get_user_model
from django.db import connections, models, router

from storage.models import Participant, Profile, Room
from storage.records import ParticipantRecord, RoomRecord, UserRecord

_ROOM_FIELDS = [f.name for f in dataclasses.fields(RoomRecord)]
_PARTICIPANT_FIELDS = ["role", "is_muted", "is_pinned", "is_partner_blocked", "joined_at", "removed_at"]


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)
    return f'"{field.column}"'


@functools.cache
def _statement() -> str:
    user = get_user_model()
    room_columns = ", ".join(f"r.{_column(Room, name)}" for name in _ROOM_FIELDS)
    participant_columns = ", ".join(f"p.{_column(Participant, name)}" for name in _PARTICIPANT_FIELDS)
    user_columns = ", ".join(
        f"u.{_column(user, name)}" for name in ("id", user.USERNAME_FIELD, "first_name", "last_name")
    )
    return (
        f"SELECT {room_columns}, {participant_columns}, {user_columns},"
        f" pr.display_name, pr.phone, pr.avatar_url"
        f' FROM "{Participant._meta.db_table}" p'
        f' JOIN "{Room._meta.db_table}" r ON r.id = p.room_id'
        f' JOIN "{user._meta.db_table}" u ON u.id = p.user_id'
        f' LEFT JOIN "{Profile._meta.db_table}" pr ON pr.user_id = u.id'
        f" WHERE p.room_id = %s AND p.user_id = %s AND p.removed_at IS NULL AND r.deleted_at IS NULL"
    )


def membership_supported() -> bool:
    """The plain statement reads PostgreSQL's types as they come (uuid, timestamptz); other databases
    (SQLite for `make run`) go through the ORM, which converts them."""
    return bool(connections[router.db_for_read(Participant)].vendor == "postgresql")


def membership_get(room_id: uuid.UUID, user_id: int) -> tuple[RoomRecord, ParticipantRecord] | None:
    """The live room and the user's active participation in it, or None (PostgreSQL only)."""
    with connections[router.db_for_read(Participant)].cursor() as cursor:
        cursor.execute(_statement(), [room_id, user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    n, m = len(_ROOM_FIELDS), len(_PARTICIPANT_FIELDS)
    room = RoomRecord(**dict(zip(_ROOM_FIELDS, row[:n], strict=True)))
    flags = dict(zip(_PARTICIPANT_FIELDS, row[n : n + m], strict=True))
    uid, username, first_name, last_name, display_name, phone, avatar = row[n + m :]
    full_name = f"{first_name} {last_name}".strip()  # as User.get_full_name()
    user = UserRecord(id=uid, name=display_name or full_name or username, phone=phone or "", avatar=avatar or "")
    return room, ParticipantRecord(room_id=room.id, user=user, **flags)
