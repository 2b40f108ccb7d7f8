"""Django's Redis cache with its connections kept: one connection pool per server and process.

Django makes a cache object per thread and per async context (asgiref's Local), and each one builds a
pool of its own, so under ASGI a request's first cache call opened a new Redis connection. Here the
clients share one pool per (server, options) for the life of the process (redis-py's pool notices a
fork and starts afresh in the child).
"""

from __future__ import annotations

import threading
import uuid
from typing import Any, ClassVar

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.connection import ConnectionProxy


class SharedPoolRedisCacheClient(RedisCacheClient):
    _shared: ClassVar[dict[tuple[str, str], Any]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def _get_connection_pool(self, write: bool) -> Any:
        me: Any = self  # the stubs do not declare the client's private attributes
        index = me._get_connection_pool_index(write)
        server, options = me._servers[index], me._pool_options
        key = (server, repr(sorted(options.items(), key=lambda item: item[0])))
        pool = self._shared.get(key)
        if pool is None:
            with self._lock:
                pool = self._shared.get(key)
                if pool is None:
                    pool = me._pool_class.from_url(server, **options)
                    self._shared[key] = pool
        return pool


class SharedPoolRedisCache(RedisCache):
    """settings.CACHES BACKEND "kernel.cache.SharedPoolRedisCache": RedisCache on shared pools."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SharedPoolRedisCacheClient


# --- one-round-trip operations (a Lua script each: atomic, shared by every process) -------------

_SLIDING_WINDOW = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, count, oldest[2] or tostring(now)}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
return {1, count + 1, '0'}
"""

_SET_IF_GREATER = """
local current = tonumber(redis.call('GET', KEYS[1]))
if current == nil or current <= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return 1
"""

_scripts: dict[tuple[int, str], Any] = {}


def _redis(cache: Any) -> RedisCache | None:
    """The Redis backend behind `cache` (Django's `cache` is a proxy of the thread's object), or None."""
    if isinstance(cache, ConnectionProxy):
        cache = cache._connections[cache._alias]
    return cache if isinstance(cache, RedisCache) else None


def _script(backend: RedisCache, key: str, source: str) -> Any:
    """The script registered on the Redis client of `backend` for `key`."""
    client = backend._cache.get_client(key, write=True)  # type: ignore[attr-defined]
    found = _scripts.get((id(client.connection_pool), source))
    if found is None:
        found = _scripts[(id(client.connection_pool), source)] = client.register_script(source)
    return found


def sliding_window_hit(
    cache: Any, key: str, *, now: float, window: float, limit: int
) -> tuple[bool, int, float] | None:
    """Counts a request in the sliding window of `key` unless `limit` requests are in it already:
    (allowed, requests in the window, the oldest one's time when refused). None when `cache` is not
    Redis (the caller falls back to its get and set)."""
    backend = _redis(cache)
    if backend is None:
        return None
    full_key = backend.make_and_validate_key(key)
    member = f"{now!r}:{uuid.uuid4().hex[:8]}"  # unique: two requests of one instant are two
    allowed, count, oldest = _script(backend, full_key, _SLIDING_WINDOW)(
        keys=[full_key], args=[now, window, limit, member]
    )
    return bool(allowed), int(count), float(oldest)


def set_if_greater(cache: Any, key: str, value: int, timeout: int) -> bool:
    """Sets the integer `value` unless a greater one is stored: one round trip. False when `cache`
    is not Redis (the caller falls back to its get and set)."""
    backend = _redis(cache)
    if backend is None:
        return False
    full_key = backend.make_and_validate_key(key)
    _script(backend, full_key, _SET_IF_GREATER)(keys=[full_key], args=[value, timeout])
    return True
