"""Room permissions of MEMBERs (SPEC.md §1): OWNER and ADMIN always have them."""

from __future__ import annotations

from typing import Literal

from kernel.errors import PermissionDenied
from storage.enums import Role
from storage.records import ParticipantRecord, RoomRecord

MemberPermission = Literal["send_message", "add_member", "edit_group"]
MEMBER_PERMISSIONS: tuple[MemberPermission, ...] = ("send_message", "add_member", "edit_group")

MANAGER_ROLES = frozenset({Role.OWNER, Role.ADMIN})


def is_manager(participant: ParticipantRecord) -> bool:
    """OWNER or ADMIN."""
    return participant.role in MANAGER_ROLES


def has_member_permission(room: RoomRecord, participant: ParticipantRecord, perm: MemberPermission) -> bool:
    if perm not in MEMBER_PERMISSIONS:
        raise ValueError(f"unknown room permission {perm!r}")
    if room.is_p2p or is_manager(participant):
        # p2p rooms have no member permissions: both users may do what a p2p room allows.
        return True
    return bool(getattr(room, perm))


def check_member_permission(room: RoomRecord, participant: ParticipantRecord, perm: MemberPermission) -> None:
    """Raises PermissionDenied (403) if `participant` is a MEMBER of the group `room` without `perm`."""
    if not has_member_permission(room, participant, perm):
        raise PermissionDenied(f"Members of this room may not {perm.replace('_', ' ')}.", details={"permission": perm})
