"""Limits of a stream connection's own traffic (DESIGN.md "Interfaces", Limits), by setting:

- CHAT_STREAM_FRAME_RATE: client frames (typing, ping, anything) a connection may send per 10 s;
  over it a frame is answered with one `rate_limited` error frame per window and not acted on;
- CHAT_MAX_SOCKETS_PER_USER: open stream connections per user (all processes, as the stream
  registry counts them); one more is refused with an error frame and close 4029.
"""

from __future__ import annotations

import time
from collections import deque

from django.conf import settings

FRAME_WINDOW_SECONDS = 10.0
CLOSE_TOO_MANY_CONNECTIONS = 4029


def frame_rate() -> int:
    return int(getattr(settings, "CHAT_STREAM_FRAME_RATE", 30))


def max_sockets_per_user() -> int:
    return int(getattr(settings, "CHAT_MAX_SOCKETS_PER_USER", 20))


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
