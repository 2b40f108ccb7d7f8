"""Input and output serializers of the message operations (field names of SPEC.md §1 and chat.proto).

Output serializers document the shapes in the OpenAPI schema; the views answer with the dicts of
messaging.formatting, which already have these shapes.
"""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from kernel import limits
from kernel.serializers import PageMetaSerializer, UserIdField
from messaging.services.changes import MAX_REACTION_LENGTH
from storage.enums import MessageStatus, MessageType

MAX_TEXT_LENGTH = limits.MESSAGE_TEXT_MAX_CHARS
MAX_CONTENT_LENGTH = limits.MESSAGE_CONTENT_MAX_CHARS
MAX_IDS = 500


@extend_schema_field(OpenApiTypes.UUID)
class OptionalUUIDField(serializers.Field[uuid.UUID, Any, str, Any]):
    """A UUID, or null; "" (a proto3 client's unset string) counts as null."""

    default_error_messages = {"invalid": "Must be a valid UUID."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("default", None)
        super().__init__(**kwargs)

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data == "":
            return True, None
        return super().validate_empty_values(data)

    def to_internal_value(self, data: Any) -> uuid.UUID:
        try:
            value = uuid.UUID(str(data))
        except (TypeError, ValueError, AttributeError):
            self.fail("invalid")
            raise
        return value

    def to_representation(self, value: Any) -> str:
        return str(value)


# --- outputs ------------------------------------------------------------------------------------


class SenderSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(help_text="User id.")
    name = serializers.CharField()
    avatar = serializers.CharField()
    phone = serializers.CharField()


class MentionSerializer(serializers.Serializer[Any]):
    tag = serializers.CharField(max_length=150, allow_blank=True)
    user = UserIdField(help_text="User id.")


class ReactionSerializer(serializers.Serializer[Any]):
    message_id = serializers.UUIDField()
    reaction = serializers.CharField()
    user = SenderSerializer()
    created_at = serializers.DateTimeField()


class MessageDataSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    room_id = serializers.UUIDField()
    sender = SenderSerializer()
    content = serializers.CharField(help_text="Ciphertext: base64 of AES-256-CBC with the room key (SPEC §6).")
    text = serializers.CharField(help_text="The decrypted text.")
    reply = serializers.DictField(required=False, help_text="The replied-to MessageData (one level).")
    forward_id = serializers.UUIDField(required=False, help_text="The forwarded message.")
    forwarded_from = SenderSerializer(required=False, help_text="The sender of the forwarded message.")
    mentions = MentionSerializer(many=True)
    status = serializers.ChoiceField(
        choices=MessageStatus.choices,
        help_text="Relative to the caller: others' messages READ once the caller read them; the caller's own "
        "READ once another participant read them; else SENT.",
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    type = serializers.ChoiceField(choices=MessageType.choices)
    edited = serializers.BooleanField()
    is_deleted = serializers.BooleanField()
    audio_transcription = serializers.CharField(required=False)
    lifetime = serializers.IntegerField()
    location_name = serializers.CharField()
    location_latitude = serializers.FloatField(required=False)
    location_longitude = serializers.FloatField(required=False)
    origin = serializers.CharField()
    contact_id = serializers.CharField()
    contact_name = serializers.CharField()
    contact_phone = serializers.CharField()
    file = serializers.CharField()
    reactions = ReactionSerializer(many=True)
    event = serializers.CharField(help_text="System messages: new_member, remove_member, new_name, new_photo.")
    sender_message_id = serializers.CharField()


class MessageResponseSerializer(serializers.Serializer[Any]):
    success = serializers.BooleanField()
    message = MessageDataSerializer()


class MessageListSerializer(serializers.Serializer[Any]):
    items = MessageDataSerializer(many=True)
    meta = PageMetaSerializer()


class SenderMessageStatusSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=MessageStatus.choices)


class ReaderSerializer(serializers.Serializer[Any]):
    user_id = serializers.CharField()
    user_name = serializers.CharField()
    user_avatar = serializers.CharField()
    user_phone = serializers.CharField()
    read_at = serializers.DateTimeField()


class ReaderListSerializer(serializers.Serializer[Any]):
    items = ReaderSerializer(many=True)
    meta = PageMetaSerializer()


class ReactionListSerializer(serializers.Serializer[Any]):
    items = ReactionSerializer(many=True)
    meta = PageMetaSerializer()


class MarkReadResponseSerializer(serializers.Serializer[Any]):
    success = serializers.BooleanField()
    marked_count = serializers.IntegerField()


# --- inputs -------------------------------------------------------------------------------------


class SendMessageSerializer(serializers.Serializer[Any]):
    room_id = serializers.UUIDField()
    content = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=MAX_CONTENT_LENGTH,
        help_text="Ciphertext (SPEC §6). Give content or text.",
    )
    text = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=MAX_TEXT_LENGTH,
        trim_whitespace=False,
        help_text="Plain text, encrypted by the server with the room key. Give content or text.",
    )
    mentions = MentionSerializer(many=True, required=False, default=list, max_length=limits.MENTIONS_MAX)  # type: ignore[call-arg]  # DRF passes it to the ListSerializer; the stubs lag
    reply_id = OptionalUUIDField()
    forward_id = OptionalUUIDField()
    lifetime = serializers.IntegerField(required=False, default=0, min_value=0, max_value=limits.INT32_MAX)
    origin = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    location_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)
    location_latitude = serializers.FloatField(
        required=False, allow_null=True, default=None, min_value=-90, max_value=90
    )
    location_longitude = serializers.FloatField(
        required=False, allow_null=True, default=None, min_value=-180, max_value=180
    )
    contact_id = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    contact_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)
    contact_phone = serializers.CharField(required=False, allow_blank=True, default="", max_length=32)
    file = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)
    event = serializers.CharField(required=False, allow_blank=True, default="", max_length=32)
    sender_message_id = serializers.CharField(required=False, allow_blank=True, default="", max_length=128)


class EditMessageSerializer(serializers.Serializer[Any]):
    message_id = serializers.UUIDField()
    new_content = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MAX_CONTENT_LENGTH, help_text="Ciphertext."
    )
    new_text = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MAX_TEXT_LENGTH, trim_whitespace=False
    )


class RoomMessagesSerializer(serializers.Serializer[Any]):
    room_id = serializers.UUIDField()
    message_ids = serializers.ListField(child=serializers.UUIDField(), allow_empty=False, max_length=MAX_IDS)


class ReactSerializer(serializers.Serializer[Any]):
    message_id = serializers.UUIDField()
    reaction = serializers.CharField(
        allow_blank=True, max_length=MAX_REACTION_LENGTH, trim_whitespace=False, help_text='"" removes.'
    )


class PageQuerySerializer(serializers.Serializer[Any]):
    page = serializers.IntegerField(required=False, min_value=1)
    limit = serializers.IntegerField(required=False, min_value=1)


class HistoryQuerySerializer(PageQuerySerializer):
    before_message_id = OptionalUUIDField()
    after_message_id = OptionalUUIDField()
    before_date = serializers.DateTimeField(required=False, allow_null=True, default=None)
    after_date = serializers.DateTimeField(required=False, allow_null=True, default=None)
    messages_per_room = serializers.IntegerField(
        required=False, min_value=1, help_text="The page size when `limit` is not given."
    )
