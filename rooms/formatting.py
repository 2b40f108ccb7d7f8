"""Rooms and participants as the API and the stream show them (SPEC.md §2; proto `Room`, `RoomParticipant`).

A formatted room is built in two parts: the *base* (everything that only changes when the room or
its members change, and may be cached per (room, user)), and the *live* fields (unread_count,
last_message, last_message_at) that change with every message and are always filled in fresh.
"""

from __future__ import annotations

from datetime import datetime

from kernel.shapes import MessageData, Room, RoomBase, RoomParticipant
from kernel.timefmt import iso
from storage.records import ParticipantRecord, RoomRecord

# How many participants a formatted group room lists (SPEC.md §2: "up to 5 in lists").
PARTICIPANTS_PREVIEW = 5

LIVE_FIELDS = ("unread_count", "last_message", "last_message_at")


def participant_format(p: ParticipantRecord) -> RoomParticipant:
    """A `RoomParticipant`."""
    return {
        "id": str(p.user_id),
        "name": p.user.name,
        "phone": p.user.phone,
        "avatar": p.user.avatar,
        "role": p.role,
        "is_muted": p.is_muted,
        "is_pinned": p.is_pinned,
        "is_partner_blocked": p.is_partner_blocked,
        "joined_at": iso(p.joined_at),
        "removed_at": iso(p.removed_at),
    }


def room_format_base(room: RoomRecord, *, viewer: ParticipantRecord, others: list[ParticipantRecord]) -> RoomBase:
    """The room as `viewer` sees it, without the live fields. `others`: other active members, oldest first."""
    partner = others[0] if room.is_p2p and others else None
    return {
        "id": str(room.id),
        "name": partner.user.name if partner else room.name,
        "description": room.description,
        "photo_url": partner.user.avatar if partner else room.photo_url,
        "encryption_data": room.encryption_data,
        "type": room.type,
        "role": viewer.role,
        "join_all_user": room.join_all_user,
        "send_message": room.send_message,
        "add_member": room.add_member,
        "edit_group": room.edit_group,
        "created_at": iso(room.created_at),
        "updated_at": iso(room.updated_at),
        "partner": participant_format(partner) if partner else None,
        "participants": (
            [] if room.is_p2p else [participant_format(p) for p in [viewer, *others][:PARTICIPANTS_PREVIEW]]
        ),
        "is_partner_blocked": viewer.is_partner_blocked,
        "is_muted": viewer.is_muted,
        "is_pinned": viewer.is_pinned,
        "last_message_at": iso(room.last_message_at),
    }


def room_with_live_fields(
    base: RoomBase,
    *,
    unread_count: int,
    last_message: MessageData | None,
    last_message_at: datetime | str | None = None,
) -> Room:
    """The complete `Room`: the base with fresh unread_count and last_message (and last_message_at if known)."""
    room: Room = {**base, "unread_count": unread_count, "last_message": last_message}
    if last_message_at is not None:
        room["last_message_at"] = last_message_at if isinstance(last_message_at, str) else iso(last_message_at)
    return room
