"""Client frames on the real server (daphne): a frame over the stream's limit closes with 4009 after
an error frame, one over daphne's own 1 MiB message limit gets the close frame 1009 (not a reset), and
the server goes on serving the other sockets."""

from __future__ import annotations

import asyncio
import json

import pytest

from bench.wsclient import WebSocket, WebSocketClosedError
from tests.e2e.conftest import ChatServer
from tests.factories import UserFactory, token_for

pytestmark = pytest.mark.e2e


async def _refused(url: str, token: str, frame_text: str) -> tuple[list[str], int | None]:
    socket = await WebSocket.connect(url, headers={"Authorization": f"Token {token}"})
    frames = [await socket.recv()]
    await socket.send_json({"ping": frame_text})
    try:
        while True:
            frames.append(await asyncio.wait_for(socket.recv(), 10))
    except WebSocketClosedError as closed:
        return frames, closed.code


async def _pong(url: str, token: str) -> str:
    socket = await WebSocket.connect(url, headers={"Authorization": f"Token {token}"})
    try:
        await socket.recv()  # connected
        await socket.send_json({"ping": "still here"})
        while "pong" not in (frame := json.loads(await asyncio.wait_for(socket.recv(), 10))):
            pass
        return str(frame["pong"])
    finally:
        await socket.close()


def test_oversized_frames_get_a_close_code_and_others_are_served(chat_server: ChatServer, transactional_db) -> None:
    token = token_for(UserFactory())
    url = f"ws://127.0.0.1:{chat_server.port}/ws/chat/v1/stream?client_id=frames"

    frames, code = asyncio.run(_refused(url, token, "x" * 5000))
    assert code == 4009
    assert json.loads(frames[-1])["error"]["code"] == "frame_too_large"

    _frames, code = asyncio.run(_refused(url, token, "x" * (2 * 1024 * 1024)))
    assert code == 1009  # daphne's limit: a close frame saying why, not a dropped connection

    assert asyncio.run(_pong(url, token)) == "still here"
