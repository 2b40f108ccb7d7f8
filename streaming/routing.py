"""WebSocket routes."""

from __future__ import annotations

from typing import Any

from django.urls import path

from streaming.consumers import StreamConsumer

websocket_urlpatterns: list[Any] = [
    path("ws/chat/v1/stream", StreamConsumer.as_asgi()),
]
