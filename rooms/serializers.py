"""Input and output serializers of the room operations (field names of SPEC.md §1 and chat.proto).

Output serializers document the shapes in the OpenAPI schema; the views answer with the dicts of
rooms.formatting, which already have these shapes.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from rooms.models import Role, RoomType


class UserIdField(serializers.Field):
    """A user id: accepted as an integer or a numeric string, emitted as a string."""

    default_error_messages = {"invalid": "A user id must be a positive integer or a numeric string."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool):
            self.fail("invalid")
        try:
            value = int(str(data).strip())
        except (TypeError, ValueError):
            self.fail("invalid")
        if value < 1:
            self.fail("invalid")
        return value

    def to_representation(self, value: Any) -> str:
        return str(value)


class UserIdFieldExtension(OpenApiSerializerFieldExtension):
    """OpenAPI: a user id is a string in answers, an integer or a numeric string in requests."""

    target_class = "rooms.serializers.UserIdField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        if direction == "request":
            return {"oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": "^[0-9]+$"}]}
        return {"type": "string", "example": "42"}


# --- outputs ------------------------------------------------------------------------------------


class SuccessSerializer(serializers.Serializer):
    success = serializers.BooleanField()


class PageMetaSerializer(serializers.Serializer):
    total_items = serializers.IntegerField()
    item_count = serializers.IntegerField()
    items_per_page = serializers.IntegerField()
    total_pages = serializers.IntegerField()
    current_page = serializers.IntegerField()


class RoomParticipantSerializer(serializers.Serializer):
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


class RoomSerializer(serializers.Serializer):
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
    last_message = serializers.DictField(allow_null=True, help_text="A MessageData, or null.")


class RoomListSerializer(serializers.Serializer):
    items = RoomSerializer(many=True)
    meta = PageMetaSerializer()


class RoomResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    room = RoomSerializer()


class RoomParticipantListSerializer(serializers.Serializer):
    participants = RoomParticipantSerializer(many=True)
    meta = PageMetaSerializer()


# --- inputs -------------------------------------------------------------------------------------


class RoomListQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(required=False, min_value=1)
    limit = serializers.IntegerField(required=False, min_value=1)
    search = serializers.CharField(required=False, allow_blank=True, default="")
    type = serializers.ChoiceField(choices=RoomType.choices, required=False, allow_blank=True, default="")
    since = serializers.DateTimeField(required=False, allow_null=True, default=None)


class PageQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(required=False, min_value=1)
    limit = serializers.IntegerField(required=False, min_value=1)
    search = serializers.CharField(required=False, allow_blank=True, default="")


class RoomCreateSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=RoomType.choices)
    participants = serializers.ListField(child=UserIdField(), allow_empty=False, max_length=1000)
    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    photo_url = serializers.URLField(required=False, allow_blank=True, default="", max_length=500)
    send_message = serializers.BooleanField(required=False, default=True)
    add_member = serializers.BooleanField(required=False, default=False)
    edit_group = serializers.BooleanField(required=False, default=False)


class RoomIdSerializer(serializers.Serializer):
    id = serializers.UUIDField()


class RoomUpdateSerializer(RoomIdSerializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=255)
    description = serializers.CharField(required=False, allow_blank=True)
    photo_url = serializers.URLField(required=False, allow_blank=True, max_length=500)
    send_message = serializers.BooleanField(required=False)
    add_member = serializers.BooleanField(required=False)
    edit_group = serializers.BooleanField(required=False)


class ParticipantAddSerializer(RoomIdSerializer):
    participants = serializers.ListField(child=UserIdField(), allow_empty=False, max_length=1000)


class ParticipantUpdateSerializer(RoomIdSerializer):
    participant = UserIdField()
    role = serializers.ChoiceField(choices=Role.choices)


class RoomLeaveSerializer(RoomIdSerializer):
    participants = serializers.ListField(child=UserIdField(), required=False, default=list, max_length=1000)
    leave_all = serializers.BooleanField(required=False, default=False)
