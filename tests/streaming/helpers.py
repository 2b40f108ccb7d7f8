"""Helpers of the streaming tests: socket clients and REST calls (the other apps' real endpoints)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import nats
import nats.js.errors
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from rest_framework.test import APIClient

from chatproject.asgi import application
from streaming.jetstream import STREAM_NAME
from tests.factories import UserFactory, token_for

Frame = dict[str, Any]


class StreamClient:
    """One WebSocket stream connection, in-process; keeps every frame it received."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator
        self.frames: list[Frame] = []
        self.texts: list[str] = []  # the frames as received, before parsing
        self.close_code: int | None = None

    @classmethod
    async def open(
        cls,
        user: Any | None,
        *,
        client_id: str | None = "client-1",
        room_id: Any = None,
        cursor: str | int | None = None,
        token: str | None = None,
    ) -> StreamClient:
        params: dict[str, str] = {}
        if client_id:
            params["client_id"] = client_id
        if room_id is not None:
            params["room_id"] = str(room_id)
        if cursor is not None:
            params["cursor"] = str(cursor)
        headers = []
        if user is not None:
            key = token or await database_sync_to_async(token_for)(user)
            headers.append((b"authorization", f"Token {key}".encode()))
        communicator = WebsocketCommunicator(application, f"/ws/chat/v1/stream?{urlencode(params)}", headers=headers)
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        client = cls(communicator)
        return client

    async def _next(self, timeout: float) -> Frame | None:
        """The next frame, or None at timeout; records a close."""
        # Not communicator.receive_output(): its time-out cancels the application.
        try:
            message = await asyncio.wait_for(self.communicator.output_queue.get(), timeout)
        except TimeoutError:
            if self.communicator.future.done():
                self.communicator.future.result()  # the consumer crashed: raise its error
            return None
        if message["type"] == "websocket.close":
            self.close_code = message.get("code")
            return {"__closed__": self.close_code}
        frame: Frame = json.loads(message["text"])
        self.texts.append(message["text"])
        self.frames.append(frame)
        return frame

    async def wait_for(self, predicate: Callable[[Frame], bool], timeout: float = 10.0) -> Frame:
        """The first frame (already received or new) matching `predicate`."""
        for frame in self.frames:
            if predicate(frame):
                return frame
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            frame = await self._next(remaining)
            if frame is None:
                break
            if "__closed__" in frame:
                raise AssertionError(f"socket closed ({self.close_code}) while waiting; frames: {self.frames}")
            if predicate(frame):
                return frame
        raise AssertionError(f"no matching frame within {timeout} s; frames: {self.frames}")

    async def wait_closed(self, timeout: float = 10.0) -> int | None:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            frame = await self._next(remaining)
            if frame is not None and "__closed__" in frame:
                return self.close_code
        raise AssertionError("socket not closed")

    async def collect(self, seconds: float) -> list[Frame]:
        """Receives for `seconds`; returns every frame received so far."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            frame = await self._next(remaining)
            if frame is not None and "__closed__" in frame:
                break
        return self.frames

    def events(self, kind: str) -> list[Frame]:
        return [f for f in self.frames if kind in f and "cursor" in f]

    async def send(self, frame: Frame) -> None:
        await self.communicator.send_json_to(frame)

    async def close(self) -> None:
        try:
            await self.communicator.disconnect(timeout=5)
        except Exception:  # already closed by the server
            pass


def message_text(frame: Frame) -> str:
    return str((frame.get("message") or {}).get("text") or "")


def message_texts(frames: list[Frame], room_id: str | None = None) -> list[str]:
    """The texts of the message frames (with a cursor: stream events, not answers), of one room if given."""
    return [
        message_text(f)
        for f in frames
        if "message" in f and "cursor" in f and (room_id is None or f["room_id"] == room_id)
    ]


def make_users(n: int) -> list[Any]:
    return [UserFactory() for _ in range(n)]


# --- REST (sync; wrap with `rest(...)` in async tests) ------------------------------------------


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}", HTTP_X_CLIENT_ID="stream-tests")
    return client


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), (response.status_code, getattr(response, "data", response.content))
    return dict(response.json())


def create_group(owner: Any, members: list[Any], name: str = "group") -> dict[str, Any]:
    body = {"type": "group", "name": name, "participants": [m.pk for m in members]}
    return _ok(client_for(owner).post("/api/chat/v1/room/create", body, format="json"))["room"]


def create_p2p(user: Any, partner: Any) -> dict[str, Any]:
    body = {"type": "p2p", "participants": [partner.pk]}
    return _ok(client_for(user).post("/api/chat/v1/room/create", body, format="json"))["room"]


def send_text(user: Any, room_id: str, text: str) -> dict[str, Any]:
    body = {"room_id": room_id, "text": text}
    return _ok(client_for(user).post("/api/chat/v1/send", body, format="json"))["message"]


def mark_read(user: Any, room_id: str, message_ids: list[str]) -> dict[str, Any]:
    body = {"room_id": room_id, "message_ids": message_ids}
    return _ok(client_for(user).post("/api/chat/v1/mark_as_read", body, format="json"))


def add_members(user: Any, room_id: str, members: list[Any]) -> dict[str, Any]:
    body = {"id": room_id, "participants": [m.pk for m in members]}
    return _ok(client_for(user).post("/api/chat/v1/room/participant/add", body, format="json"))


def remove_members(user: Any, room_id: str, members: list[Any]) -> dict[str, Any]:
    body = {"id": room_id, "participants": [m.pk for m in members]}
    return _ok(client_for(user).post("/api/chat/v1/room/leave", body, format="json"))


def toggle_mute(user: Any, room_id: str) -> dict[str, Any]:
    return _ok(client_for(user).post("/api/chat/v1/room/mute", {"id": room_id}, format="json"))


def rest(func: Callable[..., Any]) -> Callable[..., Any]:
    """An async version of a sync REST helper (in a thread whose DB connection is closed after)."""
    return database_sync_to_async(func)


async def stored_on(
    subject: str, *, url: str | None = None, expect: int = 1, timeout: float = 10.0
) -> list[tuple[int, dict[str, str], dict[str, Any]]]:
    """(sequence, headers, envelope) of the messages JetStream stored on `subject` (at NATS `url`, by
    default the suite's), in stream order, once `expect` are there (or at timeout)."""
    nc = await nats.connect(url or settings.NATS_URL)
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + timeout
        while True:
            found: list[tuple[int, dict[str, str], dict[str, Any]]] = []
            seq = 0
            while True:
                try:
                    msg = await js.get_msg(STREAM_NAME, seq=seq + 1, subject=subject, next=True)
                except nats.js.errors.NotFoundError:
                    break
                found.append((msg.seq, msg.headers or {}, json.loads(msg.data)))
                seq = msg.seq
            if len(found) >= expect or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.05)
    finally:
        await nc.close()
