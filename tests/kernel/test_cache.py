"""The Redis cache keeps its connections: every cache object of the process shares one pool."""

from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.core.cache import caches

from kernel.cache import SharedPoolRedisCache


def _fresh_cache() -> SharedPoolRedisCache:
    # Options of its own: a pool apart from the project cache's, which other tests use.
    return SharedPoolRedisCache(
        settings.REDIS_URL, {"KEY_PREFIX": "cache-test", "OPTIONS": {"client_name": "cache-test"}}
    )


def test_the_project_cache_is_the_shared_pool_backend() -> None:
    if not settings.REDIS_URL:
        pytest.skip("no REDIS_URL: the cache is local memory")
    assert isinstance(caches["default"], SharedPoolRedisCache)


def test_cache_objects_of_other_threads_reuse_one_connection_pool() -> None:
    if not settings.REDIS_URL:
        raise pytest.UsageError("needs REDIS_URL (real Redis)")
    pools = []

    def use_a_cache_of_this_thread() -> None:
        cache = _fresh_cache()  # Django makes one per thread and per async context
        cache.set("k", "v", 5)
        assert cache.get("k") == "v"
        pools.append(cache._cache._get_connection_pool(write=True))

    for _ in range(5):  # one after another, as the requests of one ASGI worker thread
        thread = threading.Thread(target=use_a_cache_of_this_thread)
        thread.start()
        thread.join()
    assert len(pools) == 5 and len({id(p) for p in pools}) == 1
    # The five caches used one connection between them, not one each.
    assert len(pools[0]._available_connections) + len(pools[0]._in_use_connections) == 1
