"""Repository interface, part 1: rooms and participants.

Methods are query-first (each one answers one question a Cassandra table could answer) and bulk
where lists are involved, so that no caller needs a loop of queries.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from storage.records import ParticipantRecord, RoomDraft, RoomPageQuery, RoomRecord, StaffRoomQuery, UserRecord

# The fields of a room that RoomStore.room_update may change.
ROOM_UPDATABLE_FIELDS = frozenset({"name", "description", "photo_url", "send_message", "add_member", "edit_group"})
# The per-user flags of a participation that RoomStore.participant_flag_toggle may flip.
PARTICIPANT_FLAGS = frozenset({"is_muted", "is_pinned", "is_partner_blocked"})


class RoomStore(abc.ABC):
    # --- users ----------------------------------------------------------------------------------

    @abc.abstractmethod
    def users_get(self, user_ids: list[int] | set[int]) -> dict[int, UserRecord]:
        """The users with these ids that exist (users live in the Django database on every back end)."""

    # --- rooms ----------------------------------------------------------------------------------

    @abc.abstractmethod
    def room_get(self, room_id: uuid.UUID) -> RoomRecord | None:
        """The room, or None if it does not exist or is deleted."""

    @abc.abstractmethod
    def rooms_get(self, room_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, RoomRecord]:
        """The live rooms among these ids (deleted and unknown ones are left out)."""

    @abc.abstractmethod
    def room_get_by_p2p_key(self, p2p_key: str) -> RoomRecord | None:
        """The live p2p room of a pair of users ("<low id>:<high id>"), or None."""

    @abc.abstractmethod
    def room_insert(self, draft: RoomDraft, *, participants: Sequence[tuple[int, str]], at: datetime) -> RoomRecord:
        """Creates a room and its participants ((user_id, role) pairs, joined at `at`).

        Raises P2PRoomExistsError, writing nothing, if `draft.p2p_key` is taken (also by a concurrent
        insert that committed first); the caller's unit of work stays usable.
        """

    @abc.abstractmethod
    def room_update(self, room_id: uuid.UUID, *, changes: dict[str, Any], at: datetime) -> RoomRecord:
        """Sets fields of ROOM_UPDATABLE_FIELDS and updated_at; returns the room as it is now."""

    @abc.abstractmethod
    def room_touch(self, room_id: uuid.UUID, *, at: datetime) -> None:
        """Sets updated_at (a change of the room's members, seen by InitialSync and GetRooms `since`)."""

    @abc.abstractmethod
    def room_soft_delete(self, room_id: uuid.UUID, *, at: datetime) -> None:
        """Marks the room deleted and frees its p2p_key (the pair may open a new p2p room)."""

    @abc.abstractmethod
    def room_last_message_set(self, room_id: uuid.UUID, *, message_id: uuid.UUID, at: datetime) -> None:
        """Records the room's newest message; never moves last_message_at backwards."""

    @abc.abstractmethod
    def rooms_for_staff(self, query: StaffRoomQuery) -> tuple[list[RoomRecord], int]:
        """One page of all rooms (deleted ones too, unless `query.deleted` says), newest first
        (created_at desc, id desc), and the total. `search` matches the room name or an active
        participant's name (display name, username, first or last name), ignoring case. For the admin
        only: a query-first back end reads its whole room table for it."""

    # --- a user's rooms -------------------------------------------------------------------------

    @abc.abstractmethod
    def membership_get(self, room_id: uuid.UUID, user_id: int) -> tuple[RoomRecord, ParticipantRecord] | None:
        """The live room and the user's ACTIVE participation in it (one look-up), or None."""

    @abc.abstractmethod
    def room_ids_for_user(self, user_id: int) -> list[uuid.UUID]:
        """The live rooms the user is an active participant of."""

    @abc.abstractmethod
    def rooms_page_for_user(self, query: RoomPageQuery) -> tuple[list[tuple[RoomRecord, ParticipantRecord]], int]:
        """One page of the user's live rooms with the user's participation, and the total.

        Order: the user's pinned first, then last_message_at desc (rooms without messages last), then
        created_at desc. `search` matches the room name or, in p2p rooms, the partner's name,
        ignoring case (and accents where the back end can); `type` filters by room type; `since`
        keeps rooms whose room, participation or last message changed at or after it.
        """

    @abc.abstractmethod
    def users_blocking(self, actor_id: int, user_ids: Sequence[int]) -> set[int]:
        """Those of `user_ids` who have blocked `actor_id`: in their live p2p room with the actor,
        their own active participation has is_partner_blocked set. A bounded number of reads
        whatever the number of users (one SQL query on `postgres`)."""

    @abc.abstractmethod
    def users_sharing_room(self, user_id: int, user_ids: Sequence[int]) -> set[int]:
        """Those of `user_ids` (`user_id` left out) who are active participants of a live room the user
        is an active participant of: who may see its contact fields. Two reads at most."""

    # --- participants ---------------------------------------------------------------------------

    @abc.abstractmethod
    def participant_get(self, room_id: uuid.UUID, user_id: int) -> ParticipantRecord | None:
        """The user's participation, active or removed, or None."""

    @abc.abstractmethod
    def participants_get(self, room_id: uuid.UUID, user_ids: Sequence[int]) -> dict[int, ParticipantRecord]:
        """The participations (active or removed) of these users in the room."""

    @abc.abstractmethod
    def participants_active(self, room_id: uuid.UUID) -> list[ParticipantRecord]:
        """The room's active participants, oldest first."""

    @abc.abstractmethod
    def participants_page(
        self, room_id: uuid.UUID, *, search: str, offset: int, limit: int
    ) -> tuple[list[ParticipantRecord], int]:
        """One page of the room's active participants (oldest first; `search` on name or phone), and the total."""

    @abc.abstractmethod
    def participants_preview(
        self, room_ids: Sequence[uuid.UUID], *, viewer_id: int, limit: int
    ) -> dict[uuid.UUID, list[ParticipantRecord]]:
        """Per room: the viewer's participation (if any) and up to `limit` other ACTIVE participants, oldest first."""

    @abc.abstractmethod
    def room_owner_get(self, room_id: uuid.UUID) -> ParticipantRecord | None:
        """The room's active OWNER, if any."""

    @abc.abstractmethod
    def participant_successor(self, room_id: uuid.UUID, *, excluding: Sequence[int]) -> ParticipantRecord | None:
        """Who inherits a group's ownership: the oldest active ADMIN, else the oldest active MEMBER
        (users in `excluding` left out), or None if nobody is left."""

    @abc.abstractmethod
    def participants_add(
        self, room_id: uuid.UUID, *, user_ids: Sequence[int], role: str, at: datetime
    ) -> list[ParticipantRecord]:
        """Makes these users active participants with `role`, joined at `at` (new, or re-activated if removed)."""

    @abc.abstractmethod
    def participants_remove(self, room_id: uuid.UUID, *, user_ids: Sequence[int], at: datetime) -> None:
        """Marks these participations removed at `at` (the rows stay: history, sync's removed rooms)."""

    @abc.abstractmethod
    def participant_role_set(self, room_id: uuid.UUID, user_id: int, *, role: str) -> ParticipantRecord:
        """Sets an active participant's role; returns the participation as it is now."""

    @abc.abstractmethod
    def participant_flag_toggle(self, room_id: uuid.UUID, user_id: int, *, flag: str) -> bool:
        """Flips one of PARTICIPANT_FLAGS of an active participation atomically; returns the new value."""
