"""The stream registry: which users have a live stream connection right now (push skips them).

A connection registers when it opens, refreshes its entry with every heartbeat and unregisters when
it closes. An entry lives `ttl` seconds past its last refresh, so a process that died without
unregistering stops counting after a couple of heartbeats. Two back ends, one interface:
`RedisStreamRegistry` (REDIS_URL set: shared by every web process and the bridges) keeps one sorted
set per user (member: the connection, score: its expiry); `MemoryStreamRegistry` serves a single
process (the embedded `runchat`, where the bridge runs in the web process).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable
from functools import cache
from typing import Any

import redis
import redis.asyncio as aioredis
from django.conf import settings

KEY_PREFIX = "chat:stream:conns:"


def registry_ttl() -> float:
    """Seconds an entry lives past its last refresh: two heartbeats and a margin."""
    return 2 * float(getattr(settings, "CHAT_STREAM_HEARTBEAT_SECONDS", 15.0)) + 5.0


class StreamRegistry:
    """Live stream connections per user. Async methods serve consumers; `online_users` serves push."""

    async def register(self, user_id: int, connection: str) -> None:
        raise NotImplementedError

    async def refresh(self, user_id: int, connection: str) -> None:
        await self.register(user_id, connection)

    async def unregister(self, user_id: int, connection: str) -> None:
        raise NotImplementedError

    async def connections(self, user_id: int) -> list[str]:
        """The user's live connections."""
        raise NotImplementedError

    def online_users(self, user_ids: Iterable[int]) -> set[int]:
        """Among `user_ids`, those with at least one live connection (sync: push runs in a thread)."""
        raise NotImplementedError


class MemoryStreamRegistry(StreamRegistry):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, dict[str, float]] = {}

    async def register(self, user_id: int, connection: str) -> None:
        with self._lock:
            self._entries.setdefault(int(user_id), {})[connection] = time.monotonic() + registry_ttl()

    async def unregister(self, user_id: int, connection: str) -> None:
        with self._lock:
            conns = self._entries.get(int(user_id), {})
            conns.pop(connection, None)
            if not conns:
                self._entries.pop(int(user_id), None)

    def _live(self, user_id: int, now: float) -> list[str]:
        return [c for c, expiry in self._entries.get(int(user_id), {}).items() if expiry > now]

    async def connections(self, user_id: int) -> list[str]:
        with self._lock:
            return self._live(user_id, time.monotonic())

    def online_users(self, user_ids: Iterable[int]) -> set[int]:
        now = time.monotonic()
        with self._lock:
            return {int(u) for u in user_ids if self._live(int(u), now)}


class RedisStreamRegistry(StreamRegistry):
    def __init__(self, url: str) -> None:
        self.url = url
        self._async_clients: dict[int, Any] = {}  # per event loop: redis.asyncio clients are loop-bound
        self._sync_client: Any = None

    def _async(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(id(loop))
        if client is None:
            client = aioredis.Redis.from_url(self.url)
            self._async_clients = {id(loop): client}  # one loop per process outside tests
        return client

    def _sync(self) -> Any:
        if self._sync_client is None:
            self._sync_client = redis.Redis.from_url(self.url)
        return self._sync_client

    async def register(self, user_id: int, connection: str) -> None:
        key = f"{KEY_PREFIX}{int(user_id)}"
        ttl = registry_ttl()
        now = time.time()
        async with self._async().pipeline(transaction=False) as pipe:
            pipe.zadd(key, {connection: now + ttl})
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.expire(key, int(ttl) + 1)
            await pipe.execute()

    async def unregister(self, user_id: int, connection: str) -> None:
        await self._async().zrem(f"{KEY_PREFIX}{int(user_id)}", connection)

    async def connections(self, user_id: int) -> list[str]:
        members = await self._async().zrangebyscore(f"{KEY_PREFIX}{int(user_id)}", time.time(), "+inf")
        return [m.decode() if isinstance(m, bytes) else str(m) for m in members]

    def online_users(self, user_ids: Iterable[int]) -> set[int]:
        ids = [int(u) for u in user_ids]
        if not ids:
            return set()
        now = time.time()
        pipe = self._sync().pipeline(transaction=False)
        for user_id in ids:
            pipe.zcount(f"{KEY_PREFIX}{user_id}", now, "+inf")
        return {user_id for user_id, count in zip(ids, pipe.execute(), strict=True) if count}


@cache
def _registry_for(redis_url: str) -> StreamRegistry:
    return RedisStreamRegistry(redis_url) if redis_url else MemoryStreamRegistry()


def get_registry() -> StreamRegistry:
    """Redis when REDIS_URL is set, else the process's in-memory registry."""
    return _registry_for(str(getattr(settings, "REDIS_URL", "") or ""))
