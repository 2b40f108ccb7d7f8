"""Input and output serializers of the room operations (field names of SPEC.md §1 and chat.proto).

Output serializers document the shapes in the OpenAPI schema; the views answer with the dicts of
rooms.formatting, which already have these shapes.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from kernel import limits
from kernel.pagination import MAX_LIMIT
from kernel.serializers import PageMetaSerializer, UserIdField
from messaging.serializers import MessageDataSerializer
from storage.enums import Role, RoomType


class RoomParticipantSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(help_text="User id.")
    name = serializers.CharField()
    phone = serializers.CharField()
    avatar = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)
    is_muted = serializers.BooleanField()
    is_pinned = serializers.BooleanField()
    is_partner_blocked = serializers.BooleanField()
    joined_at = serializers.DateTimeField()
    removed_at = serializers.DateTimeField(allow_null=True)


class RoomSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    name = serializers.CharField(help_text="p2p: the partner's name.")
    description = serializers.CharField()
    photo_url = serializers.CharField(help_text="p2p: the partner's avatar.")
    encryption_data = serializers.CharField(help_text="The room key wrapped with the master key (SPEC §6).")
    type = serializers.ChoiceField(choices=RoomType.choices)
    unread_count = serializers.IntegerField()
    role = serializers.ChoiceField(choices=Role.choices, help_text="The caller's role.")
    join_all_user = serializers.BooleanField()
    last_message_at = serializers.DateTimeField(allow_null=True)
    send_message = serializers.BooleanField(help_text="Members may send messages.")
    add_member = serializers.BooleanField(help_text="Members may add members.")
    edit_group = serializers.BooleanField(help_text="Members may edit the group.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    partner = RoomParticipantSerializer(allow_null=True, help_text="p2p: the other participant.")
    participants = RoomParticipantSerializer(many=True, help_text="Groups: up to 5 participants.")
    is_partner_blocked = serializers.BooleanField()
    is_muted = serializers.BooleanField()
    is_pinned = serializers.BooleanField()
    last_message = MessageDataSerializer(allow_null=True, help_text="The newest message the caller sees, or null.")


class RoomListSerializer(serializers.Serializer[Any]):
    items = RoomSerializer(many=True)
    meta = PageMetaSerializer()


class RoomResponseSerializer(serializers.Serializer[Any]):
    success = serializers.BooleanField()
    room = RoomSerializer()


class RoomParticipantListSerializer(serializers.Serializer[Any]):
    participants = RoomParticipantSerializer(many=True)
    meta = PageMetaSerializer()


class SyncSummarySerializer(serializers.Serializer[Any]):
    rooms_synced = serializers.IntegerField()
    rooms_deleted = serializers.IntegerField()
    messages_synced = serializers.IntegerField()
    sync_duration_ms = serializers.IntegerField()


class SyncResponseSerializer(serializers.Serializer[Any]):
    rooms = RoomSerializer(many=True, help_text="Rooms (as GetRoom's `room`).")
    rooms_deleted = serializers.ListField(child=serializers.UUIDField())
    messages = MessageDataSerializer(many=True)
    sync_timestamp = serializers.DateTimeField()
    summary = SyncSummarySerializer()


class DirectoryUserSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(help_text="User id (CreateRoom's `participants`).")
    name = serializers.CharField()
    avatar = serializers.CharField()
    phone = serializers.CharField(required=False, help_text="Only for users who share a room with the caller, if set.")
    email = serializers.CharField(required=False, help_text="Only for users who share a room with the caller, if set.")


class UserListSerializer(serializers.Serializer[Any]):
    items = DirectoryUserSerializer(many=True)
    meta = PageMetaSerializer()


class MeSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(help_text="User id.")
    username = serializers.CharField()
    name = serializers.CharField(help_text="As others see it: display name, else full name, else username.")
    avatar = serializers.CharField()
    phone = serializers.CharField()
    email = serializers.CharField()


# --- inputs -------------------------------------------------------------------------------------


class RoomListQuerySerializer(serializers.Serializer[Any]):
    page = serializers.IntegerField(required=False, min_value=1, max_value=limits.INT32_MAX)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=limits.INT32_MAX)
    search = serializers.CharField(required=False, allow_blank=True, default="")
    type = serializers.ChoiceField(choices=RoomType.choices, required=False, allow_blank=True, default="")
    since = serializers.DateTimeField(required=False, default=None)  # given empty: 400


class PageQuerySerializer(serializers.Serializer[Any]):
    page = serializers.IntegerField(required=False, min_value=1, max_value=limits.INT32_MAX)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=limits.INT32_MAX)
    search = serializers.CharField(required=False, allow_blank=True, default="")


# A longer term matches no one: names are kept to 150 characters (display name, username).
USER_SEARCH_MAX_CHARS = 150


class UserListQuerySerializer(serializers.Serializer[Any]):
    page = serializers.IntegerField(required=False, min_value=1, max_value=limits.INT32_MAX)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT)
    search = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=USER_SEARCH_MAX_CHARS,
        help_text="Part of the name or username; case and accents ignored.",
    )


class RoomCreateSerializer(serializers.Serializer[Any]):
    type = serializers.ChoiceField(choices=RoomType.choices)
    participants = serializers.ListField(
        child=UserIdField(), allow_empty=False, max_length=limits.PARTICIPANTS_PER_REQUEST_MAX
    )
    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=limits.ROOM_NAME_MAX_CHARS)
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=limits.ROOM_DESCRIPTION_MAX_CHARS
    )
    photo_url = serializers.URLField(required=False, allow_blank=True, default="", max_length=500)
    send_message = serializers.BooleanField(required=False, default=True)
    add_member = serializers.BooleanField(required=False, default=False)
    edit_group = serializers.BooleanField(required=False, default=False)


class RoomIdSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()


class RoomUpdateSerializer(RoomIdSerializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=limits.ROOM_NAME_MAX_CHARS)
    description = serializers.CharField(required=False, allow_blank=True, max_length=limits.ROOM_DESCRIPTION_MAX_CHARS)
    photo_url = serializers.URLField(required=False, allow_blank=True, max_length=500)
    send_message = serializers.BooleanField(required=False)
    add_member = serializers.BooleanField(required=False)
    edit_group = serializers.BooleanField(required=False)


class ParticipantAddSerializer(RoomIdSerializer):
    participants = serializers.ListField(
        child=UserIdField(), allow_empty=False, max_length=limits.PARTICIPANTS_PER_REQUEST_MAX
    )


class ParticipantUpdateSerializer(RoomIdSerializer):
    participant = UserIdField()
    role = serializers.ChoiceField(choices=Role.choices)


class RoomLeaveSerializer(RoomIdSerializer):
    participants = serializers.ListField(
        child=UserIdField(), required=False, default=list, max_length=limits.PARTICIPANTS_PER_REQUEST_MAX
    )
    leave_all = serializers.BooleanField(required=False, default=False)


class SyncSerializer(serializers.Serializer[Any]):
    last_sync_timestamp = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="The previous sync_timestamp; none: everything."
    )
    messages_per_room = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict) and data.get("last_sync_timestamp") == "":
            data = {**data, "last_sync_timestamp": None}
        return super().to_internal_value(data)
