"""The Redis cache keeps its connections: every cache object of the process shares one pool."""

from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.core.cache import cache as django_cache
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


def test_a_sliding_window_counts_exactly_under_concurrency_and_forgets_old_requests() -> None:
    """Eight threads race for five slots: five get one (DRF's get and set let several take the last)."""
    if not settings.REDIS_URL:
        raise pytest.UsageError("needs REDIS_URL (real Redis)")
    from kernel.cache import sliding_window_hit

    cache, key, now = _fresh_cache(), f"window-{threading.get_ident()}-{id(object())}", 1_000_000.0
    barrier, results = threading.Barrier(8), []

    def hit() -> None:
        barrier.wait(timeout=5)
        for _ in range(3):
            results.append(sliding_window_hit(cache, key, now=now, window=60, limit=5))

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(1 for allowed, _, _ in results if allowed) == 5
    refused = [r for r in results if not r[0]]
    assert len(refused) == 19 and all(count == 5 and oldest == now for _, count, oldest in refused)
    # 60 s later the window is empty again.
    assert sliding_window_hit(cache, key, now=now + 60, window=60, limit=5) == (True, 1, 0.0)
    assert sliding_window_hit(object(), key, now=now, window=1, limit=1) is None  # not Redis: the caller's get and set
    # Django's `cache` (a proxy of the thread's cache object, what DRF's throttles use) is served too.
    assert sliding_window_hit(django_cache, key, now=now, window=60, limit=5) == (True, 1, 0.0)


def test_set_if_greater_never_moves_a_value_back() -> None:
    if not settings.REDIS_URL:
        raise pytest.UsageError("needs REDIS_URL (real Redis)")
    from kernel.cache import set_if_greater

    cache, key = _fresh_cache(), f"greater-{id(object())}"
    assert set_if_greater(cache, key, 20, 60) and cache.get(key) == 20
    assert set_if_greater(cache, key, 10, 60) and cache.get(key) == 20
    assert set_if_greater(cache, key, 30, 60) and cache.get(key) == 30
    assert not set_if_greater(object(), key, 40, 60)
    assert set_if_greater(django_cache, key, 50, 60) and django_cache.get(key) == 50
