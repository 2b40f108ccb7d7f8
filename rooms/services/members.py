"""Membership: AddParticipantToRoom, UpdateParticipantRoom, LeaveRoom."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from django.utils import timezone

from domain import room_cache
from domain.permissions import is_manager
from events.builders import room_event
from events.emit import emit
from kernel.errors import InvalidRequestData, NotFound, PermissionDenied
from kernel.shapes import RoomLeave
from kernel.timefmt import iso
from rooms.formatting import PARTICIPANTS_PREVIEW
from rooms.services.common import (
    LEAVE_REASON_LEFT,
    LEAVE_REASON_REMOVED,
    LEAVE_REASON_ROOM_DELETED,
    ROLE_RANK,
    ParticipantRoleResult,
    ParticipantsAddResult,
    RoomLeaveResult,
    acting,
    actor_rank,
    actor_user_of,
    check_group,
    check_permission,
    check_room_size,
    check_users_addable,
    formatted_in_memory,
    room_join_direct,
    room_join_value,
    system_message,
    unique_ids,
)
from storage import get_repository
from storage.enums import Role
from storage.records import OutboxRecord, ParticipantRecord

# --- AddParticipantToRoom -----------------------------------------------------------------------


def room_participants_add(
    *, user_id: int, room_id: uuid.UUID, participant_ids: Sequence[int], as_staff: bool = False
) -> ParticipantsAddResult:
    """AddParticipantToRoom: groups only; a MEMBER needs `add_member`. Re-activates removed members.

    Per new member: a system message `new_member`, then `room_join` on the member's direct subject
    (with the room as the member sees it) and on the room's subject. Active members are skipped.
    Refused with 400, nothing written, if a user is unknown or has blocked the caller (staff: unknown only).
    """
    room, actor = acting(room_id=room_id, user_id=user_id, as_staff=as_staff)
    check_group(room)
    check_permission(room, actor, "add_member")
    ids = unique_ids(participant_ids)
    if not ids:
        raise InvalidRequestData(details={"participants": ["At least one participant is required."]})
    repo = get_repository()
    current = repo.participants_get(room.id, ids)
    new_ids = [u for u in ids if u not in current or not current[u].is_active]
    # Only those who would join are checked: naming an active member stays a no-op.
    users = check_users_addable(new_ids, actor_id=None if as_staff else user_id)
    if not new_ids:
        return ParticipantsAddResult(added=())
    _, members = repo.participants_page(room.id, search="", offset=0, limit=1)
    check_room_size(members + len(new_ids))

    actor_user = actor_user_of(user_id, actor)
    with repo.atomic():
        now = timezone.now()
        added = repo.participants_add(room.id, user_ids=new_ids, role=Role.MEMBER, at=now)
        repo.room_touch(room.id, at=now)
        preview = repo.participants_preview([room.id], viewer_id=user_id, limit=PARTICIPANTS_PREVIEW)[room.id]
        candidates = {p.user_id: p for p in [*preview, *added] if p.is_active}
        owner = next((p for p in candidates.values() if p.role == Role.OWNER), None) or repo.room_owner_get(room.id)
        for member in added:
            message = system_message(
                room=room,
                actor_id=user_id,
                event="new_member",
                text=f"{actor_user.name} added {users[member.user_id].name}",
            )
            owner_id = owner.user_id if owner else None
            formatted = formatted_in_memory(room, member, list(candidates.values()), last_message=message)
            emit(
                [
                    room_join_direct(
                        room=room, member=member, owner_id=owner_id, actor_id=user_id, formatted=formatted
                    ),
                    # ...and on the room's subject, so that the members streaming the room see it.
                    room_event("room_join", room_join_value(member, owner_id), room_id=room.id, actor_user_id=user_id),
                ]
            )
        room_cache.room_cache_invalidate(room.id)
    return ParticipantsAddResult(added=tuple(new_ids))


# --- UpdateParticipantRoom ----------------------------------------------------------------------


def room_participant_role_set(
    *, user_id: int, room_id: uuid.UUID, participant_id: int, role: str, as_staff: bool = False
) -> ParticipantRoleResult:
    """UpdateParticipantRoom: OWNER or ADMIN only (403 for a MEMBER); groups only.

    Only the OWNER may touch the OWNER's role or make someone OWNER; an ADMIN changes the roles of
    MEMBERs only (not of a peer ADMIN, who could then be removed). Making someone OWNER transfers
    the ownership: the previous OWNER becomes ADMIN. The OWNER cannot demote itself (transfer first).
    """
    room, actor = acting(room_id=room_id, user_id=user_id, as_staff=as_staff)
    check_group(room)
    if role not in Role.values:
        raise InvalidRequestData(details={"role": [f"Must be one of {', '.join(Role.values)}."]})
    if not as_staff and not (actor and is_manager(actor)):
        raise PermissionDenied("Only the owner or an admin may change roles.")
    repo = get_repository()
    target = repo.participant_get(room.id, participant_id)
    if target is None or not target.is_active:
        raise NotFound("Participant not found.", details={"participant": ["Not a member of this room."]})
    actor_is_owner = as_staff or (actor is not None and actor.role == Role.OWNER)
    if (target.role == Role.OWNER or role == Role.OWNER) and not actor_is_owner:
        raise PermissionDenied("Only the owner may change the owner's role or hand over the ownership.")
    if not actor_is_owner and actor is not None and target.user_id != actor.user_id:
        if ROLE_RANK[target.role] >= ROLE_RANK[actor.role]:  # an ADMIN's peers: only the OWNER demotes them
            raise PermissionDenied("You may change the role only of members of a lower role than yours.")
    if target.role == Role.OWNER and role != Role.OWNER:
        raise InvalidRequestData(
            "The owner keeps its role until it hands the ownership to another member.",
            details={"role": ["Make another member OWNER instead."]},
        )
    if target.role == role:
        return ParticipantRoleResult(participant=target, changed=False)

    with repo.atomic():
        if role == Role.OWNER:
            previous = repo.room_owner_get(room.id)
            if previous is not None:
                repo.participant_role_set(room.id, previous.user_id, role=Role.ADMIN)
        updated = repo.participant_role_set(room.id, target.user_id, role=role)
        repo.room_touch(room.id, at=timezone.now())
        emit([room_event("is_room_updated", True, room_id=room.id, actor_user_id=user_id)])
        room_cache.room_cache_invalidate(room.id)
    return ParticipantRoleResult(participant=updated, changed=True)


# --- LeaveRoom ----------------------------------------------------------------------------------


def room_leave(
    *,
    user_id: int,
    room_id: uuid.UUID,
    participant_ids: Sequence[int] = (),
    leave_all: bool = False,
    as_staff: bool = False,
) -> RoomLeaveResult:
    """LeaveRoom: removes the caller (no ids) or the given participants; `leave_all` empties and deletes the room.

    p2p: always leave_all, and the room is soft-deleted. Groups: a MEMBER may remove only itself; an
    ADMIN may remove MEMBERs and itself; the OWNER anyone; leave_all is for the OWNER. When the OWNER
    leaves, the oldest ADMIN (else the oldest MEMBER) becomes OWNER; when nobody is left the room is
    deleted. Per removed user: a system message `remove_member`, then a `room_leave` event.
    """
    room, actor = acting(room_id=room_id, user_id=user_id, as_staff=as_staff)
    repo = get_repository()
    leave_all = leave_all or room.is_p2p
    if leave_all:
        if room.is_group and not as_staff and not (actor and actor.role == Role.OWNER):
            raise PermissionDenied("Only the owner may empty the room.")
        targets = repo.participants_active(room.id)
    else:
        ids = unique_ids(participant_ids) or [user_id]
        found = repo.participants_get(room.id, ids)
        absent = [u for u in ids if u not in found or not found[u].is_active]
        if absent:
            raise InvalidRequestData(
                "Not members of this room.",
                details={"participants": [f"Not members: {', '.join(str(u) for u in absent)}."]},
            )
        targets = [found[u] for u in ids]
        rank = actor_rank(actor)
        for target in targets:
            if target.user_id != user_id and ROLE_RANK[target.role] >= rank:
                raise PermissionDenied("You may remove only members of a lower role than yours (or yourself).")

    removed_ids = [t.user_id for t in targets]
    owner_leaves = any(t.role == Role.OWNER for t in targets)
    actor_user = actor_user_of(user_id, actor)
    new_owner: ParticipantRecord | None = None
    with repo.atomic():
        now = timezone.now()
        repo.participants_remove(room.id, user_ids=removed_ids, at=now)
        room_deleted = leave_all
        if not room_deleted:
            successor = repo.participant_successor(room.id, excluding=removed_ids)
            if successor is None:
                room_deleted = True  # nobody is left
            elif owner_leaves:
                new_owner = repo.participant_role_set(room.id, successor.user_id, role=Role.OWNER)
        if room_deleted:
            repo.room_soft_delete(room.id, at=now)
            emit([_room_leave(room.id, removed_ids, now, LEAVE_REASON_ROOM_DELETED, user_id)])
        else:
            repo.room_touch(room.id, at=now)
            for target in targets:
                leaving_self = target.user_id == user_id
                text = (
                    f"{target.user.name} left the group"
                    if leaving_self
                    else f"{actor_user.name} removed {target.user.name}"
                )
                system_message(room=room, actor_id=user_id, event="remove_member", text=text)
                reason = LEAVE_REASON_LEFT if leaving_self else LEAVE_REASON_REMOVED
                emit([_room_leave(room.id, [target.user_id], now, reason, user_id)])
            if new_owner is not None:
                emit([room_event("is_room_updated", True, room_id=room.id, actor_user_id=user_id)])
        room_cache.room_cache_invalidate(room.id)
    return RoomLeaveResult(
        removed=tuple(removed_ids),
        room_deleted=room_deleted,
        new_owner_id=new_owner.user_id if new_owner else None,
    )


def _room_leave(room_id: uuid.UUID, user_ids: list[int], at: datetime, reason: str, actor_id: int) -> OutboxRecord:
    value: RoomLeave = {"users_id": [str(u) for u in user_ids], "left_at": iso(at), "reason": reason}
    return room_event("room_leave", value, room_id=room_id, actor_user_id=actor_id)
