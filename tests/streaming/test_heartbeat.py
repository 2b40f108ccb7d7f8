"""The process's heartbeat: one ticker for every socket, one registry refresh per tick."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest
from autobahn.exception import Disconnected

from streaming import heartbeat
from streaming.heartbeat import HEARTBEAT_TEXT, HeartbeatTicker
from streaming.registry import KEY_PREFIX, get_registry
from tests.streaming.helpers import StreamClient, make_users, rest


@dataclass(eq=False)
class FakeConnection:
    channel_name: str
    user_id: int | None
    beats: int = 0
    closing: bool = False
    credential: None = None  # not checked (streaming.revocation: test_revocation.py)

    async def heartbeat(self) -> None:
        if self.closing:
            raise Disconnected("Attempt to send on a closed protocol")
        self.beats += 1

    async def revoke(self) -> None:
        raise AssertionError("a connection without a credential is never revoked")


@dataclass
class RecordingRegistry:
    refreshes: list[list[tuple[int, str]]] = field(default_factory=list)

    async def refresh_many(self, entries: Any) -> None:
        self.refreshes.append(list(entries))


def _heartbeat_tasks() -> list[asyncio.Task[Any]]:
    others = asyncio.all_tasks() - {asyncio.current_task()}
    return [t for t in others if "heartbeat" in getattr(t.get_coro(), "__qualname__", "").lower()]


@pytest.mark.django_db(transaction=True)
async def test_the_sockets_of_a_process_share_one_heartbeat_task_and_all_get_heartbeats() -> None:
    users = await rest(make_users)(4)
    sockets = [await StreamClient.open(user, client_id=f"c{i}") for i, user in enumerate(users)]
    try:
        for socket in sockets:
            await socket.wait_for(lambda f: f == {"connected": True})
        assert len(_heartbeat_tasks()) == 1
        await asyncio.gather(*(socket.collect(2.3) for socket in sockets))  # the suite's heartbeat is 1 s
        for socket in sockets:
            assert [t for t in socket.texts if t == HEARTBEAT_TEXT] == [HEARTBEAT_TEXT] * len(socket.texts)
            assert len(socket.texts) >= 3  # the one at connect, then one a second
    finally:
        for socket in sockets:
            await socket.close()
    await asyncio.sleep(0.1)
    assert _heartbeat_tasks() == []  # the ticker stops with its last socket


@pytest.mark.django_db(transaction=True)
async def test_a_tick_pushes_every_registry_entry_forward() -> None:
    users = await rest(make_users)(2)
    sockets = [await StreamClient.open(user, client_id=f"c{i}") for i, user in enumerate(users)]
    try:
        for socket in sockets:
            await socket.wait_for(lambda f: f == {"connected": True})
        client = get_registry()._async()  # type: ignore[attr-defined]
        keys = [f"{KEY_PREFIX}{user.pk}" for user in users]
        before = [(await client.zrange(key, 0, -1, withscores=True))[0][1] for key in keys]
        await asyncio.sleep(1.3)
        after = [(await client.zrange(key, 0, -1, withscores=True))[0][1] for key in keys]
        assert all(later > earlier for earlier, later in zip(before, after, strict=True))
    finally:
        for socket in sockets:
            await socket.close()


async def test_one_tick_beats_every_connection_and_refreshes_them_all_at_once(monkeypatch: Any) -> None:
    registry = RecordingRegistry()
    monkeypatch.setattr(heartbeat, "get_registry", lambda: registry)
    ticker = HeartbeatTicker()
    connections = [FakeConnection(f"chan{i}", user_id=i % 3) for i in range(500)]
    for connection in connections:
        ticker.join(connection)
    try:
        await ticker.tick()
        assert [c.beats for c in connections] == [1] * 500
        assert registry.refreshes == [[(c.user_id, c.channel_name) for c in connections]]
    finally:
        for connection in connections:
            ticker.leave(connection)


async def test_a_heartbeat_on_a_closing_socket_logs_no_traceback(monkeypatch: Any, caplog: Any) -> None:
    registry = RecordingRegistry()
    monkeypatch.setattr(heartbeat, "get_registry", lambda: registry)
    ticker = HeartbeatTicker()
    closing, open_ = FakeConnection("closing", 1, closing=True), FakeConnection("open", 2)
    ticker.join(closing)
    ticker.join(open_)
    try:
        with caplog.at_level(logging.DEBUG, logger="streaming"):
            await ticker.tick()
        assert open_.beats == 1
        assert registry.refreshes == [[(1, "closing"), (2, "open")]]
        assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING] == []
    finally:
        ticker.leave(closing)
        ticker.leave(open_)


async def test_the_ticker_keeps_beating_after_a_failed_registry_refresh(monkeypatch: Any, caplog: Any) -> None:
    class BrokenRegistry:
        async def refresh_many(self, entries: Any) -> None:
            raise ConnectionError("Redis is away")

    monkeypatch.setattr(heartbeat, "get_registry", BrokenRegistry)
    monkeypatch.setattr(heartbeat, "heartbeat_seconds", lambda: 0.05)
    ticker = HeartbeatTicker()
    connection = FakeConnection("chan", 1)
    ticker.join(connection)
    try:
        await asyncio.sleep(0.3)
        assert connection.beats >= 3
        assert not [r for r in caplog.records if r.exc_info]
    finally:
        ticker.leave(connection)


async def test_presence_is_back_within_a_check_after_redis_lost_the_registry(monkeypatch: Any, settings: Any) -> None:
    """A Redis restart without persistence (here: a flush) empties the registry; the ticker notices
    within CHAT_STREAM_REGISTRY_CHECK_SECONDS and re-registers, long before the next heartbeat."""
    import redis

    from streaming.registry import RedisStreamRegistry

    registry = RedisStreamRegistry(settings.REDIS_URL)
    monkeypatch.setattr(heartbeat, "get_registry", lambda: registry)
    monkeypatch.setattr(heartbeat, "heartbeat_seconds", lambda: 60.0)
    monkeypatch.setattr(heartbeat, "registry_check_seconds", lambda: 0.1)
    monkeypatch.setattr(heartbeat, "MAX_STEPS", 1)  # the whole interval in one step: no heartbeat for 60 s
    ticker = HeartbeatTicker()
    connections = [FakeConnection(f"chan{i}", user_id=100 + i) for i in range(3)]
    users = {c.user_id for c in connections}
    for connection in connections:
        ticker.join(connection)
    try:
        await ticker.refresh_registry()  # what each connection's register did when it opened
        assert await asyncio.to_thread(registry.online_users, users) == users

        await asyncio.to_thread(redis.Redis.from_url(settings.REDIS_URL).flushdb)
        assert await asyncio.to_thread(registry.online_users, users) == set()

        await asyncio.sleep(1.0)
        assert await asyncio.to_thread(registry.online_users, users) == users
        assert [c.beats for c in connections] == [0, 0, 0]  # no heartbeat came in between
    finally:
        for connection in connections:
            ticker.leave(connection)


async def test_the_heartbeats_of_an_interval_are_spread_over_it(monkeypatch: Any) -> None:
    """150 sockets, a heartbeat every 1.5 s, steps of 0.1 s: each step beats a tenth of them, not all
    at once, and every one gets its heartbeat within the interval; one registry refresh per interval."""
    registry = RecordingRegistry()
    monkeypatch.setattr(heartbeat, "get_registry", lambda: registry)
    monkeypatch.setattr(heartbeat, "heartbeat_seconds", lambda: 1.5)
    monkeypatch.setattr(heartbeat, "registry_check_seconds", lambda: 0.1)

    async def intact() -> bool:
        return True

    registry.intact = intact  # type: ignore[attr-defined]
    ticker = HeartbeatTicker()
    connections = [FakeConnection(f"chan{i}", user_id=i) for i in range(150)]
    for connection in connections:
        ticker.join(connection)
    most_at_once, before = 0, 0
    try:
        for _ in range(17):  # 1.7 s: one interval and a bit, sampled every 0.1 s
            await asyncio.sleep(0.1)
            total = sum(c.beats for c in connections)
            most_at_once, before = max(most_at_once, total - before), total
        assert all(c.beats >= 1 for c in connections)
        assert most_at_once <= 30  # 10 a step (two steps may land in one sample), never 150
        assert len(registry.refreshes) == 1 and len(registry.refreshes[0]) == 150
    finally:
        for connection in connections:
            ticker.leave(connection)
