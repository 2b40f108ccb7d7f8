"""A client that stops reading is closed (4008 `slow_consumer`, or aborted if it cannot even read the
close frame) once its server-side buffer stays past CHAT_STREAM_MAX_SEND_BUFFER, instead of growing
daphne without bound; the other members go on getting every message. A client that reads gets a
replay many times that bound, at its pace (chatproject/daphne_frames.py)."""

from __future__ import annotations

import asyncio
import json
import socket as sockets
from collections.abc import Iterator
from typing import Any

import pytest

from bench.wsclient import WebSocket, WebSocketClosedError
from tests.e2e.conftest import ChatServer, api_post, started_server
from tests.factories import UserFactory, token_for

pytestmark = pytest.mark.e2e

BUFFER_LIMIT = 64 * 1024
SENDS = 80
TEXT = "é" * 16_000  # ~96 KB per frame (JSON escapes it): SENDS of them are far over any socket buffer


@pytest.fixture(scope="module")
def bounded_server(django_db_setup: None, django_db_blocker: Any) -> Iterator[ChatServer]:
    with started_server(CHAT_STREAM_MAX_SEND_BUFFER=str(BUFFER_LIMIT), CHAT_STREAM_SEND_WAIT_SECONDS="0.5") as server:
        yield server


async def _open(server: ChatServer, token: str, client_id: str, cursor: str = "") -> WebSocket:
    url = f"ws://127.0.0.1:{server.port}/ws/chat/v1/stream?client_id={client_id}&cursor={cursor}"
    socket = await WebSocket.connect(url, headers={"Authorization": f"Token {token}"})
    assert json.loads(await socket.recv()).get("connected") is True
    return socket


async def _messages_until_closed(socket: WebSocket, *, timeout: float) -> tuple[int, str]:
    """(message frames read, how it ended) reading until the server ends the connection."""
    count = 0
    try:
        while True:
            frame = json.loads(await asyncio.wait_for(socket.recv(), timeout))
            count += "message" in frame
    except WebSocketClosedError as closed:
        return count, f"close {closed.code}"
    except (ConnectionError, asyncio.IncompleteReadError):
        return count, "aborted"
    except TimeoutError:
        return count, "still open"


async def _scenario(server: ChatServer, users: list[tuple[int, str]]) -> tuple[int, str, int]:
    (_, alice), (bob_id, bob), (carol_id, carol) = users
    loop = asyncio.get_running_loop()
    body = {"type": "group", "name": "slow", "participants": [bob_id, carol_id]}
    room = await loop.run_in_executor(None, api_post, server, alice, "room/create", body)
    slow = await _open(server, bob, "slow")
    slow.writer.transport.pause_reading()  # bob's client stops reading: the kernel's buffers fill up
    slow.writer.get_extra_info("socket").setsockopt(sockets.SOL_SOCKET, sockets.SO_RCVBUF, 4096)
    healthy = await _open(server, carol, "healthy")
    healthy_count = asyncio.create_task(_count_messages(healthy, SENDS))

    def send_all() -> None:
        for i in range(SENDS):
            api_post(server, alice, "send", {"room_id": room["room"]["id"], "text": f"{i} {TEXT}"})

    await loop.run_in_executor(None, send_all)
    await asyncio.sleep(3)  # the bound is hit, the close handshake times out
    slow.writer.transport.resume_reading()
    read, ended = await _messages_until_closed(slow, timeout=10)
    return read, ended, await asyncio.wait_for(healthy_count, 30)


async def _count_messages(socket: WebSocket, expected: int) -> int:
    count = 0
    while count < expected:
        count += "message" in json.loads(await socket.recv())
    await socket.close()
    return count


def test_a_client_that_stops_reading_is_closed_and_the_others_get_everything(
    bounded_server: ChatServer, transactional_db
) -> None:
    users = [(u.pk, token_for(u)) for u in (UserFactory(), UserFactory(), UserFactory())]
    read, ended, healthy = asyncio.run(_scenario(bounded_server, users))
    assert ended in ("close 4008", "aborted"), ended
    assert read < SENDS  # what was over the bound was never buffered for it
    assert healthy == SENDS
    log = (bounded_server.logs / "daphne.log").read_text()
    assert "does not read" in log


REPLAYED = 30  # ~96 KB each: a replay of ~45 times the bound


async def _replay_scenario(server: ChatServer, users: list[tuple[int, str]]) -> tuple[list[int], str]:
    (_, alice), (bob_id, bob) = users
    loop = asyncio.get_running_loop()
    body = {"type": "group", "name": "replay", "participants": [bob_id]}
    room = (await loop.run_in_executor(None, api_post, server, alice, "room/create", body))["room"]["id"]
    socket = await _open(server, bob, "replayer")
    await loop.run_in_executor(None, api_post, server, alice, "send", {"room_id": room, "text": "before"})
    cursor = ""
    while not cursor:
        frame = json.loads(await asyncio.wait_for(socket.recv(), 10))
        cursor = str(frame.get("cursor") or "") if "message" in frame else ""
    await socket.close()

    def send_all() -> None:
        for i in range(REPLAYED):
            api_post(server, alice, "send", {"room_id": room, "text": f"{i} {TEXT}"})

    await loop.run_in_executor(None, send_all)
    socket = await _open(server, bob, "replayer", cursor)
    got: list[int] = []
    try:
        while len(got) < REPLAYED:
            frame = json.loads(await asyncio.wait_for(socket.recv(), 10))
            if "message" in frame:
                got.append(int(frame["message"]["text"].split(" ", 1)[0]))
    except WebSocketClosedError as closed:
        return got, f"close {closed.code}"
    await socket.close()
    return got, "complete"


def test_a_replay_many_times_the_send_buffer_reaches_a_client_that_reads(
    bounded_server: ChatServer, transactional_db
) -> None:
    users = [(u.pk, token_for(u)) for u in (UserFactory(), UserFactory())]
    got, ended = asyncio.run(_replay_scenario(bounded_server, users))
    assert ended == "complete", (ended, len(got))
    assert got == list(range(REPLAYED))
