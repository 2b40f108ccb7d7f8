"""The API's token authentication (kernel/auth.py): DRF's answers, in one plain statement."""

from __future__ import annotations

import uuid

from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.factories import token_for


def _rooms(client: APIClient) -> int:
    return int(client.get("/api/chat/v1/room/list").status_code)


def test_a_valid_token_authenticates_in_one_fixed_statement(user_factory) -> None:
    user = user_factory()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/api/chat/v1/room/{uuid.uuid4()}")
    assert response.status_code == 404  # authenticated: the view ran
    auth = [q["sql"] for q in captured.captured_queries if "authtoken_token" in q["sql"]]
    assert len(auth) == 1 and auth[0].startswith("SELECT u.*")  # the fixed statement, not the ORM query


def test_unknown_tokens_and_inactive_users_get_401(user_factory) -> None:
    user = user_factory()
    key = token_for(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert _rooms(client) == 200
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    assert _rooms(client) == 401
    user.is_active = False
    user.save()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert _rooms(client) == 401
