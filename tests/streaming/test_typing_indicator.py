"""Typing frames: the per-room rate limit."""

from __future__ import annotations

import time

from streaming.typing_indicator import TypingLimiter


def test_typing_is_limited_to_one_per_room_per_interval_but_a_stop_passes() -> None:
    limiter = TypingLimiter(interval=0.2)
    assert limiter.allow("a", True)
    assert not limiter.allow("a", True)
    assert limiter.allow("b", True)
    assert limiter.allow("a", False)  # stopped typing: told at once
    assert not limiter.allow("a", False)
    time.sleep(0.25)
    assert limiter.allow("a", True)
