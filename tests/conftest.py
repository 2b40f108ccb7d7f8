"""Shared fixtures. The suites run against the real services that `make test` starts."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests.factories import UserFactory, token_for

pytest_plugins = ["tests.storage.plugin"]  # the storage back end of the run (CHAT_STORAGE)


def pytest_configure(config: pytest.Config) -> None:
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine and not os.environ.get("CHAT_TEST_ALLOW_SQLITE"):
        raise pytest.UsageError(
            "The tests run on PostgreSQL: use `make test` (it starts the services and sets DATABASE_URL)."
        )


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """The factories set passwords; the default hasher costs ~0.3 s a user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def user_factory(db: None) -> type[UserFactory]:
    return UserFactory


@pytest.fixture
def api() -> Callable[..., APIClient]:
    """api(user) is a client authenticated by token as `user`; api() is anonymous."""

    def make(user: object | None = None, client_id: str | None = "test-client") -> APIClient:
        client = APIClient()
        headers = {}
        if user is not None:
            headers["HTTP_AUTHORIZATION"] = f"Token {token_for(user)}"
        if client_id:
            headers["HTTP_X_CLIENT_ID"] = client_id
        client.credentials(**headers)
        return client

    return make
