"""Serializer pieces shared by the API of every app: user ids, `{success}`, the paging `meta` block."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from kernel.limits import INT64_MAX


class UserIdField(serializers.Field[int, Any, str, Any]):
    """A user id: accepted as an integer or a numeric string, emitted as a string."""

    default_error_messages = {"invalid": "A user id must be a positive integer or a numeric string."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool):
            self.fail("invalid")
        try:
            value = int(str(data).strip())
        except (TypeError, ValueError):
            self.fail("invalid")
        if not 1 <= value <= INT64_MAX:  # beyond a bigint: no user can have it
            self.fail("invalid")
        return value

    def to_representation(self, value: Any) -> str:
        return str(value)


class UserIdFieldExtension(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]  # its __init_subclass__ registers it, untyped
    """OpenAPI: a user id is a string in answers, an integer or a numeric string in requests."""

    target_class = "kernel.serializers.UserIdField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        if direction == "request":
            return {
                "oneOf": [
                    {"type": "integer", "minimum": 1, "maximum": INT64_MAX},
                    {"type": "string", "pattern": "^[0-9]{1,19}$"},
                ]
            }
        return {"type": "string", "example": "42"}


class SuccessSerializer(serializers.Serializer[Any]):
    success = serializers.BooleanField()


class PageMetaSerializer(serializers.Serializer[Any]):
    total_items = serializers.IntegerField()
    item_count = serializers.IntegerField()
    items_per_page = serializers.IntegerField()
    total_pages = serializers.IntegerField()
    current_page = serializers.IntegerField()
