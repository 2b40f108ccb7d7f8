"""Bad input never answers 5xx (kernel/parsers.py, kernel/exceptions.py): unknown paths and methods
under /api/ get JSON errors, bodies that are not JSON get 415, too large 413, too deep 400, and a
refused request stores nothing."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import RequestFactory

from kernel.exceptions import server_error
from kernel.parsers import json_depth_exceeds
from tests.messaging.conftest import make_room, snapshot

pytestmark = pytest.mark.django_db


def _error(response: object, status: int, code: str) -> dict:
    assert response.status_code == status, response.content  # type: ignore[attr-defined]
    assert response["Content-Type"].startswith("application/json")  # type: ignore[index]
    body = json.loads(response.content)  # type: ignore[attr-defined]
    assert body["code"] == code and body["message"], body
    return body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/nothing"),
        ("post", "/api/chat/v1/nothing"),
        ("get", "/api/chat/v1/room/list/"),  # a slash too many
        ("delete", "/api/chat/v2/send"),
    ],
)
def test_unknown_paths_under_the_api_answer_a_json_404(api, user_factory, method, path) -> None:
    for client in (api(user_factory()), api()):  # signed in or not: the same answer
        _error(getattr(client, method)(path), 404, "not_found")


def test_a_method_an_operation_does_not_take_answers_a_json_405(api, user_factory) -> None:
    client = api(user_factory())
    _error(client.get("/api/chat/v1/send"), 405, "method_not_allowed")
    _error(client.put("/api/chat/v1/room/list"), 405, "method_not_allowed")


def test_forms_are_refused_unparsed_even_with_thousands_of_fields(api, user_factory) -> None:
    alice = user_factory()
    room = make_room(alice, [user_factory()])
    fields = "&".join(f"f{n}=1" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 500))
    body = f"room_id={room.id}&text=hi&{fields}"
    before = snapshot()
    for content_type in ("application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"):
        response = api(alice).generic("POST", "/api/chat/v1/send", body, content_type=content_type)
        _error(response, 415, "unsupported_media_type")
    assert snapshot() == before


def test_a_body_over_the_upload_limit_is_refused_with_413_and_nothing_stored(api, user_factory) -> None:
    alice = user_factory()
    room = make_room(alice, [user_factory()])
    body = json.dumps({"room_id": str(room.id), "text": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)})
    before = snapshot()
    response = api(alice).generic("POST", "/api/chat/v1/send", body, content_type="application/json")
    _error(response, 413, "payload_too_large")
    assert snapshot() == before


@pytest.mark.parametrize("depth", [33, 10_000, 100_000])
def test_json_nested_too_deep_is_a_400(api, user_factory, depth) -> None:
    alice = user_factory()
    room = make_room(alice, [user_factory()])
    nested = "[" * depth + "1" + "]" * depth
    body = f'{{"room_id": "{room.id}", "text": "hi", "mentions": {nested}}}'
    before = snapshot()
    response = api(alice).generic("POST", "/api/chat/v1/send", body, content_type="application/json")
    assert "nested deeper" in _error(response, 400, "invalid_request_data")["message"]
    assert snapshot() == before


def test_bodies_that_are_not_utf8_json_are_a_400(api, user_factory) -> None:
    client = api(user_factory())
    for body in (b"\xff\xfe{", b'{"name": NaN}', b"{", b'{"a": 1}}'):
        response = client.generic("POST", "/api/chat/v1/room/create", body, content_type="application/json")
        _error(response, 400, "invalid_request_data")


def test_the_depth_scan_ignores_brackets_in_strings() -> None:
    assert not json_depth_exceeds(json.dumps({"text": "[" * 100}), 4)
    assert not json_depth_exceeds(json.dumps({"text": '\\"' + "{" * 100}), 4)
    assert json_depth_exceeds("[" * 5 + "]" * 5, 4)
    assert not json_depth_exceeds("[" * 4 + "]" * 4, 4)


def test_a_server_error_under_the_api_is_json_and_a_page_elsewhere() -> None:
    _error(server_error(RequestFactory().get("/api/chat/v1/send")), 500, "internal_server_error")
    page = server_error(RequestFactory().get("/rooms/"))
    assert page.status_code == 500 and not page["Content-Type"].startswith("application/json")
