"""Limits of a stream connection's own traffic (DESIGN.md "Interfaces", Limits), by setting:

- CHAT_STREAM_FRAME_RATE: client frames (typing, ping, anything) a connection may send per 10 s;
  over it a frame is answered with one `rate_limited` error frame per window and not acted on;
- CHAT_MAX_SOCKETS_PER_USER: open stream connections per user (all processes, as the stream
  registry counts them); one more is refused with an error frame and close 4029;
- CHAT_STREAM_MAX_FRAME_BYTES: a client frame's size (client frames are pings and typing, well under
  1 KiB); a larger one gets an error frame and close 4009 (RFC 6455's 1009, in the application's
  range). daphne itself fails frames over its --websocket-max-message-size (1 MiB) before they reach us.

decode_frame() reads a client frame: a JSON object, or the error frame that answers it.
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from kernel.parsers import json_depth_exceeds

FRAME_WINDOW_SECONDS = 10.0
CLOSE_TOO_MANY_CONNECTIONS = 4029
CLOSE_FRAME_TOO_LARGE = 4009
# A service the stream needs does not answer (an outage): the client reconnects, with its cursor,
# after a pause. (Not RFC 6455's 1013: daphne's autobahn lets an application close only with 1000
# or 3000-4999.)
CLOSE_TRY_AGAIN_LATER = 4013
MAX_FRAME_DEPTH = 8  # {"typing": {"room_id": ..., "is_typing": ...}} nests 2


def frame_rate() -> int:
    return int(getattr(settings, "CHAT_STREAM_FRAME_RATE", 30))


def max_sockets_per_user() -> int:
    return int(getattr(settings, "CHAT_MAX_SOCKETS_PER_USER", 20))


def max_frame_bytes() -> int:
    return int(getattr(settings, "CHAT_STREAM_MAX_FRAME_BYTES", 4096))


@dataclass(frozen=True, slots=True)
class FrameRefusal:
    """Why a client frame is not acted on: the error frame's code and message, and whether to close."""

    code: str
    message: str
    close_code: int | None = None


def decode_frame(text_data: str | None, bytes_data: bytes | None) -> dict[str, Any] | FrameRefusal:
    """A client frame as a JSON object, or the refusal to answer it with (never an exception)."""
    if bytes_data is not None and text_data is None:
        return FrameRefusal("invalid_request_data", "Binary frames are not accepted: send JSON text frames.")
    text = text_data or ""
    limit = max_frame_bytes()
    if len(text) > limit or (not text.isascii() and len(text.encode()) > limit):
        return FrameRefusal("frame_too_large", f"Frames are at most {limit} bytes.", CLOSE_FRAME_TOO_LARGE)
    if json_depth_exceeds(text, MAX_FRAME_DEPTH):
        return FrameRefusal("invalid_request_data", f"Frames nest at most {MAX_FRAME_DEPTH} levels.")
    try:
        content = json.loads(text)
    except (ValueError, RecursionError):
        content = None
    if not isinstance(content, dict):
        return FrameRefusal("invalid_request_data", "Frames are JSON objects.")
    return content


class FrameLimiter:
    """A sliding window of a connection's last frames: allow() says whether one more fits."""

    __slots__ = ("_times", "_told_at", "limit", "window")

    def __init__(self, limit: int | None = None, window: float = FRAME_WINDOW_SECONDS) -> None:
        self.limit = frame_rate() if limit is None else limit
        self.window = window
        self._times: deque[float] = deque()
        self._told_at = float("-inf")

    def allow(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return False
        self._times.append(now)
        return True

    def should_tell(self, now: float | None = None) -> bool:
        """Whether a refused frame gets an error frame (once per window, not one per frame)."""
        now = time.monotonic() if now is None else now
        if now - self._told_at >= self.window:
            self._told_at = now
            return True
        return False
