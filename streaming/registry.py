"""The stream registry: which users have a live stream connection right now (push skips them).

A connection registers when it opens and unregisters when it closes; the process's heartbeat
(streaming.heartbeat) refreshes the entries of all its connections at once, in one round trip. An
entry lives `ttl` seconds past its last refresh, so a process that died without unregistering stops
counting after a couple of heartbeats. Two back ends, one interface: `RedisStreamRegistry`
(REDIS_URL set: shared by every web process and the bridges) keeps one sorted set per user (member:
the connection, score: its expiry); `MemoryStreamRegistry` serves a single process (the embedded
`runchat`, where the bridge runs in the web process).

The Redis clients keep their connections: one asyncio client per event loop (its connections are
bound to the loop) and one sync client (push threads), each on a pool of at most
CHAT_STREAM_REGISTRY_MAX_CONNECTIONS that makes a caller wait for a free connection (up to
CHAT_STREAM_REGISTRY_POOL_TIMEOUT seconds) instead of failing: a thousand sockets closing at once
queue for the pool.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
import weakref
from collections import defaultdict
from collections.abc import Iterable
from functools import cache
from typing import Any

import redis
import redis.asyncio as aioredis
from django.conf import settings
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

KEY_PREFIX = "chat:stream:conns:"
# One key per process (EPOCH_KEY + ":" + a token of the process), written by every refresh with the
# entries' lifetime: when a process finds its key gone, Redis lost its entries (a restart without
# persistence, a flush) and it re-registers its connections at once. Per process: the first process
# to re-register must not make the others believe theirs are back.
EPOCH_KEY = "chat:stream:epoch"
# A command that meets a connection the server closed (a Redis restart) is retried on a new one.
RETRIES = 3
DEFAULT_MAX_CONNECTIONS = 32
DEFAULT_POOL_TIMEOUT_SECONDS = 10.0

Entry = tuple[int, str]  # (user id, connection)


def registry_ttl() -> float:
    """Seconds an entry lives past its last refresh: two heartbeats and a margin."""
    return 2 * float(getattr(settings, "CHAT_STREAM_HEARTBEAT_SECONDS", 15.0)) + 5.0


class StreamRegistry:
    """Live stream connections per user. Async methods serve consumers; `online_users` serves push."""

    async def register(self, user_id: int, connection: str) -> None:
        raise NotImplementedError

    async def refresh(self, user_id: int, connection: str) -> None:
        await self.refresh_many([(user_id, connection)])

    async def intact(self) -> bool:
        """False when the registry lost its entries since the last refresh (one cheap read)."""
        return True

    async def refresh_many(self, entries: Iterable[Entry]) -> None:
        """Extends the life of every entry (re-creating any that expired): one round trip."""
        raise NotImplementedError

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
        await self.refresh_many([(user_id, connection)])

    async def refresh_many(self, entries: Iterable[Entry]) -> None:
        expiry = time.monotonic() + registry_ttl()
        with self._lock:
            for user_id, connection in entries:
                self._entries.setdefault(int(user_id), {})[connection] = expiry

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
    def __init__(self, url: str, *, max_connections: int | None = None, pool_timeout: float | None = None) -> None:
        self.url = url
        self.max_connections = max_connections or int(
            getattr(settings, "CHAT_STREAM_REGISTRY_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS)
        )
        self.pool_timeout = pool_timeout or float(
            getattr(settings, "CHAT_STREAM_REGISTRY_POOL_TIMEOUT", DEFAULT_POOL_TIMEOUT_SECONDS)
        )
        # redis.asyncio connections belong to the loop that opened them: one client per loop.
        self._async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self._sync_client: Any = None
        self._sync_lock = threading.Lock()
        self.epoch_key = f"{EPOCH_KEY}:{uuid.uuid4().hex}"

    def _async(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            pool = aioredis.BlockingConnectionPool.from_url(
                self.url,
                max_connections=self.max_connections,
                timeout=self.pool_timeout,
                retry=AsyncRetry(ExponentialBackoff(cap=1.0, base=0.05), RETRIES),
            )
            client = self._async_clients[loop] = aioredis.Redis.from_pool(pool)
        return client

    def _sync(self) -> Any:
        with self._sync_lock:
            if self._sync_client is None:
                pool = redis.BlockingConnectionPool.from_url(
                    self.url,
                    max_connections=self.max_connections,
                    timeout=self.pool_timeout,
                    retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), RETRIES),
                )
                self._sync_client = redis.Redis(connection_pool=pool)
            return self._sync_client

    async def register(self, user_id: int, connection: str) -> None:
        await self.refresh_many([(user_id, connection)])

    async def refresh_many(self, entries: Iterable[Entry]) -> None:
        by_user: defaultdict[int, list[str]] = defaultdict(list)
        for user_id, connection in entries:
            by_user[int(user_id)].append(connection)
        if not by_user:
            return
        ttl = registry_ttl()
        now = time.time()
        async with self._async().pipeline(transaction=False) as pipe:
            for user_id, connections in by_user.items():
                key = f"{KEY_PREFIX}{user_id}"
                pipe.zadd(key, dict.fromkeys(connections, now + ttl))
                pipe.zremrangebyscore(key, "-inf", now)
                pipe.expire(key, int(ttl) + 1)
            pipe.set(self.epoch_key, 1, ex=int(ttl) + 1)
            await pipe.execute()

    async def intact(self) -> bool:
        return bool(await self._async().exists(self.epoch_key))

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
