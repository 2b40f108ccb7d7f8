"""Repository interface, part 1: rooms and participants."""

from __future__ import annotations

import abc
import uuid

from rooms.storage.records import ParticipantRecord, RoomRecord, UserRecord


class RoomStore(abc.ABC):
    @abc.abstractmethod
    def users_get(self, user_ids: "list[int] | set[int]") -> dict[int, UserRecord]:
        """The users with these ids that exist (users live in the Django database on every back end)."""

    @abc.abstractmethod
    def room_get(self, room_id: uuid.UUID) -> RoomRecord | None:
        """The room, or None if it does not exist or is deleted."""

    @abc.abstractmethod
    def participant_get(self, room_id: uuid.UUID, user_id: int) -> ParticipantRecord | None:
        """The user's participation, active or removed, or None."""
