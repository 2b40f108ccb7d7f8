"""Shared parts of the room services: results, checks, event builders."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.access import ROOM_NOT_FOUND, room_access
from domain.permissions import MemberPermission, check_member_permission
from events.builders import direct_event
from kernel import limits
from kernel.errors import InvalidRequestData, NotFound
from kernel.shapes import MessageData, Room, RoomJoin
from kernel.timefmt import iso
from messaging.services import system_message_create
from rooms.formatting import PARTICIPANTS_PREVIEW, room_format_base, room_with_live_fields
from storage import get_repository
from storage.enums import Role
from storage.records import OutboxRecord, ParticipantRecord, RoomRecord, UserRecord, p2p_key_of

ROLE_RANK: dict[str, int] = {Role.OWNER: 3, Role.ADMIN: 2, Role.MEMBER: 1}

LEAVE_REASON_LEFT = "left"
LEAVE_REASON_REMOVED = "removed"
LEAVE_REASON_ROOM_DELETED = "room_deleted"


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoomCreateResult:
    room: Room  # the formatted Room as the creator sees it
    created: bool  # False: the existing p2p room of the two users was returned


@dataclass(frozen=True)
class RoomUpdateResult:
    room: RoomRecord
    changed: tuple[str, ...]


@dataclass(frozen=True)
class ParticipantsAddResult:
    added: tuple[int, ...]  # users who became active members (new or re-activated)


@dataclass(frozen=True)
class ParticipantRoleResult:
    participant: ParticipantRecord
    changed: bool


@dataclass(frozen=True)
class RoomLeaveResult:
    removed: tuple[int, ...]
    room_deleted: bool
    new_owner_id: int | None


@dataclass(frozen=True)
class FlagToggleResult:
    flag: str
    value: bool


# --- helpers ------------------------------------------------------------------------------------


def p2p_key_for(user_a: int, user_b: int) -> str:
    return p2p_key_of(user_a, user_b)


def unique_ids(ids: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(ids))


def acting(*, room_id: uuid.UUID, user_id: int, as_staff: bool) -> tuple[RoomRecord, ParticipantRecord | None]:
    """The room and the actor's active participation; for staff, who need not be members and pass
    every role and permission check, the participation is None."""
    if not as_staff:
        return room_access(room_id=room_id, user_id=user_id)
    room = get_repository().room_get(room_id)
    if room is None:
        raise NotFound(ROOM_NOT_FOUND)
    return room, None


def actor_rank(actor: ParticipantRecord | None) -> int:
    """How high the actor stands: staff (None) above the OWNER."""
    return ROLE_RANK[Role.OWNER] + 1 if actor is None else ROLE_RANK[actor.role]


def check_group(room: RoomRecord, field: str = "id") -> None:
    if room.is_p2p:
        raise InvalidRequestData("This operation is for group rooms only.", details={field: ["Not a group room."]})


def check_permission(room: RoomRecord, actor: ParticipantRecord | None, perm: MemberPermission) -> None:
    """check_member_permission for a member actor; staff (None) pass."""
    if actor is not None:
        check_member_permission(room, actor, perm)


def actor_user_of(user_id: int, actor: ParticipantRecord | None) -> UserRecord:
    if actor is not None:
        return actor.user
    return get_repository().users_get([user_id]).get(user_id) or UserRecord(id=user_id, name=f"user {user_id}")


def check_users_addable(
    user_ids: Sequence[int], *, actor_id: int | None, field: str = "participants"
) -> dict[int, UserRecord]:
    """The users the actor may put into a group, by id; else 400 `invalid_request_data` naming the
    others: ids with no user, and users who have blocked the actor in their p2p room (consent: a
    block keeps its author out of the blocked user's groups). Both are refused alike, so that the
    answer does not tell a block from a missing account. `actor_id` None (staff): no block applies.
    """
    repo = get_repository()
    users = repo.users_get(list(user_ids))
    blocking = repo.users_blocking(actor_id, [u for u in user_ids if u in users]) if actor_id is not None else set()
    unavailable = [u for u in user_ids if u not in users or u in blocking]
    if unavailable:
        raise InvalidRequestData(
            "Unknown or unavailable users.",
            details={field: [f"Unknown or unavailable user ids: {', '.join(str(u) for u in unavailable)}."]},
        )
    return users


def system_message(*, room: RoomRecord, actor_id: int, event: str, text: str) -> MessageData:
    return system_message_create(room=room, actor_id=actor_id, event=event, text=text)


def room_join_value(member: ParticipantRecord, owner_id: int | None) -> RoomJoin:
    return {
        "user_id": str(member.user_id),
        "joined_at": iso(member.joined_at),
        "display_name": member.user.name,
        "owner_user_id": "" if owner_id is None else str(owner_id),
    }


def room_join_direct(
    *, room: RoomRecord, member: ParticipantRecord, owner_id: int | None, actor_id: int, formatted: Room
) -> OutboxRecord:
    """room_join on the member's direct subject, with the room as the member sees it."""
    return direct_event(
        "room_join",
        room_join_value(member, owner_id),
        user_id=member.user_id,
        room_id=room.id,
        actor_user_id=actor_id,
        room=formatted,
    )


def formatted_in_memory(
    room: RoomRecord,
    member: ParticipantRecord,
    candidates: Sequence[ParticipantRecord],
    *,
    last_message: MessageData | None = None,
) -> Room:
    """The Room as `member` sees it, built from participants already at hand (no query).

    `candidates` must hold the oldest PARTICIPANTS_PREVIEW + 1 active participants at least.
    """
    others = sorted((c for c in candidates if c.user_id != member.user_id), key=lambda p: p.joined_at)
    base = room_format_base(room, viewer=member, others=others[:PARTICIPANTS_PREVIEW])
    return room_with_live_fields(
        base,
        unread_count=0,
        last_message=last_message,
        last_message_at=last_message.get("created_at") if last_message else None,
    )


def new_participant(room_id: uuid.UUID, user: UserRecord, role: str, at: datetime) -> ParticipantRecord:
    return ParticipantRecord(
        room_id=room_id,
        user=user,
        role=role,
        is_muted=False,
        is_pinned=False,
        is_partner_blocked=False,
        joined_at=at,
    )


def check_room_size(members: int) -> None:
    """400 `room_full` when a room would have more than CHAT_MAX_ROOM_MEMBERS active members (two
    adds racing may pass it by the second's size: a bound on cost, not an exact quota)."""
    if members > limits.ROOM_MEMBERS_MAX:
        raise InvalidRequestData(
            f"A room has at most {limits.ROOM_MEMBERS_MAX} members.",
            code="room_full",
            details={"participants": [f"{members} members; at most {limits.ROOM_MEMBERS_MAX}."]},
        )
