"""`scylla` back end, part 1: rooms (RoomStore; participants: storage/scylla/participants.py).

Tables: room_details, p2p_room_by_users (LWT claim of a pair), participants_by_room (also the
one-row membership look-up by (room_id, user_id)), rooms_by_user, deleted_rooms_by_user.
Users live in the Django database: users_get reads them with the ORM.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q

from storage.base_rooms import ROOM_UPDATABLE_FIELDS
from storage.errors import P2PRoomExistsError
from storage.records import ParticipantRecord, RoomDraft, RoomPageQuery, RoomRecord, StaffRoomQuery, p2p_key_of
from storage.scylla import cql as c
from storage.scylla import timeuuids as t
from storage.scylla.cql import cql, fetch_all, insert, on_rollback, update, write
from storage.scylla.participants import (
    SELECT_PARTICIPANT,
    SELECT_PARTICIPANTS,
    SELECT_PARTICIPANTS_IN_ROOMS,
    SELECT_PARTICIPANTS_OF_ROOMS,
    SELECT_ROOM,
    ScyllaParticipantsMixin,
    fold,
    is_active_row,
    participation_writes,
    user_search_texts,
)
from storage.scylla.timeuuids import at_us, from_us, to_us

# A claim (p2p pair) whose unit of work never wrote its room is taken over after this long.
ORPHAN_CLAIM_SECONDS = 30.0
# How long a reader waits for the room of a fresh claim (its unit of work is committing).
CLAIM_WAIT_SECONDS = 3.0


SELECT_ROOMS = "SELECT * FROM {room_details} WHERE room_id IN ?"
SELECT_USER_ROOMS = "SELECT * FROM {rooms_by_user} WHERE user_id = ?"
SELECT_CLAIM = "SELECT * FROM {p2p_room_by_users} WHERE p2p_key = ?"
SELECT_CLAIMS = "SELECT * FROM {p2p_room_by_users} WHERE p2p_key IN ?"
SELECT_ALL_ROOMS = "SELECT * FROM {room_details}"
SELECT_ROOMS_OF_USERS = "SELECT room_id, removed_at FROM {rooms_by_user} WHERE user_id IN ?"
SELECT_PARTICIPATIONS_OF_USERS = "SELECT user_id, room_id, removed_at FROM {rooms_by_user} WHERE user_id IN ?"


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


def _live(row: dict[str, Any] | None) -> bool:
    return row is not None and row["deleted_at"] is None


class ScyllaRoomsMixin(ScyllaParticipantsMixin):
    # --- rooms ----------------------------------------------------------------------------------

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
            writes += participation_writes(room_id, room.type, user_id, role, now, order, new=True)
        write(*writes)
        return room

    def _claim_pair(self, p2p_key: str, room_id: uuid.UUID) -> None:
        """Claims the pair for `room_id` (LWT); raises P2PRoomExistsError if another live room has it."""
        applied, existing = cql.lwt(
            insert(
                "p2p_room_by_users",
                {"p2p_key": p2p_key, "room_id": room_id, "claimed_at": t.monotonic_now_us()},
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
                    {"room_id": room_id, "claimed_at": t.monotonic_now_us()},
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
        if not room_rows or not _live(room_rows[0]) or not rows or not is_active_row(rows[0]):
            return None
        participants = self._participants_of(rows)
        return (room_record(room_rows[0]), participants[0]) if participants else None

    def _user_room_rows(self, user_id: int) -> list[dict[str, Any]]:
        return cql.rows(SELECT_USER_ROOMS, (user_id,))

    def room_ids_for_user(self, user_id: int) -> list[uuid.UUID]:
        return [r["room_id"] for r in self._user_room_rows(user_id) if is_active_row(r) and not r["room_deleted"]]

    def rooms_page_for_user(self, query: RoomPageQuery) -> tuple[list[tuple[RoomRecord, ParticipantRecord]], int]:
        """Reads all of the user's participations and their rooms, filters and sorts in memory:
        bounded by the number of rooms of the user (no per-message rewrite of a sorted table)."""
        rows = self._user_room_rows(query.user_id)
        mine = {r["room_id"]: r for r in rows if is_active_row(r) and not r["room_deleted"]}
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

    def rooms_for_staff(self, query: StaffRoomQuery) -> tuple[list[RoomRecord], int]:
        """Pages through the whole of room_details (no table is keyed for a list of all rooms; this is
        the admin's, not a user's read); members are matched through rooms_by_user of the users whose
        names match."""
        rows = [
            row
            for row in cql.iter_rows(SELECT_ALL_ROOMS)
            if (not query.type or row["type"] == query.type)
            and (query.deleted is None or (row["deleted_at"] is not None) == query.deleted)
        ]
        if query.search:
            needle = fold(query.search)
            of_members = {
                r["room_id"] for r in cql.rows_in(SELECT_ROOMS_OF_USERS, _users_named(query.search)) if is_active_row(r)
            }
            rows = [r for r in rows if needle in fold(r["name"] or "") or r["room_id"] in of_members]
        rows.sort(key=lambda r: (-r["created_at"], -r["room_id"].int))
        return [room_record(r) for r in rows[query.offset : query.offset + query.limit]], len(rows)

    def users_blocking(self, actor_id: int, user_ids: Sequence[int]) -> set[int]:
        """Two reads whatever the number of users (each one request per IN chunk): the pairs' claims,
        then the participations of the rooms they name."""
        partner_by_key = {p2p_key_of(actor_id, u): u for u in user_ids if u != actor_id}
        claims = cql.rows_in(SELECT_CLAIMS, list(partner_by_key))
        partner_by_room = {claim["room_id"]: partner_by_key[claim["p2p_key"]] for claim in claims}
        rows = cql.rows_in(SELECT_PARTICIPANTS_OF_ROOMS, list(partner_by_room))
        # Leaving a p2p room deletes it and removes both participations: an active row is a live room's.
        partners = [row for row in rows if partner_by_room.get(row["room_id"]) == row["user_id"]]
        return {row["user_id"] for row in partners if row["is_partner_blocked"] and is_active_row(row)}

    def users_sharing_room(self, user_id: int, user_ids: Sequence[int]) -> set[int]:
        """The user's partition, then the others' partitions (one request per IN chunk)."""
        others = [u for u in user_ids if u != user_id]
        mine = set(self.room_ids_for_user(user_id)) if others else set()
        if not mine:
            return set()
        rows = cql.rows_in(SELECT_PARTICIPATIONS_OF_USERS, others)
        return {row["user_id"] for row in rows if row["room_id"] in mine and is_active_row(row)}

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
        names = user_search_texts(set(partners.values()), with_phone=False)
        return {
            rid: row
            for rid, row in rooms.items()
            if needle in fold(row["name"] or "")
            or (rid in partners and any(needle in t for t in names.get(partners[rid], ())))
        }


def update_if(table: str, key: dict[str, Any], values: dict[str, Any], condition: dict[str, Any]) -> c.Write:
    """An UPDATE ... IF (a lightweight transaction)."""
    base = update(table, key, values)
    clause = " AND ".join(f"{k} = ?" for k in condition)
    return c.Write(table, f"{base.cql} IF {clause}", base.params + tuple(condition.values()), base.key)


def _users_named(term: str) -> list[int]:
    """The users whose display name, username, first or last name contains `term` (ignoring case)."""
    match = (
        Q(chat_profile__display_name__icontains=term)
        | Q(username__icontains=term)
        | Q(first_name__icontains=term)
        | Q(last_name__icontains=term)
    )
    return list(get_user_model().objects.filter(match).values_list("id", flat=True))


def _claim_age(claim: dict[str, Any]) -> float:
    return (t.monotonic_now_us() - (claim.get("claimed_at") or 0)) / 1_000_000


__all__ = ["ScyllaRoomsMixin", "room_record"]
