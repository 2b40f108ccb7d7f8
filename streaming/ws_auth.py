"""WebSocket handshake auth: the session cookie (browsers) or `Authorization: Token <key>`."""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth.models import AnonymousUser
from rest_framework.authtoken.models import Token

from streaming.db import db_async


@db_async
def _user_for_token(key: str) -> Any:
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


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


def SessionOrTokenAuthMiddleware(inner: Any) -> Any:  # noqa: N802 - mirrors AuthMiddlewareStack
    return AuthMiddlewareStack(TokenAuthMiddleware(inner))


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
