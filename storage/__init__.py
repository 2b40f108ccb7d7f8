"""Storage: one repository interface, two back ends (`postgres`, `scylla`), chosen by CHAT_STORAGE."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from storage.base import ChatRepository

BACKENDS = {
    "postgres": "storage.postgres.PostgresRepository",
    "scylla": "storage.scylla.ScyllaRepository",
}


@cache
def _repository_for(backend: str) -> ChatRepository:
    repository: ChatRepository = import_string(BACKENDS[backend])()
    return repository


def get_repository() -> ChatRepository:
    """The repository of the configured back end (one instance per process)."""
    return _repository_for(settings.CHAT_STORAGE)


__all__ = ["ChatRepository", "get_repository"]
