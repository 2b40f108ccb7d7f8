"""WebSocket handshake auth: the session cookie (browsers) or `Authorization: Token <key>`.

The look-ups of both run before the consumer exists; when the database does not answer then,
`SessionOrTokenAuthMiddleware` accepts the socket, sends a `service_unavailable` error frame and
closes it with 4013 (try again later), with one warning line, as the consumer does for an outage
later on: its client reconnects with its cursor, instead of a handshake refused with HTTP 500.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth.models import AnonymousUser

from kernel.auth import token_user
from kernel.exceptions import UNAVAILABLE
from streaming.db import db_async
from streaming.frame_limits import CLOSE_TRY_AGAIN_LATER
from streaming.rules import error_frame

logger = logging.getLogger(__name__)

UNAVAILABLE_FRAME = json.dumps(
    error_frame("service_unavailable", "A service the chat needs does not answer: reconnect shortly.")
)


@db_async
def _user_for_token(key: str) -> Any:
    user = token_user(key)
    if user is None or not user.is_active:
        return AnonymousUser()
    return user


class TokenAuthMiddleware:
    """Sets scope["user"] from an `Authorization: Token <key>` header when one is sent."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        headers = dict(scope.get("headers") or [])
        auth = headers.get(b"authorization", b"").decode("latin-1")
        if auth.lower().startswith("token "):
            key = auth.split(" ", 1)[1].strip()
            user = await _user_for_token(key)
            # auth_token: the connection's credential, re-checked while it is open (streaming.revocation).
            scope = dict(scope, user=user, auth_token=key if user.is_authenticated else None)
        return await self.inner(scope, receive, send)


class UnavailableAtHandshake:
    """Answers a handshake whose look-ups meet an outage (kernel.exceptions.UNAVAILABLE) with close
    4013 after an error frame, once nothing has been accepted yet (see the module docstring)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        accepted = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal accepted
            accepted = accepted or message.get("type") in ("websocket.accept", "websocket.close")
            await send(message)

        try:
            return await self.inner(scope, receive, tracking_send)
        except UNAVAILABLE as exc:
            if accepted:
                raise
            logger.warning(
                "stream: service unavailable at the handshake, closing with %d: %r", CLOSE_TRY_AGAIN_LATER, exc
            )
            message = await receive()
            if message.get("type") != "websocket.connect":
                return None
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": UNAVAILABLE_FRAME})
            await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER})
            return None


def SessionOrTokenAuthMiddleware(inner: Any) -> Any:  # noqa: N802 - mirrors AuthMiddlewareStack
    return UnavailableAtHandshake(AuthMiddlewareStack(TokenAuthMiddleware(inner)))


class BrowserOriginValidator:
    """Refuses a handshake whose Origin header names a host outside ALLOWED_HOSTS.

    Browsers always send Origin, so this stops other sites from opening a socket with a user's
    session cookie; other clients (apps, servers authenticating by token) send none and pass.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.checked = AllowedHostsOriginValidator(inner)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        headers = dict(scope.get("headers") or [])
        if b"origin" in headers:
            return await self.checked(scope, receive, send)
        return await self.inner(scope, receive, send)
