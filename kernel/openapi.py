"""The API schema's error answers (a drf-spectacular post-processing hook): every 4xx an operation can
give is documented with the one error body `{code, message, details}` (components/schemas/Error), so
that clients and the schema tests (tests/chatproject/test_api_schema.py) can check error bodies too.

Beyond what each view documents (400/401/403/404: kernel.api.error_responses), the hook adds what the
API's shared layers answer: 405 (a method the path does not take), 413 and 415 on operations with a
body (kernel.parsers), 413 `payload_too_large` on those a size limit guards, and 429 `throttled` (with
`Retry-After`) on operations with a rate (kernel.throttling: a view's `throttle_scope`), and 503
`service_unavailable` (with `Retry-After`) everywhere (kernel.exceptions: a dependency down).

It also adds OpenAPI links: the room a CreateRoom answers, and the message a SendMessage answers, are
what the room and message operations take, so that clients' generators (and the stateful schema
test) can follow them.
"""

from __future__ import annotations

from typing import Any

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error of the API.",
    "properties": {
        "code": {"type": "string", "description": "Stable, machine-readable: `not_found`, `throttled`, ..."},
        "message": {"type": "string", "description": "For people."},
        "details": {"description": "Field errors or other details ({} when none)."},
    },
    "required": ["code", "message", "details"],
}
SHARED = {
    "405": "method_not_allowed: the path does not take this method",
    "503": "service_unavailable: the database, Redis or Cassandra does not answer; retry after `Retry-After`",
}
WITH_BODY = {
    "413": "payload_too_large: the body is over the upload limit, or the change would make too large an event",
    "415": "unsupported_media_type: bodies are JSON (`Content-Type: application/json`)",
}
THROTTLED = {
    "429": "throttled: over the caller's rate; `Retry-After` says when to try again",
}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds until a retry may pass."}}


ROOM_ID = "$response.body#/room/id"
MESSAGE_ID = "$response.body#/message/id"
# (operation, with its answer) → {link name: (target path, METHOD, parameters, requestBody)}
LINKS: dict[tuple[str, str], dict[str, tuple[str, str, dict[str, str] | None, dict[str, Any] | None]]] = {
    ("/api/chat/v1/room/create", "post"): {
        "GetRoom": ("/api/chat/v1/room/{id}", "get", {"id": ROOM_ID}, None),
        "GetRoomParticipants": ("/api/chat/v1/room/{id}/participants", "get", {"id": ROOM_ID}, None),
        "GetHistory": ("/api/chat/v1/history/{id}", "get", {"id": ROOM_ID}, None),
        "SendMessage": ("/api/chat/v1/send", "post", None, {"room_id": ROOM_ID, "text": "hello"}),
        "UpdateRoom": ("/api/chat/v1/room/update", "put", None, {"id": ROOM_ID, "name": "renamed"}),
        "PinRoom": ("/api/chat/v1/room/pin", "post", None, {"id": ROOM_ID}),
        "MuteRoom": ("/api/chat/v1/room/mute", "post", None, {"id": ROOM_ID}),
        "LeaveRoom": ("/api/chat/v1/room/leave", "post", None, {"id": ROOM_ID}),
    },
    ("/api/chat/v1/send", "post"): {
        "GetMessage": ("/api/chat/v1/message/{id}", "get", {"id": MESSAGE_ID}, None),
        "GetReactions": ("/api/chat/v1/message/{id}/reactions", "get", {"id": MESSAGE_ID}, None),
        "GetReaders": ("/api/chat/v1/message/{id}/read", "get", {"id": MESSAGE_ID}, None),
        "EditMessage": ("/api/chat/v1/edit", "post", None, {"message_id": MESSAGE_ID, "new_text": "edited"}),
        "ReactToMessage": ("/api/chat/v1/react", "post", None, {"message_id": MESSAGE_ID, "reaction": "+1"}),
    },
}


def error_bodies(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    scopes = _throttle_scopes(generator)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            added = dict(SHARED)
            if "requestBody" in operation:
                added.update(WITH_BODY)
            if scopes.get((path, method.upper())):
                added.update(THROTTLED)
            for status, description in added.items():
                responses.setdefault(status, {"description": description})
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    response["content"] = {"application/json": {"schema": ERROR_REF}}
                if status in ("429", "503"):
                    response["headers"] = RETRY_AFTER
    _add_links(result)
    return result


def _add_links(result: dict[str, Any]) -> None:
    paths = result.get("paths", {})
    for (path, method), links in LINKS.items():
        answer = paths.get(path, {}).get(method, {}).get("responses", {}).get("200")
        if answer is None:
            continue
        for name, (target, target_method, parameters, body) in links.items():
            if target_method not in paths.get(target, {}):
                continue
            link: dict[str, Any] = {"operationRef": _operation_ref(target, target_method)}
            if parameters:
                link["parameters"] = parameters
            if body:
                link["requestBody"] = body
            answer.setdefault("links", {})[name] = link


def _operation_ref(path: str, method: str) -> str:
    escaped = path.replace("~", "~0").replace("/", "~1")
    return f"#/paths/{escaped}/{method}"


def _throttle_scopes(generator: Any) -> dict[tuple[str, str], str]:
    """(path as in the schema, METHOD) → the view's throttle scope, for the views that have one."""
    scopes: dict[tuple[str, str], str] = {}
    for path, _regex, method, view in getattr(generator, "endpoints", None) or []:
        scope = getattr(getattr(view, "cls", None), "throttle_scope", None)
        if scope:
            scopes[(path, method.upper())] = str(scope)
    return scopes
