"""Writes on rooms and participants (SPEC.md §1, §3). Each service validates everything first, then
writes in one unit of work with its system messages and events, and invalidates the room cache.

Actors: `user_id` is who acts. With `as_staff=True` (the admin site) the actor need not be a member
and passes every role and permission check; system messages still name the staff user.
"""

from rooms.services.common import (
    FlagToggleResult,
    ParticipantRoleResult,
    ParticipantsAddResult,
    RoomCreateResult,
    RoomLeaveResult,
    RoomUpdateResult,
    p2p_key_for,
)
from rooms.services.create import room_create
from rooms.services.members import room_leave, room_participant_role_set, room_participants_add
from rooms.services.room_settings import (
    room_block_toggle,
    room_mute_toggle,
    room_pin_toggle,
    room_update,
    user_profile_changed,
)

__all__ = [
    "FlagToggleResult",
    "ParticipantRoleResult",
    "ParticipantsAddResult",
    "RoomCreateResult",
    "RoomLeaveResult",
    "RoomUpdateResult",
    "p2p_key_for",
    "room_block_toggle",
    "room_create",
    "room_leave",
    "room_mute_toggle",
    "room_participant_role_set",
    "room_participants_add",
    "room_pin_toggle",
    "room_update",
    "user_profile_changed",
]
