"""A thousand sockets closed at once under load: 200 users with five sockets each, spread over both
daphnes, in quiet rooms of their own, all closed by their clients at the same moment. Every
unregister must go through (the registry's Redis pool makes callers wait for a connection instead of
failing them: streaming/registry.py), so within PRESENCE_BOUND_SECONDS none of these users is
registered any more and none counts as online for push (`online_users`, what push asks); an entry
left behind would keep its user "online", without pushes, for the registry's TTL (245 s here)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from bench.wsclient import WebSocket
from streaming.registry import RedisStreamRegistry
from tests.faults.figures import Window
from tests.faults.harness import Run, make_users, run_fault
from tests.faults.load import stream_url
from tests.faults.topology import Topology
from tests.servers import api_post

pytestmark = [pytest.mark.faults, pytest.mark.timeout(400)]

USERS = 200
SOCKETS_PER_USER = 5  # CHAT_MAX_SOCKETS_PER_USER is 20
ROOM_SIZE = 20
OPEN_CONCURRENCY = 50  # handshakes under way at once while the sockets open (they all close at once)
OPEN_TIMEOUT_SECONDS = 30.0
PRESENCE_BOUND_SECONDS = 20.0
UNREGISTER_FAILED = "unregister of"  # streaming.consumers logs it when an unregister fails

User = tuple[int, str]


def _quiet_rooms(topology: Topology, users: list[User]) -> None:
    """Rooms of ROOM_SIZE of these users, in which nobody sends: the sockets have nothing to read."""
    for index, first in enumerate(range(0, len(users), ROOM_SIZE)):
        group = users[first : first + ROOM_SIZE]
        body = {"type": "group", "name": f"quiet room {index}", "participants": [u for u, _ in group[1:]]}
        api_post(topology.url(index % len(topology.daphnes)), group[0][1], "room/create", body)


async def _open(port: int, user: User, device: int, slots: asyncio.Semaphore) -> WebSocket | None:
    user_id, token = user
    url = stream_url(port, f"mass-{user_id}-{device}")
    async with slots:
        for _ in range(3):
            try:
                ws = await WebSocket.connect(
                    url, headers={"Authorization": f"Token {token}"}, timeout=OPEN_TIMEOUT_SECONDS
                )
            except (OSError, TimeoutError, asyncio.IncompleteReadError):
                continue
            try:
                first = json.loads(await asyncio.wait_for(ws.recv(), OPEN_TIMEOUT_SECONDS))
            except Exception:
                first = {}
            if first.get("connected") is True:
                return ws
            await ws.close()
    return None


def _log_sizes(topology: Topology) -> list[int]:
    return [d.log.stat().st_size if d.log.exists() else 0 for d in topology.daphnes]


def _unregister_failures(topology: Topology, since: list[int]) -> int:
    count = 0
    for daphne, offset in zip(topology.daphnes, since, strict=True):
        with daphne.log.open("rb") as log:
            log.seek(offset)
            count += log.read().decode(errors="replace").count(UNREGISTER_FAILED)
    return count


async def _registered(registry: RedisStreamRegistry, user_ids: list[int]) -> int:
    """Their connections in the registry (one read at a time: this process's pool is not on trial)."""
    count = 0
    for user_id in user_ids:
        count += len(await registry.connections(user_id))
    return count


async def _open_then_close_all(topology: Topology, users: list[User]) -> Window:
    ids = [u for u, _ in users]
    ports = topology.daphne_ports
    registry = RedisStreamRegistry(topology.redis_url)
    slots = asyncio.Semaphore(OPEN_CONCURRENCY)
    try:
        began = time.monotonic()
        opened = await asyncio.gather(
            *(
                _open(ports[(i + d) % len(ports)], user, d, slots)
                for i, user in enumerate(users)
                for d in range(SOCKETS_PER_USER)
            )
        )
        sockets = [ws for ws in opened if ws is not None]
        open_s = time.monotonic() - began
        registered_open = await _registered(registry, ids)
        since = _log_sizes(topology)

        start = time.monotonic()
        await asyncio.gather(*(ws.close() for ws in sockets))
        closed_s = time.monotonic() - start
        deadline = start + PRESENCE_BOUND_SECONDS
        while (left := await _registered(registry, ids)) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        end = time.monotonic()
        online = await asyncio.to_thread(registry.online_users, ids)
    finally:
        await registry._async().aclose()
    note = (
        f"{len(sockets)} sockets of {len(users)} users (opened in {open_s:.1f}s) closed at once in {closed_s:.1f}s; "
        + (f"registry empty for them after {end - start:.2f}s" if not left else f"{left} still registered")
    )
    details = {
        "opened": len(sockets),
        "registered_open": registered_open,
        "registered_left": left,
        "online_left": len(online),
        "empty_after_s": None if left else round(end - start, 2),
        "unregister_failures_logged": _unregister_failures(topology, since),
    }
    return Window(start, end, note=note, details=details)


def test_a_thousand_sockets_closing_at_once_leave_nobody_online(topology: Topology) -> None:
    users = make_users(USERS)
    _quiet_rooms(topology, users)

    def close_all(run: Run) -> Window:
        return asyncio.run(_open_then_close_all(run.topology, users))

    figures = run_fault(topology, "1,000-socket mass disconnect", close_all)
    details = figures.fault_details
    sockets = USERS * SOCKETS_PER_USER
    assert details["opened"] == details["registered_open"] == sockets, figures.line()
    assert details["registered_left"] == 0, f"users still registered after the close: {figures.line()}"
    assert details["online_left"] == 0, f"users still online for push: {figures.line()}"
    assert details["unregister_failures_logged"] == 0, figures.line()
    figures.check()
