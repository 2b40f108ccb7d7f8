"""Django's Redis cache with its connections kept: one connection pool per server and process.

Django makes a cache object per thread and per async context (asgiref's Local), and each one builds a
pool of its own, so under ASGI a request's first cache call opened a new Redis connection. Here the
clients share one pool per (server, options) for the life of the process (redis-py's pool notices a
fork and starts afresh in the child).
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


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
