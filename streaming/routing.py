"""WebSocket routes."""

from __future__ import annotations



websocket_urlpatterns: list = []  # the stream consumer (/ws/chat/v1/stream) is added with the live stream
