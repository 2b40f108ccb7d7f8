"""Per-user request rates (DRF throttling on the default cache: Redis in production, so the count
is shared by every process). A view names its scope (`throttle_scope = "send"`); the rate of each
scope is the setting CHAT_RATES[scope] ("120/m"; None turns it off), read at each request so that
an operator's or a test's change applies at once. Over the rate: 429 `throttled` with Retry-After.

On Redis the window is one atomic script (kernel.cache.sliding_window_hit): one round trip per
request instead of DRF's get and set, and two processes can no longer both count the last free slot.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.throttling import ScopedRateThrottle

from kernel.cache import sliding_window_hit


class ChatRateThrottle(ScopedRateThrottle):
    def get_rate(self) -> str | None:
        rates: dict[str, Any] = getattr(settings, "CHAT_RATES", {})
        rate = rates.get(self.scope) if self.scope else None
        return None if rate in (None, "") else str(rate)

    def allow_request(self, request: Any, view: Any) -> bool:
        # ScopedRateThrottle reads the view's scope and rate here, then runs the window.
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        if self.rate is None or self.num_requests is None or self.duration is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        # A key of its own (a sorted set): DRF's keys hold a pickled list.
        hit = sliding_window_hit(
            self.cache, f"{self.key}:w", now=self.now, window=self.duration, limit=self.num_requests
        )
        if hit is None:  # not Redis (the embedded default): DRF's get and set
            return bool(super(ScopedRateThrottle, self).allow_request(request, view))
        allowed, count, oldest = hit
        # What wait() reads: the window's requests (only their number and the oldest matter).
        self.history = [oldest] * count
        return allowed
