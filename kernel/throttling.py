"""Per-user request rates (DRF throttling on the default cache: Redis in production, so the count
is shared by every process). A view names its scope (`throttle_scope = "send"`); the rate of each
scope is the setting CHAT_RATES[scope] ("120/m"; None turns it off), read at each request so that
an operator's or a test's change applies at once. Over the rate: 429 `throttled` with Retry-After."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.throttling import ScopedRateThrottle


class ChatRateThrottle(ScopedRateThrottle):
    def get_rate(self) -> str | None:
        rates: dict[str, Any] = getattr(settings, "CHAT_RATES", {})
        rate = rates.get(self.scope) if self.scope else None
        return None if rate in (None, "") else str(rate)
