"""The baseline chat (the Channels tutorial's, without storage or auth):

- `ws://.../ws/room/<name>/`: joins the group of the room; every text frame it receives goes to the
  room's group, and every group message goes out as a text frame;
- `POST /send` with `{"room": name, "frame": {...}}`: group_sends the frame to the room (the REST
  send of the project, without the project).
"""

from __future__ import annotations

import json
import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.baseline.settings")
django.setup()

from channels.generic.http import AsyncHttpConsumer  # noqa: E402
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402


def group_of(room: str) -> str:
    return f"room_{room}"


class RoomConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]  # channels ships no types
    async def connect(self) -> None:
        self.group = group_of(self.scope["url_route"]["kwargs"]["room"])
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send(text_data=json.dumps({"connected": True}))

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data:
            await self.channel_layer.group_send(self.group, {"type": "chat.frame", "text": text_data})

    async def chat_frame(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["text"])


class SendConsumer(AsyncHttpConsumer):  # type: ignore[misc]
    async def handle(self, body: bytes) -> None:
        try:
            data = json.loads(body)
            group, text = group_of(str(data["room"])), json.dumps(data["frame"])
        except (ValueError, KeyError, TypeError):
            await self.send_response(400, b'{"error": "bad request"}', headers=[(b"Content-Type", b"application/json")])
            return
        await self.channel_layer.group_send(group, {"type": "chat.frame", "text": text})
        await self.send_response(200, b'{"ok": true}', headers=[(b"Content-Type", b"application/json")])


application = ProtocolTypeRouter(
    {
        "http": URLRouter([path("send", SendConsumer.as_asgi())]),
        "websocket": URLRouter([path("ws/room/<str:room>/", RoomConsumer.as_asgi())]),
    }
)
