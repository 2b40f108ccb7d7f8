"""HTTP under ASGI: Django's sync handler, each request run whole on one thread of a fixed pool.

Django's ASGI handler runs the middleware in async mode. Every middleware written the classic way
(security, sessions, CSRF, auth, messages, ...) then hands its process_request and process_response
to a thread and back, the sync-only ones (WhiteNoise) hand the rest of the chain back to the event
loop, and the view goes to a thread again: about fifteen thread hand-overs per request, and a new
thread started for each request (asgiref's ThreadSensitiveContext). Measured on a daphne at 70 REST
sends/s: the hand-overs and the thread starts were about a fifth of its CPU.

Here the request's body is read on the event loop, then Django's WSGI handler (the same middleware
and views, in sync mode, as under any WSGI server and as Django's test client runs them) runs on a
thread of a pool of CHAT_HTTP_THREADS, and the answer is sent from the event loop: one hand-over
there and back. A response bigger than STREAM_AFTER_BYTES (a large file) is sent as it is read.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from asgiref.wsgi import WsgiToAsgiInstance
from django.core.handlers.wsgi import WSGIHandler

logger = logging.getLogger(__name__)

Message = dict[str, Any]

# A body up to this size stays in memory while Django reads it; a bigger one goes to a temporary file.
SPOOL_BYTES = 1024 * 1024
# An answer up to this size is collected on the thread and sent in one go from the event loop.
STREAM_AFTER_BYTES = 1024 * 1024


class _Request(WsgiToAsgiInstance):
    """One request: asgiref's WSGI environ from the ASGI scope, Django's answer collected."""

    def __init__(self, scope: Message, body: Any, send: Any) -> None:
        super().__init__(None)  # type: ignore[no-untyped-call]  # asgiref's WSGI module is untyped
        self.scope = scope
        self.body = body
        self.send = send
        self.status: int = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.streamed = False

    def start_response(self, status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        self.status = int(status.split(" ", 1)[0])
        self.headers = [(name.lower().encode("ascii"), value.encode("latin1")) for name, value in response_headers]

    def run(self, application: WSGIHandler) -> list[bytes]:
        """On the pool's thread: the whole of Django's handling, up to the response's close() (which
        sends request_finished: the thread's database connection goes back to its pool)."""
        try:
            environ = self.build_environ(self.scope, self.body)  # type: ignore[no-untyped-call]
        except ValueError:  # too many duplicate headers
            self.status, self.headers = 400, [(b"content-type", b"text/plain")]
            return [b"Bad Request: Too many duplicate headers"]
        result: Iterable[bytes] = application(environ, self.start_response)  # type: ignore[arg-type]
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in result:
                if self.streamed:
                    async_to_sync(self.send)({"type": "http.response.body", "body": chunk, "more_body": True})
                    continue
                chunks.append(chunk)
                size += len(chunk)
                if size > STREAM_AFTER_BYTES:  # a large answer: sent as it is read from here on
                    self.streamed = True
                    async_to_sync(self.send)(self.start_message())
                    async_to_sync(self.send)(
                        {"type": "http.response.body", "body": b"".join(chunks), "more_body": True}
                    )
                    chunks = []
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return chunks

    def start_message(self) -> Message:
        return {"type": "http.response.start", "status": self.status, "headers": self.headers}


class ThreadedDjangoHttp:
    """The ASGI app of plain HTTP (chatproject.asgi): Django's sync handler on a fixed thread pool."""

    def __init__(self, threads: int) -> None:
        self.application = WSGIHandler()
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="http")
        self.threads = threads

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"not an HTTP scope: {scope['type']}")
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as body:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return  # the client left before its request was read: nothing to answer
                body.write(message.get("body", b""))
                if not message.get("more_body"):
                    break
            body.seek(0)
            request = _Request(scope, body, send)
            chunks = await sync_to_async(request.run, thread_sensitive=False, executor=self.executor)(self.application)
        if request.streamed:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        await send(request.start_message())
        await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": False})
