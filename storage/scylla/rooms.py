"""`scylla` back end, part 1: rooms and participants (RoomStore).

Tables: room_details, p2p_room_by_users (LWT claim of a pair), participants_by_room (also the
one-row membership look-up by (room_id, user_id)), rooms_by_user, deleted_rooms_by_user.
Users live in the Django database: users_get reads them with the ORM.
"""

from __future__ import annotations

import time
import unicodedata
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from storage.base_rooms import PARTICIPANT_FLAGS, ROOM_UPDATABLE_FIELDS
from storage.enums import Role
from storage.errors import P2PRoomExistsError
from storage.records import ParticipantRecord, RoomDraft, RoomPageQuery, RoomRecord, UserRecord
from storage.scylla import cql as c
from storage.scylla.cql import at_us, cql, fetch_all, from_us, insert, on_rollback, opt_us, to_us, update, write
from storage.users import users_get

# A claim (p2p pair) whose unit of work never wrote its room is taken over after this long.
ORPHAN_CLAIM_SECONDS = 30.0
# How long a reader waits for the room of a fresh claim (its unit of work is committing).
CLAIM_WAIT_SECONDS = 3.0


SELECT_ROOM = "SELECT * FROM {room_details} WHERE room_id = ?"
SELECT_ROOMS = "SELECT * FROM {room_details} WHERE room_id IN ?"
SELECT_PARTICIPANTS = "SELECT * FROM {participants_by_room} WHERE room_id = ?"
SELECT_PARTICIPANT = "SELECT * FROM {participants_by_room} WHERE room_id = ? AND user_id = ?"
SELECT_PARTICIPANTS_OF_ROOMS = "SELECT * FROM {participants_by_room} WHERE room_id IN ?"
SELECT_PARTICIPANTS_IN = "SELECT * FROM {participants_by_room} WHERE room_id = ? AND user_id IN ?"
SELECT_USER_ROOMS = "SELECT * FROM {rooms_by_user} WHERE user_id = ?"
SELECT_CLAIM = "SELECT * FROM {p2p_room_by_users} WHERE p2p_key = ?"


def fold(text: str) -> str:
    """Lower case without accents (`José` → `jose`): search is accent- and case-insensitive."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def room_record(row: dict[str, Any]) -> RoomRecord:
    return RoomRecord(
        id=row["room_id"],
        type=row["type"] or "",
        name=row["name"] or "",
        description=row["description"] or "",
        photo_url=row["photo_url"] or "",
        encryption_data=row["encryption_data"] or "",
        join_all_user=bool(row["join_all_user"]),
        send_message=bool(row["send_message"]),
        add_member=bool(row["add_member"]),
        edit_group=bool(row["edit_group"]),
        created_by_id=row["created_by_id"],
        last_message_id=row["last_message_id"],
        last_message_at=from_us(row["last_message_at"]),
        created_at=at_us(row["created_at"]),
        updated_at=at_us(row["updated_at"]),
        deleted_at=from_us(row["deleted_at"]),
        p2p_key=row["p2p_key"],
    )


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


def _active(row: dict[str, Any]) -> bool:
    return row["removed_at"] is None


def _join_order(row: dict[str, Any]) -> tuple[int, int, int]:
    """Oldest first, as the order they were added in (postgres: joined_at, then row id)."""
    return row["joined_at"], row["join_order"] or 0, row["user_id"]


def _live(row: dict[str, Any] | None) -> bool:
    return row is not None and row["deleted_at"] is None


class ScyllaRoomsMixin:
    # --- users ----------------------------------------------------------------------------------

    def users_get(self, user_ids: list[int] | set[int]) -> dict[int, UserRecord]:
        return users_get(user_ids)

    def _participants_of(self, rows: Sequence[dict[str, Any]]) -> list[ParticipantRecord]:
        """Records of participant rows, with their users (rows of users that no longer exist are dropped)."""
        users = self.users_get({r["user_id"] for r in rows})
        return [participant_record(r, users[r["user_id"]]) for r in rows if r["user_id"] in users]

    # --- rooms ----------------------------------------------------------------------------------

    def _room_row(self, room_id: uuid.UUID) -> dict[str, Any] | None:
        return cql.one(SELECT_ROOM, (room_id,))

    def room_get(self, room_id: uuid.UUID) -> RoomRecord | None:
        row = self._room_row(room_id)
        return room_record(row) if row is not None and _live(row) else None

    def _room_rows(self, room_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
        return {row["room_id"]: row for row in cql.rows_in(SELECT_ROOMS, room_ids)}

    def rooms_get(self, room_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, RoomRecord]:
        return {rid: room_record(row) for rid, row in self._room_rows(room_ids).items() if _live(row)}

    def room_get_by_p2p_key(self, p2p_key: str) -> RoomRecord | None:
        deadline = time.monotonic() + CLAIM_WAIT_SECONDS
        while True:
            claim = cql.one(SELECT_CLAIM, (p2p_key,))
            if claim is None:
                return None
            row = self._room_row(claim["room_id"])
            if row is not None:
                return room_record(row) if _live(row) else None
            # Claimed, room not written yet: its unit of work is committing (wait) or died (orphan).
            if _claim_age(claim) >= ORPHAN_CLAIM_SECONDS or time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def room_insert(self, draft: RoomDraft, *, participants: Sequence[tuple[int, str]], at: datetime) -> RoomRecord:
        room_id = uuid.uuid4()
        now = to_us(at)
        if draft.p2p_key:
            self._claim_pair(draft.p2p_key, room_id)
        room = RoomRecord(
            id=room_id,
            type=draft.type,
            name=draft.name,
            description=draft.description,
            photo_url=draft.photo_url,
            encryption_data=draft.encryption_data,
            join_all_user=False,
            send_message=draft.send_message,
            add_member=draft.add_member,
            edit_group=draft.edit_group,
            created_by_id=draft.created_by_id,
            last_message_id=None,
            last_message_at=None,
            created_at=at,
            updated_at=at,
            p2p_key=draft.p2p_key,
        )
        writes = [
            insert(
                "room_details",
                {
                    "room_id": room_id,
                    "type": room.type,
                    "name": room.name,
                    "description": room.description,
                    "photo_url": room.photo_url,
                    "encryption_data": room.encryption_data,
                    "join_all_user": False,
                    "send_message": room.send_message,
                    "add_member": room.add_member,
                    "edit_group": room.edit_group,
                    "created_by_id": room.created_by_id,
                    "created_at": now,
                    "updated_at": now,
                    "p2p_key": room.p2p_key,
                },
            )
        ]
        for order, (user_id, role) in enumerate(participants):
            writes += _participation_writes(room_id, room.type, user_id, role, now, order, new=True)
        write(*writes)
        return room

    def _claim_pair(self, p2p_key: str, room_id: uuid.UUID) -> None:
        """Claims the pair for `room_id` (LWT); raises P2PRoomExistsError if another live room has it."""
        applied, existing = cql.lwt(
            insert(
                "p2p_room_by_users",
                {"p2p_key": p2p_key, "room_id": room_id, "claimed_at": c.monotonic_now_us()},
                if_not_exists=True,
            )
        )
        if not applied:
            holder = self._room_row(existing["room_id"])
            orphan = holder is None and _claim_age(existing) >= ORPHAN_CLAIM_SECONDS
            if not (orphan or (holder is not None and not _live(holder))):
                raise P2PRoomExistsError(p2p_key)
            # The holder died before writing its room, or its room is deleted: take the pair over.
            applied, _ = cql.lwt(
                update_if(
                    "p2p_room_by_users",
                    {"p2p_key": p2p_key},
                    {"room_id": room_id, "claimed_at": c.monotonic_now_us()},
                    {"room_id": existing["room_id"]},
                )
            )
            if not applied:
                raise P2PRoomExistsError(p2p_key)
        on_rollback(
            lambda: cql.lwt(c.delete("p2p_room_by_users", {"p2p_key": p2p_key}, condition={"room_id": room_id}))
        )

    def room_update(self, room_id: uuid.UUID, *, changes: dict[str, Any], at: datetime) -> RoomRecord:
        unknown = set(changes) - ROOM_UPDATABLE_FIELDS
        if unknown:
            raise ValueError(f"room_update cannot change {sorted(unknown)}")
        row = self._room_row(room_id)
        if row is None:
            raise LookupError(f"room {room_id} does not exist")
        write(update("room_details", {"room_id": room_id}, {**changes, "updated_at": to_us(at)}))
        return room_record({**row, **changes, "updated_at": to_us(at)})

    def room_touch(self, room_id: uuid.UUID, *, at: datetime) -> None:
        write(update("room_details", {"room_id": room_id}, {"updated_at": to_us(at)}))

    def room_soft_delete(self, room_id: uuid.UUID, *, at: datetime) -> None:
        now = to_us(at)
        room_rows, participant_rows = fetch_all([(SELECT_ROOM, (room_id,)), (SELECT_PARTICIPANTS, (room_id,))])
        writes = [update("room_details", {"room_id": room_id}, {"deleted_at": now, "updated_at": now, "p2p_key": None})]
        p2p_key = room_rows[0]["p2p_key"] if room_rows else None
        if p2p_key:
            claim = cql.one(SELECT_CLAIM, (p2p_key,))
            if claim is not None and claim["room_id"] == room_id:
                writes.append(c.delete("p2p_room_by_users", {"p2p_key": p2p_key}))
        for p in participant_rows:
            writes.append(
                update("rooms_by_user", {"user_id": p["user_id"], "room_id": room_id}, {"room_deleted": True})
            )
            writes.append(
                insert("deleted_rooms_by_user", {"user_id": p["user_id"], "room_id": room_id, "gone_at": now})
            )
        write(*writes)

    def room_last_message_set(self, room_id: uuid.UUID, *, message_id: uuid.UUID, at: datetime) -> None:
        # Written at the message's own time: of concurrent writes, the newest message's wins.
        moment = to_us(at)
        write(
            update(
                "room_details",
                {"room_id": room_id},
                {"last_message_id": message_id, "last_message_at": moment},
                timestamp=moment,
            )
        )

    # --- a user's rooms -------------------------------------------------------------------------

    def membership_get(self, room_id: uuid.UUID, user_id: int) -> tuple[RoomRecord, ParticipantRecord] | None:
        room_rows, rows = fetch_all([(SELECT_ROOM, (room_id,)), (SELECT_PARTICIPANT, (room_id, user_id))])
        if not room_rows or not _live(room_rows[0]) or not rows or not _active(rows[0]):
            return None
        participants = self._participants_of(rows)
        return (room_record(room_rows[0]), participants[0]) if participants else None

    def _user_room_rows(self, user_id: int) -> list[dict[str, Any]]:
        return cql.rows(SELECT_USER_ROOMS, (user_id,))

    def room_ids_for_user(self, user_id: int) -> list[uuid.UUID]:
        return [r["room_id"] for r in self._user_room_rows(user_id) if _active(r) and not r["room_deleted"]]

    def rooms_page_for_user(self, query: RoomPageQuery) -> tuple[list[tuple[RoomRecord, ParticipantRecord]], int]:
        """Reads all of the user's participations and their rooms, filters and sorts in memory:
        bounded by the number of rooms of the user (no per-message rewrite of a sorted table)."""
        mine = {r["room_id"]: r for r in self._user_room_rows(query.user_id) if _active(r) and not r["room_deleted"]}
        if query.type:
            mine = {k: r for k, r in mine.items() if r["room_type"] == query.type}
        rooms = {rid: row for rid, row in self._room_rows(list(mine)).items() if _live(row)}
        if query.type:
            rooms = {rid: row for rid, row in rooms.items() if row["type"] == query.type}
        if query.since is not None:
            since = to_us(query.since)
            rooms = {
                rid: row
                for rid, row in rooms.items()
                if row["updated_at"] >= since
                or (mine[rid]["updated_at"] or 0) >= since
                or (row["last_message_at"] is not None and row["last_message_at"] >= since)
            }
        if query.search:
            rooms = self._search(rooms, query.search, viewer_id=query.user_id)
        ordered = sorted(
            rooms.values(),
            key=lambda row: (
                not mine[row["room_id"]]["is_pinned"],
                row["last_message_at"] is None,
                -(row["last_message_at"] or 0),
                -row["created_at"],
                -row["room_id"].int,
            ),
        )
        page = ordered[query.offset : query.offset + query.limit]
        if not page:
            return [], len(ordered)
        rows = cql.rows_in(SELECT_PARTICIPANTS_IN_ROOMS, [r["room_id"] for r in page], before=(query.user_id,))
        viewer = {p.room_id: p for p in self._participants_of(rows)}
        return [(room_record(r), viewer[r["room_id"]]) for r in page if r["room_id"] in viewer], len(ordered)

    def _search(
        self, rooms: dict[uuid.UUID, dict[str, Any]], term: str, *, viewer_id: int
    ) -> dict[uuid.UUID, dict[str, Any]]:
        """Rooms whose name, or (p2p) whose partner's name, contains `term` (accents and case ignored)."""
        needle = fold(term)
        partners: dict[uuid.UUID, int] = {}
        for rid, row in rooms.items():
            if row["type"] == "p2p" and row["p2p_key"]:
                low, _, high = row["p2p_key"].partition(":")
                partners[rid] = int(high) if int(low) == viewer_id else int(low)
        names = _user_search_texts(set(partners.values()), with_phone=False)
        return {
            rid: row
            for rid, row in rooms.items()
            if needle in fold(row["name"] or "")
            or (rid in partners and any(needle in t for t in names.get(partners[rid], ())))
        }

    # --- participants ---------------------------------------------------------------------------

    def participant_get(self, room_id: uuid.UUID, user_id: int) -> ParticipantRecord | None:
        found = self._participants_of(cql.rows(SELECT_PARTICIPANT, (room_id, user_id)))
        return found[0] if found else None

    def participants_get(self, room_id: uuid.UUID, user_ids: Sequence[int]) -> dict[int, ParticipantRecord]:
        rows = cql.rows_in(SELECT_PARTICIPANTS_IN, list(user_ids), before=(room_id,))
        return {p.user_id: p for p in self._participants_of(rows)}

    def _active_rows(self, room_id: uuid.UUID) -> list[dict[str, Any]]:
        return sorted((r for r in cql.rows(SELECT_PARTICIPANTS, (room_id,)) if _active(r)), key=_join_order)

    def participants_active(self, room_id: uuid.UUID) -> list[ParticipantRecord]:
        return self._participants_of(self._active_rows(room_id))

    def participants_page(
        self, room_id: uuid.UUID, *, search: str, offset: int, limit: int
    ) -> tuple[list[ParticipantRecord], int]:
        rows = self._active_rows(room_id)
        if search:
            needle = fold(search)
            texts = _user_search_texts({r["user_id"] for r in rows}, with_phone=True)
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
            others = sorted((r for r in rows if _active(r) and r["user_id"] != viewer_id), key=_join_order)
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
            if row is not None and _active(row):
                records.append(participant_record(row, users[user_id]))
                continue
            writes += _participation_writes(room_id, room_type, user_id, role, now, order, new=row is None)
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
            if not _active(row):
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
        if row is None or not _active(row):
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
        if row is None or not _active(row):
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


SELECT_PARTICIPANTS_IN_ROOMS = "SELECT * FROM {participants_by_room} WHERE user_id = ? AND room_id IN ?"


def update_if(table: str, key: dict[str, Any], values: dict[str, Any], condition: dict[str, Any]) -> c.Write:
    """An UPDATE ... IF (a lightweight transaction)."""
    base = update(table, key, values)
    clause = " AND ".join(f"{k} = ?" for k in condition)
    return c.Write(table, f"{base.cql} IF {clause}", base.params + tuple(condition.values()), base.key)


def _claim_age(claim: dict[str, Any]) -> float:
    return (c.monotonic_now_us() - (claim.get("claimed_at") or 0)) / 1_000_000


def _participation_writes(
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


def _user_search_texts(user_ids: set[int], *, with_phone: bool) -> dict[int, tuple[str, ...]]:
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


# `at_us` and `opt_us` are re-exported for the messages part.
__all__ = ["ScyllaRoomsMixin", "at_us", "fold", "opt_us", "room_record"]
