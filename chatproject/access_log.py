"""The access log ("chat.access") and the ids every line of a request or a socket carries.

`RequestLogMiddleware` (first in MIDDLEWARE) gives each HTTP request its request id (the client's
X-Request-ID when sane, else a new one), answers it as X-Request-ID, and writes one line per request.
`ConnectionLogMiddleware` (outermost around the WebSocket app, chatproject/asgi.py) gives each socket
a connection id for its whole consumer task and writes a line at connect and one at close.

Paths are logged without their query string, and nothing of a body or a header: no credential or
message text reaches a log line from here. daphne's own access log is off (`daphne -v 0`), since it
prints the query string and would print every request twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase
from django.utils.functional import SimpleLazyObject, empty
from django.utils.log import log_response

from kernel import log_context

access_logger = logging.getLogger("chat.access")

REQUEST_ID_HEADER = "X-Request-ID"

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _escaped(text: str) -> str:
    """A path as one line of text, as Django's request logger writes it (no forged lines)."""
    return text.encode("unicode_escape").decode("ascii")


def _user_id(request: HttpRequest) -> int | None:
    """The authenticated user's id, if the request already knows its user: a session user no view
    asked for is not looked up here (that would cost a query, and block in async code)."""
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject) and getattr(user, "_wrapped", empty) is empty:  # not resolved yet
        return None
    if user is None or not user.is_authenticated:
        return None
    return int(user.pk)


class RequestLogMiddleware:
    """The request id and the access line of an HTTP request (see the module docstring)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        started = time.perf_counter()
        request_id = log_context.sane_request_id(request.headers.get(REQUEST_ID_HEADER))
        token = log_context.request_id.set(request_id)
        try:
            response: HttpResponseBase = self.get_response(request)
            self._finish(request, response, started, request_id)
        finally:
            log_context.request_id.reset(token)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        request_id = log_context.sane_request_id(request.headers.get(REQUEST_ID_HEADER))
        token = log_context.request_id.set(request_id)
        try:
            response: HttpResponseBase = await self.get_response(request)
            self._finish(request, response, started, request_id)
        finally:
            log_context.request_id.reset(token)
        return response

    def _finish(self, request: HttpRequest, response: HttpResponseBase, started: float, request_id: str) -> None:
        response[REQUEST_ID_HEADER] = request_id
        path = _escaped(request.path)
        if response.status_code >= 400:
            # Django's own line for an error answer ("Not Found: /x"), written here while the request
            # id is set; Django's handler, after the middleware, then sees it logged and skips it.
            # (The stubs want an HttpResponse; Django's handler passes any response, streamed ones too.)
            log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)  # type: ignore[arg-type]
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        user_id = _user_id(request)
        client = request.META.get("REMOTE_ADDR")
        access_logger.info(
            "%s %s %d %.1fms client=%s user=%s",
            request.method,
            path,
            response.status_code,
            duration_ms,
            client,
            user_id if user_id is not None else "-",
            extra={
                "event": "http_request",
                "method": request.method,
                "path": path,
                "status": response.status_code,
                "duration_ms": duration_ms,
                "client": client,
                "user_id": user_id,
            },
        )


class ConnectionLogMiddleware:
    """ASGI middleware of the WebSocket app: the connection id and the connect and close lines."""

    def __init__(self, inner: Callable[[Scope, Receive, Send], Awaitable[Any]]) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        token = log_context.connection_id.set(log_context.new_id())
        started = time.perf_counter()
        path = _escaped(str(scope.get("path", "")))
        client = scope.get("client")
        address = str(client[0]) if client else None
        accepted = False
        close_code: int | None = None

        async def watched_receive() -> Message:
            nonlocal close_code
            message = await receive()
            if message.get("type") == "websocket.disconnect" and close_code is None:
                close_code = message.get("code")
            return message

        async def watched_send(message: Message) -> None:
            nonlocal accepted, close_code
            kind = message.get("type")
            if kind == "websocket.accept" and not accepted:
                accepted = True
                extra = {"event": "ws_connect", "path": path, "client": address}
                access_logger.info("WS connect %s client=%s", path, address, extra=extra)
            elif kind == "websocket.close" and accepted and close_code is None:
                # (Before an accept a close is a refusal: daphne answers the handshake with 403, no code.)
                close_code = int(message.get("code") or 1000)
            await send(message)

        try:
            return await self.inner(scope, watched_receive, watched_send)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            access_logger.info(
                "WS close %s code=%s %.1fms%s",
                path,
                close_code if close_code is not None else "-",
                duration_ms,
                "" if accepted else " (refused at the handshake)",
                extra={
                    "event": "ws_close",
                    "path": path,
                    "client": address,
                    "close_code": close_code,
                    "duration_ms": duration_ms,
                    "accepted": accepted,
                },
            )
            log_context.connection_id.reset(token)
