"""HTTP under ASGI (chatproject/http_app.py): Django's sync handler, each request whole on one thread
of a fixed pool, the body read and the answer sent on the event loop."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import iscoroutinefunction
from channels.testing import ApplicationCommunicator
from django.core.signals import request_finished, request_started

from chatproject.http_app import STREAM_AFTER_BYTES, ThreadedDjangoHttp

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def _scope(path: str, method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), *(headers or [])],
        "client": ("127.0.0.9", 5000),
        "server": ("127.0.0.1", 80),
    }


async def _request(app: Any, scope: dict[str, Any], chunks: list[bytes]) -> tuple[int, dict[bytes, bytes], bytes, int]:
    """(status, headers, body, body messages) of one request whose body comes in `chunks`."""
    communicator = ApplicationCommunicator(app, scope)
    for n, chunk in enumerate(chunks):
        await communicator.send_input({"type": "http.request", "body": chunk, "more_body": n < len(chunks) - 1})
    start = await communicator.receive_output(5)
    assert start["type"] == "http.response.start"
    body, messages = b"", 0
    while True:
        message = await communicator.receive_output(5)
        body, messages = body + message.get("body", b""), messages + 1
        if not message.get("more_body"):
            break
    await communicator.wait(5)
    return start["status"], dict(start["headers"]), body, messages


async def test_requests_run_whole_on_the_threads_of_one_pool() -> None:
    """Django's middleware and view run in sync mode on the pool's threads: no thread per request
    (Django's ASGI handler started one for each) and none of its async hand-overs."""
    from django.conf import settings

    from chatproject.asgi import application as app

    http = app.application_mapping["http"]
    assert isinstance(http, ThreadedDjangoHttp) and http.threads == settings.CHAT_HTTP_THREADS
    assert not iscoroutinefunction(http.application._middleware_chain)  # type: ignore[attr-defined]
    seen: list[tuple[str, str]] = []

    def started(**_: Any) -> None:
        seen.append(("started", threading.current_thread().name))

    def finished(**_: Any) -> None:
        seen.append(("finished", threading.current_thread().name))

    request_started.connect(started)
    request_finished.connect(finished)
    try:
        for _ in range(12):
            status, headers, body, _messages = await _request(app, _scope("/healthz"), [b""])
            assert (status, body) == (200, b'{"status": "ok"}')
            assert headers[b"x-content-type-options"] == b"nosniff" and b"x-request-id" in headers
    finally:
        request_started.disconnect(started)
        request_finished.disconnect(finished)
    threads = {name for _, name in seen}
    assert [kind for kind, _ in seen] == ["started", "finished"] * 12
    assert len(threads) <= settings.CHAT_HTTP_THREADS and all(name.startswith("http") for name in threads), threads


async def test_a_body_in_several_messages_reaches_django_whole(user_factory) -> None:
    """A JSON body split over three http.request messages is parsed as one (here: refused as a
    bad token, after parsing, with the error body of the API)."""
    app = ThreadedDjangoHttp(threads=1)
    body = b'{"room_id": "00000000-0000-0000-0000-000000000000", "text": "' + b"x" * 2000 + b'"}'
    scope = _scope(
        "/api/chat/v1/send",
        "POST",
        [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    )
    status, _headers, answer, _ = await _request(app, scope, [body[:10], body[10:1500], body[1500:]])
    assert status == 401 and b'"code":"invalid_token"' in answer


async def test_a_large_answer_is_streamed_and_closed() -> None:
    """An answer over STREAM_AFTER_BYTES goes out as it is produced, in several body messages, and the
    WSGI iterable is closed (Django sends request_finished from close(): the connection goes back)."""
    closed = threading.Event()
    piece = b"y" * (STREAM_AFTER_BYTES // 2 + 1)

    class Answer:
        def __iter__(self) -> Iterator[bytes]:
            yield from (piece, piece, piece)

        def close(self) -> None:
            closed.set()

    def wsgi(environ: dict[str, Any], start_response: Any) -> Answer:
        assert environ["REMOTE_ADDR"] == "127.0.0.9" and environ["PATH_INFO"] == "/big"
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return Answer()

    app = ThreadedDjangoHttp(threads=1)
    app.application = wsgi  # type: ignore[assignment]
    status, headers, body, messages = await _request(app, _scope("/big"), [b""])
    assert (status, headers[b"content-type"], body) == (200, b"application/octet-stream", piece * 3)
    assert messages >= 3 and closed.is_set()


async def test_a_client_gone_before_its_body_gets_no_answer() -> None:
    calls: list[Any] = []
    app = ThreadedDjangoHttp(threads=1)
    app.application = lambda environ, start_response: calls.append(environ)  # type: ignore[assignment]
    communicator = ApplicationCommunicator(app, _scope("/x", "POST"))
    await communicator.send_input({"type": "http.request", "body": b"part", "more_body": True})
    await communicator.send_input({"type": "http.disconnect"})
    await communicator.wait(5)
    assert calls == [] and await communicator.receive_nothing()
