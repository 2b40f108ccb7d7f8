"""A reconnect storm: at most CHAT_STREAM_REPLAY_CONCURRENCY replays of a process read JetStream at
once (streaming.replay.ReplaySlots), the others wait their turn, and every socket still gets what it
missed and what was sent while it waited, exactly once and in order."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import nats
import pytest
from django.conf import settings
from nats.js import JetStreamContext

from streaming.jetstream import STREAM_NAME
from streaming.replay import ReplaySlots
from tests.streaming.helpers import StreamClient, create_group, make_users, message_texts, rest, send_text

pytestmark = pytest.mark.django_db(transaction=True)

ROOMS = 12
ROOM_SIZE = 10  # sockets: ROOMS * ROOM_SIZE, one user each
MISSED = 4  # messages per room while the sockets are away
LIVE = 2  # messages per room sent while they reconnect
LIMIT = 2


class OrderedConsumers:
    """Counts the ordered JetStream consumers open at once (what a replay opens), on the real client."""

    def __init__(self) -> None:
        self.open = 0
        self.peak = 0
        self.opened = 0

    def wrap(self, subscribe: Any) -> Any:
        async def counted(js: JetStreamContext, *args: Any, **kwargs: Any) -> Any:
            if not kwargs.get("ordered_consumer"):
                return await subscribe(js, *args, **kwargs)
            self.open += 1
            self.opened += 1
            self.peak = max(self.peak, self.open)
            try:
                sub = await subscribe(js, *args, **kwargs)
            except BaseException:
                self.open -= 1
                raise
            unsubscribe = sub.unsubscribe

            async def counted_unsubscribe(*a: Any, **k: Any) -> Any:
                try:
                    return await unsubscribe(*a, **k)
                finally:
                    self.open -= 1

            sub.unsubscribe = counted_unsubscribe
            return sub

        return counted


async def _stream_last_seq() -> int:
    nc = await nats.connect(settings.NATS_URL)
    try:
        return int((await nc.jetstream().stream_info(STREAM_NAME)).state.last_seq or 0)
    finally:
        await nc.close()


def _make_rooms() -> tuple[list[Any], list[dict[str, Any]], list[int]]:
    """ROOMS groups of ROOM_SIZE users; returns the users, the rooms and each user's room index."""
    users = make_users(ROOMS * ROOM_SIZE)
    rooms, room_of = [], []
    for index in range(ROOMS):
        members = users[index * ROOM_SIZE : (index + 1) * ROOM_SIZE]
        rooms.append(create_group(members[0], members[1:], f"storm {index}"))
        room_of += [index] * ROOM_SIZE
    return users, rooms, room_of


async def test_a_reconnect_storm_replays_a_few_at_a_time_and_every_socket_catches_up_exactly_once(
    bridge: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "CHAT_STREAM_REPLAY_CONCURRENCY", LIMIT)
    consumers = OrderedConsumers()
    monkeypatch.setattr(JetStreamContext, "subscribe", consumers.wrap(JetStreamContext.subscribe))
    bridge()
    users, rooms, room_of = await rest(_make_rooms)()
    cursor = await _stream_last_seq()  # every socket has seen everything up to here
    for index, room in enumerate(rooms):
        for i in range(MISSED):
            await rest(send_text)(users[index * ROOM_SIZE], room["id"], f"missed {index}.{i}")

    def send_live() -> None:  # while the sockets come back and wait for their replay
        from django.db import connection

        try:
            for i in range(LIVE):
                for index, room in enumerate(rooms):
                    send_text(users[index * ROOM_SIZE + 1], room["id"], f"live {index}.{i}")
        finally:
            connection.close()

    sender = threading.Thread(target=send_live)
    sender.start()
    sockets: list[StreamClient] = await asyncio.gather(
        *(StreamClient.open(user, client_id=f"storm-{n}", cursor=cursor) for n, user in enumerate(users))
    )
    try:
        await asyncio.get_running_loop().run_in_executor(None, sender.join, 60)
        expected = [
            [f"missed {index}.{i}" for i in range(MISSED)] + [f"live {index}.{i}" for i in range(LIVE)]
            for index in range(ROOMS)
        ]
        last = [texts[-1] for texts in expected]
        for n, socket in enumerate(sockets):
            await socket.wait_for(lambda f, n=n: bool(message_texts([f])) and message_texts([f])[0] == last[room_of[n]])
        await asyncio.gather(*(s.collect(0.5) for s in sockets))

        for n, socket in enumerate(sockets):
            assert socket.frames[0] == {"connected": True}
            assert message_texts(socket.frames) == expected[room_of[n]], f"socket {n}"
            assert not [f for f in socket.frames if "error" in f], f"socket {n}: {socket.frames}"
        assert consumers.opened >= len(sockets)  # each replayed from JetStream
        assert consumers.peak <= LIMIT, f"{consumers.peak} replays read JetStream at once (bound {LIMIT})"
    finally:
        await asyncio.gather(*(s.close() for s in sockets))


async def test_replay_slots_admit_at_most_the_limit_in_arrival_order() -> None:
    slots = ReplaySlots(2)
    release = asyncio.Event()
    entered: list[int] = []
    running_seen: list[int] = []

    async def replay(n: int) -> None:
        async with slots.slot():
            entered.append(n)
            running_seen.append(slots.running)
            await release.wait()

    tasks = [asyncio.create_task(replay(n)) for n in range(6)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert entered == [0, 1] and slots.waiting == 4
    release.set()
    await asyncio.gather(*tasks)
    assert entered == list(range(6))  # first come, first served
    assert max(running_seen) == 2
    assert slots.running == 0 and slots.waiting == 0
