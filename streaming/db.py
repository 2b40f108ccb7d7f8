"""Sync database work from async code, typed, on a pool of threads of the stream's own.

channels' database_sync_to_async runs every call in the one thread Django keeps for thread-sensitive
sync code, so the database work of every socket of a process (handshake token look-ups, room lists,
replays' look-ups) waited in one queue: 1,000 clients reconnecting at once queued behind each other
until daphne reset the handshakes. Here the calls run on CHAT_STREAM_DB_THREADS threads (each with its
own Django connection, taken from and given back to the connection pool around each call, as
channels does), so they overlap their waits on PostgreSQL. None of them relies on thread affinity:
each call is a unit of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar, cast

from channels.db import DatabaseSyncToAsync
from django.conf import settings

P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def stream_db_executor() -> ThreadPoolExecutor:
    """The process's threads for the stream's database work (made on first use)."""
    global _executor
    with _lock:
        if _executor is None:
            threads = int(getattr(settings, "CHAT_STREAM_DB_THREADS", 4))
            _executor = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="stream-db")
        return _executor


def db_async(func: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]:
    """`func` as a coroutine function that runs it on the stream's database threads."""

    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        runner = DatabaseSyncToAsync(func, thread_sensitive=False, executor=stream_db_executor())
        return cast(R, await runner(*args, **kwargs))

    return call
