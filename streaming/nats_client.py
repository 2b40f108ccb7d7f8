"""The NATS connection a web process shares among its sockets (replay, typing), one per event loop.

A daphne process runs one loop, so one connection. When NATS cannot be reached, callers get
NatsUnavailableError at once for a few seconds instead of each socket waiting for a connect timeout.
"""

from __future__ import annotations

import asyncio
import time

from nats.aio.client import Client

from streaming.jetstream import NatsUnavailableError, connect, ensure_stream

RETRY_AFTER_FAILURE_SECONDS = 2.0

_connections: dict[int, tuple[asyncio.AbstractEventLoop, Client]] = {}
_locks: dict[int, asyncio.Lock] = {}
_failed_until: dict[int, float] = {}


async def shared_connection() -> Client:
    """This loop's connection (connected and with the stream ensured); raises NatsUnavailableError."""
    loop = asyncio.get_running_loop()
    key = id(loop)
    found = _connections.get(key)
    if found is not None and found[0] is loop and not found[1].is_closed:
        return found[1]
    if time.monotonic() < _failed_until.get(key, 0.0):
        raise NatsUnavailableError("NATS unreachable (retrying shortly)")
    lock = _locks.setdefault(key, asyncio.Lock())
    async with lock:
        found = _connections.get(key)
        if found is not None and found[0] is loop and not found[1].is_closed:
            return found[1]
        try:
            nc = await connect(name="chat-web")
            await ensure_stream(nc.jetstream())
        except Exception as exc:
            _failed_until[key] = time.monotonic() + RETRY_AFTER_FAILURE_SECONDS
            if isinstance(exc, NatsUnavailableError):
                raise
            raise NatsUnavailableError(str(exc)) from exc
        _connections[key] = (loop, nc)
        return nc


async def close_shared_connection() -> None:
    """Closes this loop's connection (tests; process shutdown)."""
    loop = asyncio.get_running_loop()
    found = _connections.pop(id(loop), None)
    _locks.pop(id(loop), None)
    _failed_until.pop(id(loop), None)
    if found is not None and not found[1].is_closed:
        await found[1].close()


def forget_connections() -> None:
    """Drops every cached connection without closing it (after NATS_URL changed, in tests)."""
    _connections.clear()
    _locks.clear()
    _failed_until.clear()
