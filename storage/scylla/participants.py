"""`scylla` back end, rooms part 2: participants (participants_by_room, mirrored in rooms_by_user) and
the users they show (users live in the Django database: users_get reads them with the ORM)."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from storage.base_rooms import PARTICIPANT_FLAGS
from storage.enums import Role
from storage.records import ParticipantRecord, UserRecord
from storage.scylla import cql as c
from storage.scylla.cql import cql, insert, update, write
from storage.scylla.timeuuids import at_us, from_us, to_us
from storage.users import users_get

SELECT_PARTICIPANTS_IN_ROOMS = "SELECT * FROM {participants_by_room} WHERE user_id = ? AND room_id IN ?"
SELECT_PARTICIPANTS_IN = "SELECT * FROM {participants_by_room} WHERE room_id = ? AND user_id IN ?"
SELECT_PARTICIPANTS_OF_ROOMS = "SELECT * FROM {participants_by_room} WHERE room_id IN ?"
SELECT_PARTICIPANT = "SELECT * FROM {participants_by_room} WHERE room_id = ? AND user_id = ?"
SELECT_PARTICIPANTS = "SELECT * FROM {participants_by_room} WHERE room_id = ?"
SELECT_ROOM = "SELECT * FROM {room_details} WHERE room_id = ?"


def fold(text: str) -> str:
    """Lower case without accents (`José` → `jose`): search is accent- and case-insensitive."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def participant_record(row: dict[str, Any], user: UserRecord) -> ParticipantRecord:
    return ParticipantRecord(
        room_id=row["room_id"],
        user=user,
        role=row["role"],
        is_muted=bool(row["is_muted"]),
        is_pinned=bool(row["is_pinned"]),
        is_partner_blocked=bool(row["is_partner_blocked"]),
        joined_at=at_us(row["joined_at"]),
        removed_at=from_us(row["removed_at"]),
    )


def is_active_row(row: dict[str, Any]) -> bool:
    return row["removed_at"] is None


def join_order(row: dict[str, Any]) -> tuple[int, int, int]:
    """Oldest first, as the order they were added in (postgres: joined_at, then row id)."""
    return row["joined_at"], row["join_order"] or 0, row["user_id"]


def participation_writes(
    room_id: uuid.UUID, room_type: str, user_id: int, role: str, now: int, order: int, *, new: bool
) -> list[c.Write]:
    """A new (or re-activated) active participation: both sides, and no longer a gone room."""
    fields = {
        "role": role,
        "is_muted": False,
        "is_pinned": False,
        "is_partner_blocked": False,
        "joined_at": now,
        "join_order": order,
        "updated_at": now,
    }
    mine = {"room_type": room_type, "is_pinned": False, "joined_at": now, "updated_at": now, "room_deleted": False}
    if new:
        return [
            insert("participants_by_room", {"room_id": room_id, "user_id": user_id, **fields}),
            insert("rooms_by_user", {"user_id": user_id, "room_id": room_id, **mine}),
        ]
    return [
        update("participants_by_room", {"room_id": room_id, "user_id": user_id}, {**fields, "removed_at": None}),
        update(
            "rooms_by_user", {"user_id": user_id, "room_id": room_id}, {**mine, "removed_at": None, "rejoined": True}
        ),
        c.delete("deleted_rooms_by_user", {"user_id": user_id, "room_id": room_id}),
    ]


def user_search_texts(user_ids: set[int], *, with_phone: bool) -> dict[int, tuple[str, ...]]:
    """The folded texts a user search matches (display name, username, first and last name, phone)."""
    if not user_ids:
        return {}
    fields = ["id", "username", "first_name", "last_name", "chat_profile__display_name"]
    if with_phone:
        fields.append("chat_profile__phone")
    texts: dict[int, tuple[str, ...]] = {}
    for values in get_user_model().objects.filter(id__in=list(user_ids)).values(*fields):
        user_id = values.pop("id")
        texts[user_id] = tuple(fold(str(v)) for v in values.values() if v)
    return texts


class ScyllaParticipantsMixin:
    def users_get(self, user_ids: list[int] | set[int]) -> dict[int, UserRecord]:
        return users_get(user_ids)

    def _participants_of(self, rows: Sequence[dict[str, Any]]) -> list[ParticipantRecord]:
        """Records of participant rows, with their users (rows of users that no longer exist are dropped)."""
        users = self.users_get({r["user_id"] for r in rows})
        return [participant_record(r, users[r["user_id"]]) for r in rows if r["user_id"] in users]

    def _room_row(self, room_id: uuid.UUID) -> dict[str, Any] | None:
        return cql.one(SELECT_ROOM, (room_id,))

    def participant_get(self, room_id: uuid.UUID, user_id: int) -> ParticipantRecord | None:
        found = self._participants_of(cql.rows(SELECT_PARTICIPANT, (room_id, user_id)))
        return found[0] if found else None

    def participants_get(self, room_id: uuid.UUID, user_ids: Sequence[int]) -> dict[int, ParticipantRecord]:
        rows = cql.rows_in(SELECT_PARTICIPANTS_IN, list(user_ids), before=(room_id,))
        return {p.user_id: p for p in self._participants_of(rows)}

    def _active_rows(self, room_id: uuid.UUID) -> list[dict[str, Any]]:
        return sorted((r for r in cql.rows(SELECT_PARTICIPANTS, (room_id,)) if is_active_row(r)), key=join_order)

    def participants_active(self, room_id: uuid.UUID) -> list[ParticipantRecord]:
        return self._participants_of(self._active_rows(room_id))

    def participants_page(
        self, room_id: uuid.UUID, *, search: str, offset: int, limit: int
    ) -> tuple[list[ParticipantRecord], int]:
        rows = self._active_rows(room_id)
        if search:
            needle = fold(search)
            texts = user_search_texts({r["user_id"] for r in rows}, with_phone=True)
            rows = [r for r in rows if any(needle in t for t in texts.get(r["user_id"], ()))]
        return self._participants_of(rows[offset : offset + limit]), len(rows)

    def participants_preview(
        self, room_ids: Sequence[uuid.UUID], *, viewer_id: int, limit: int
    ) -> dict[uuid.UUID, list[ParticipantRecord]]:
        room_ids = list(dict.fromkeys(room_ids))
        if not room_ids:
            return {}
        by_room: dict[uuid.UUID, list[dict[str, Any]]] = {r: [] for r in room_ids}
        for row in cql.rows_in(SELECT_PARTICIPANTS_OF_ROOMS, room_ids):
            by_room[row["room_id"]].append(row)
        picked: dict[uuid.UUID, list[dict[str, Any]]] = {}
        for room_id, rows in by_room.items():
            viewer = [r for r in rows if r["user_id"] == viewer_id]
            others = sorted((r for r in rows if is_active_row(r) and r["user_id"] != viewer_id), key=join_order)
            picked[room_id] = viewer + others[:limit]
        records = self._participants_of([r for rows in picked.values() for r in rows])
        by_key = {(p.room_id, p.user_id): p for p in records}
        return {
            room_id: [by_key[(room_id, r["user_id"])] for r in rows if (room_id, r["user_id"]) in by_key]
            for room_id, rows in picked.items()
        }

    def room_owner_get(self, room_id: uuid.UUID) -> ParticipantRecord | None:
        owners = [r for r in self._active_rows(room_id) if r["role"] == Role.OWNER]
        found = self._participants_of(owners[:1])
        return found[0] if found else None

    def participant_successor(self, room_id: uuid.UUID, *, excluding: Sequence[int]) -> ParticipantRecord | None:
        skip = set(excluding)
        rows = [r for r in self._active_rows(room_id) if r["user_id"] not in skip]
        rows.sort(key=lambda r: r["role"] != Role.ADMIN)  # stable: admins first, each group oldest first
        found = self._participants_of(rows[:1])
        return found[0] if found else None

    def participants_add(
        self, room_id: uuid.UUID, *, user_ids: Sequence[int], role: str, at: datetime
    ) -> list[ParticipantRecord]:
        user_ids = list(dict.fromkeys(user_ids))
        now = to_us(at)
        existing = {r["user_id"]: r for r in cql.rows_in(SELECT_PARTICIPANTS_IN, user_ids, before=(room_id,))}
        room_row = self._room_row(room_id)
        room_type = room_row["type"] if room_row else ""
        users = self.users_get(user_ids)
        writes = []
        records: list[ParticipantRecord] = []
        for order, user_id in enumerate(user_ids):
            row = existing.get(user_id)
            if row is not None and is_active_row(row):
                records.append(participant_record(row, users[user_id]))
                continue
            writes += participation_writes(room_id, room_type, user_id, role, now, order, new=row is None)
            fresh = {
                "room_id": room_id,
                "user_id": user_id,
                "role": role,
                "is_muted": False,
                "is_pinned": False,
                "is_partner_blocked": False,
                "joined_at": now,
                "removed_at": None,
            }
            records.append(participant_record(fresh, users[user_id]))
        write(*writes)
        return records

    def participants_remove(self, room_id: uuid.UUID, *, user_ids: Sequence[int], at: datetime) -> None:
        now = to_us(at)
        writes = []
        for row in cql.rows_in(SELECT_PARTICIPANTS_IN, list(user_ids), before=(room_id,)):
            if not is_active_row(row):
                continue
            user_id = row["user_id"]
            changes = {"removed_at": now, "updated_at": now}
            writes += [
                update("participants_by_room", {"room_id": room_id, "user_id": user_id}, changes),
                update("rooms_by_user", {"user_id": user_id, "room_id": room_id}, changes),
                insert("deleted_rooms_by_user", {"user_id": user_id, "room_id": room_id, "gone_at": now}),
            ]
        write(*writes)

    def participant_role_set(self, room_id: uuid.UUID, user_id: int, *, role: str) -> ParticipantRecord:
        row = cql.one(SELECT_PARTICIPANT, (room_id, user_id))
        if row is None or not is_active_row(row):
            raise LookupError(f"user {user_id} is not an active participant of room {room_id}")
        now = to_us(timezone.now())
        write(
            update("participants_by_room", {"room_id": room_id, "user_id": user_id}, {"role": role, "updated_at": now})
        )
        write(update("rooms_by_user", {"user_id": user_id, "room_id": room_id}, {"updated_at": now}))
        return self._participants_of([{**row, "role": role}])[0]

    def participant_flag_toggle(self, room_id: uuid.UUID, user_id: int, *, flag: str) -> bool:
        if flag not in PARTICIPANT_FLAGS:
            raise ValueError(f"unknown participant flag {flag!r}")
        row = cql.one(SELECT_PARTICIPANT, (room_id, user_id))
        if row is None or not is_active_row(row):
            raise LookupError(f"user {user_id} is not an active participant of room {room_id}")
        value = not row[flag]
        now = to_us(timezone.now())
        mirrored: dict[str, Any] = {"updated_at": now}
        if flag == "is_pinned":
            mirrored["is_pinned"] = value
        write(
            update("participants_by_room", {"room_id": room_id, "user_id": user_id}, {flag: value, "updated_at": now}),
            update("rooms_by_user", {"user_id": user_id, "room_id": room_id}, mirrored),
        )
        return value
