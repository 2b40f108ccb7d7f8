"""The ScyllaRepository: the three parts of the `scylla` back end and its unit of work (see __init__.py)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from storage.base import ChatRepository
from storage.scylla import cql
from storage.scylla.outbox import ScyllaOutboxMixin
from storage.scylla.rooms import ScyllaRoomsMixin
from storage.scylla.timeline import ScyllaTimelineMixin


class ScyllaRepository(ScyllaRoomsMixin, ScyllaTimelineMixin, ScyllaOutboxMixin, ChatRepository):
    name = "scylla"

    def atomic(self) -> AbstractContextManager[None]:
        """One logged batch of every write inside (see cql.UnitOfWork)."""
        return cql.atomic()

    def on_commit(self, callback: Callable[[], None]) -> None:
        cql.on_commit(callback)

    def ping(self) -> None:
        cql.cql.one("SELECT release_version FROM system.local")
