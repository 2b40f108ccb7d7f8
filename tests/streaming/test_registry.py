"""The stream registry's Redis clients: one round trip per refresh, pools that wait, TTL semantics."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

import redis
from django.conf import settings

from streaming import registry as registry_module
from streaming.registry import KEY_PREFIX, MemoryStreamRegistry, RedisStreamRegistry, registry_ttl


def _connections_named(name: str) -> int:
    return sum(1 for client in redis.Redis.from_url(settings.REDIS_URL).client_list() if client["name"] == name)


async def test_refreshing_a_thousand_connections_is_one_round_trip() -> None:
    registry = RedisStreamRegistry(settings.REDIS_URL)
    entries = [(user, f"chan-{user}-{n}") for user in range(1, 301) for n in range(3)]
    await registry.refresh_many(entries[:10])
    pool = registry._async().connection_pool
    checkouts = 0
    get_connection = pool.get_connection

    async def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal checkouts
        checkouts += 1
        return await get_connection(*args, **kwargs)

    pool.get_connection = counting
    started = time.time()
    await registry.refresh_many(entries)
    assert checkouts == 1
    scores = dict(await registry._async().zrange(f"{KEY_PREFIX}7", 0, -1, withscores=True))
    assert set(scores) == {b"chan-7-0", b"chan-7-1", b"chan-7-2"}
    assert all(started + registry_ttl() - 1 <= score <= time.time() + registry_ttl() for score in scores.values())
    assert await registry.connections(300) == ["chan-300-0", "chan-300-1", "chan-300-2"]


async def test_a_thousand_sockets_closing_at_once_wait_for_a_pool_of_a_hundred() -> None:
    name = f"unregister-{uuid.uuid4().hex[:8]}"
    registry = RedisStreamRegistry(f"{settings.REDIS_URL}?client_name={name}", max_connections=100, pool_timeout=10)
    entries = [(user, f"chan-{user}") for user in range(1, 1001)]
    await registry.refresh_many(entries)

    await asyncio.gather(*(registry.unregister(user, channel) for user, channel in entries))

    assert 1 <= _connections_named(name) <= 100
    assert registry.online_users(range(1, 1001)) == set()


def test_push_threads_share_the_sync_pool_and_wait_for_it() -> None:
    registry = RedisStreamRegistry(settings.REDIS_URL, max_connections=4, pool_timeout=10)
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            for _ in range(20):
                registry.online_users(range(50))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert registry._sync().connection_pool.max_connections == 4


async def test_an_entry_lives_a_ttl_past_its_last_refresh(monkeypatch: Any) -> None:
    monkeypatch.setattr(registry_module, "registry_ttl", lambda: 0.2)
    for registry in (RedisStreamRegistry(settings.REDIS_URL), MemoryStreamRegistry()):
        await registry.register(1, "a")
        await registry.refresh_many([(2, "b"), (2, "c")])
        assert registry.online_users([1, 2, 3]) == {1, 2}
        await asyncio.sleep(0.15)
        await registry.refresh_many([(2, "c")])
        await asyncio.sleep(0.1)
        assert registry.online_users([1, 2]) == {2}
        assert await registry.connections(2) == ["c"]
        await registry.unregister(2, "c")
        assert registry.online_users([2]) == set()


async def test_each_process_notices_that_its_own_entries_are_gone() -> None:
    """Two processes (two registries); Redis loses everything. The first to re-register must not make
    the other believe its entries are back."""
    first, second = RedisStreamRegistry(settings.REDIS_URL), RedisStreamRegistry(settings.REDIS_URL)
    await first.refresh_many([(1, "first-1")])
    await second.refresh_many([(2, "second-2")])
    assert await first.intact() and await second.intact()
    await asyncio.to_thread(redis.Redis.from_url(settings.REDIS_URL).flushdb)
    assert not await first.intact() and not await second.intact()
    await first.refresh_many([(1, "first-1")])  # the first process re-registers
    assert await first.intact()
    assert not await second.intact()  # the second still has to
    assert first.online_users([1, 2]) == {1}


async def test_a_command_on_a_connection_the_server_closed_is_retried_on_a_new_one() -> None:
    """A Redis restart closes every pooled connection; the next unregister (or refresh) must not fail."""
    registry = RedisStreamRegistry(settings.REDIS_URL, max_connections=1, pool_timeout=5)
    await registry.refresh_many([(5, "chan-5"), (6, "chan-6")])
    pooled = await registry._async().client_id()
    await asyncio.to_thread(redis.Redis.from_url(settings.REDIS_URL).client_kill_filter, _id=pooled)

    await registry.unregister(5, "chan-5")
    assert registry.online_users([5, 6]) == {6}
    assert await registry._async().client_id() != pooled
