"""`postgres` back end, part 1: rooms and participants."""

from __future__ import annotations

import uuid

from django.contrib.auth import get_user_model

from rooms.models import Participant, Room
from rooms.storage.records import ParticipantRecord, RoomRecord, UserRecord


def user_record(user) -> UserRecord:  # type: ignore[no-untyped-def]
    profile = getattr(user, "chat_profile", None)
    name = (profile.display_name if profile else "") or user.get_full_name() or user.get_username()
    return UserRecord(
        id=user.id,
        name=name,
        phone=profile.phone if profile else "",
        avatar=profile.avatar_url if profile else "",
    )


def room_record(room: Room) -> RoomRecord:
    return RoomRecord(
        id=room.id,
        type=room.type,
        name=room.name,
        description=room.description,
        photo_url=room.photo_url,
        encryption_data=room.encryption_data,
        join_all_user=room.join_all_user,
        send_message=room.send_message,
        add_member=room.add_member,
        edit_group=room.edit_group,
        created_by_id=room.created_by_id,
        last_message_id=room.last_message_id,
        last_message_at=room.last_message_at,
        created_at=room.created_at,
        updated_at=room.updated_at,
        deleted_at=room.deleted_at,
    )


def participant_record(p: Participant) -> ParticipantRecord:
    return ParticipantRecord(
        room_id=p.room_id,
        user=user_record(p.user),
        role=p.role,
        is_muted=p.is_muted,
        is_pinned=p.is_pinned,
        is_partner_blocked=p.is_partner_blocked,
        joined_at=p.joined_at,
        removed_at=p.removed_at,
    )


class PostgresRoomsMixin:
    def users_get(self, user_ids: "list[int] | set[int]") -> dict[int, UserRecord]:
        users = get_user_model().objects.filter(id__in=list(user_ids)).select_related("chat_profile")
        return {u.id: user_record(u) for u in users}

    def room_get(self, room_id: uuid.UUID) -> RoomRecord | None:
        room = Room.objects.filter(id=room_id, deleted_at__isnull=True).first()
        return room_record(room) if room else None

    def participant_get(self, room_id: uuid.UUID, user_id: int) -> ParticipantRecord | None:
        p = Participant.objects.filter(room_id=room_id, user_id=user_id).select_related("user__chat_profile").first()
        return participant_record(p) if p else None
