"""Room settings: UpdateRoom, and the per-user toggles PinRoom, MuteRoom, BlockUser."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils import timezone

from domain import room_cache
from domain.access import room_access
from domain.permissions import MEMBER_PERMISSIONS, is_manager
from events.builders import room_event
from events.emit import emit
from kernel.errors import InvalidRequestData, PermissionDenied
from rooms.services.common import (
    FlagToggleResult,
    RoomUpdateResult,
    acting,
    actor_user_of,
    check_group,
    check_permission,
    system_message,
)
from storage import get_repository

# --- UpdateRoom ---------------------------------------------------------------------------------

ROOM_TEXT_FIELDS = ("name", "description", "photo_url")


def room_update(
    *, user_id: int, room_id: uuid.UUID, changes: dict[str, Any], as_staff: bool = False
) -> RoomUpdateResult:
    """UpdateRoom: groups only; a MEMBER needs `edit_group`, and only OWNER/ADMIN change member permissions.

    Writes a system message `new_name` / `new_photo` when those change, and an `is_room_updated` event.
    """
    room, actor = acting(room_id=room_id, user_id=user_id, as_staff=as_staff)
    check_group(room)
    check_permission(room, actor, "edit_group")
    unknown = set(changes) - set(ROOM_TEXT_FIELDS) - set(MEMBER_PERMISSIONS)
    if unknown:
        raise ValueError(f"room_update cannot change {sorted(unknown)}")
    if "name" in changes:
        changes = {**changes, "name": str(changes["name"]).strip()}
        if not changes["name"]:
            raise InvalidRequestData(details={"name": ["A group needs a name."]})
    effective = {k: v for k, v in changes.items() if getattr(room, k) != v}
    if any(k in MEMBER_PERMISSIONS for k in effective) and not as_staff and not (actor and is_manager(actor)):
        raise PermissionDenied("Only the owner or an admin may change member permissions.")
    if not effective:
        return RoomUpdateResult(room=room, changed=())

    repo = get_repository()
    actor_user = actor_user_of(user_id, actor)
    with repo.atomic():
        updated = repo.room_update(room.id, changes=effective, at=timezone.now())
        if "name" in effective:
            system_message(
                room=updated,
                actor_id=user_id,
                event="new_name",
                text=f'{actor_user.name} changed the group name to "{updated.name}"',
            )
        if "photo_url" in effective:
            system_message(
                room=updated, actor_id=user_id, event="new_photo", text=f"{actor_user.name} changed the group photo"
            )
        emit([room_event("is_room_updated", True, room_id=room.id, actor_user_id=user_id)])
        room_cache.room_cache_invalidate(room.id)
    return RoomUpdateResult(room=updated, changed=tuple(effective))


# --- PinRoom / MuteRoom / BlockUser -------------------------------------------------------------


def _toggle(*, user_id: int, room_id: uuid.UUID, flag: str, event: bool) -> FlagToggleResult:
    room, _ = room_access(room_id=room_id, user_id=user_id)
    if flag == "is_partner_blocked" and not room.is_p2p:
        raise InvalidRequestData("Blocking is for p2p rooms only.", details={"id": ["Not a p2p room."]})
    repo = get_repository()
    with repo.atomic():
        value = repo.participant_flag_toggle(room.id, user_id, flag=flag)
        if event:
            emit([room_event("is_room_updated", True, room_id=room.id, actor_user_id=user_id)])
        room_cache.room_cache_invalidate(room.id)
    return FlagToggleResult(flag=flag, value=value)


def room_pin_toggle(*, user_id: int, room_id: uuid.UUID) -> FlagToggleResult:
    """PinRoom: flips the caller's is_pinned (no event)."""
    return _toggle(user_id=user_id, room_id=room_id, flag="is_pinned", event=False)


def room_mute_toggle(*, user_id: int, room_id: uuid.UUID) -> FlagToggleResult:
    """MuteRoom: flips the caller's is_muted (push skips muted members); publishes `is_room_updated`."""
    return _toggle(user_id=user_id, room_id=room_id, flag="is_muted", event=True)


def room_block_toggle(*, user_id: int, room_id: uuid.UUID) -> FlagToggleResult:
    """BlockUser: p2p only; flips the caller's is_partner_blocked (sending in the room is refused while set)."""
    return _toggle(user_id=user_id, room_id=room_id, flag="is_partner_blocked", event=False)


def user_profile_changed(*, user_id: int) -> None:
    """A user's name, phone or avatar changed: drop the cached rooms that show them."""
    room_cache.room_cache_invalidate_many(get_repository().room_ids_for_user(user_id))
