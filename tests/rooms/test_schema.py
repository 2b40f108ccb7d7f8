"""OpenAPI: every room operation is documented with its request and response shapes."""

from __future__ import annotations

from typing import Any

import pytest

# operationId → (method, path, request fields or None, response fields)
ROOM_OPERATIONS = {
    "GetRooms": ("get", "/api/chat/v1/room/list", None, {"items", "meta"}),
    "CreateRoom": (
        "post",
        "/api/chat/v1/room/create",
        {"type", "participants", "name", "description", "photo_url", "send_message", "add_member", "edit_group"},
        {"success", "room"},
    ),
    "GetRoom": ("get", "/api/chat/v1/room/{id}", None, {"success", "room"}),
    "UpdateRoom": (
        "put",
        "/api/chat/v1/room/update",
        {"id", "name", "description", "photo_url", "send_message", "add_member", "edit_group"},
        {"success"},
    ),
    "GetRoomParticipants": ("get", "/api/chat/v1/room/{id}/participants", None, {"participants", "meta"}),
    "AddParticipantToRoom": ("post", "/api/chat/v1/room/participant/add", {"id", "participants"}, {"success"}),
    "UpdateParticipantRoom": (
        "put",
        "/api/chat/v1/room/participant/update",
        {"id", "participant", "role"},
        {"success"},
    ),
    "LeaveRoom": ("post", "/api/chat/v1/room/leave", {"id", "participants", "leave_all"}, {"success"}),
    "PinRoom": ("post", "/api/chat/v1/room/pin", {"id"}, {"success"}),
    "MuteRoom": ("post", "/api/chat/v1/room/mute", {"id"}, {"success"}),
    "BlockUser": ("post", "/api/chat/v1/room/block", {"id"}, {"success"}),
}


def _resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return document["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


@pytest.mark.django_db
def test_schema_documents_every_room_operation(api) -> None:
    response = api().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    document = response.json()

    for operation_id, (method, path, request_fields, response_fields) in ROOM_OPERATIONS.items():
        operation = document["paths"][path][method]
        assert operation["operationId"] == operation_id
        if request_fields is not None:
            body = _resolve(operation["requestBody"]["content"]["application/json"]["schema"], document)
            assert set(body["properties"]) == request_fields, operation_id
        ok = _resolve(operation["responses"]["200"]["content"]["application/json"]["schema"], document)
        assert set(ok["properties"]) == response_fields, operation_id
        assert {"400", "401", "404"} <= set(operation["responses"]), operation_id

    room = document["components"]["schemas"]["Room"]["properties"]
    assert {"unread_count", "role", "partner", "participants", "last_message", "is_muted", "encryption_data"} <= set(
        room
    )
    query = {p["name"] for p in document["paths"]["/api/chat/v1/room/list"]["get"]["parameters"]}
    assert {"page", "limit", "search", "type", "since"} <= query
