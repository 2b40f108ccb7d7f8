"""A stream whose handshake meets a database outage (its token or session look-up) is accepted, gets
a `service_unavailable` error frame and close 4013, and its client reconnects once the database is
back (streaming/ws_auth.py): no handshake refused with HTTP 500 and a traceback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from bench.wsclient import WebSocket, WebSocketClosedError
from tests.e2e.conftest import ChatServer, started_server
from tests.factories import UserFactory, token_for
from tests.faults.proxy import TcpProxy
from tests.servers import database_url, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def proxied_server(django_db_setup: None, django_db_blocker: Any) -> Iterator[tuple[ChatServer, TcpProxy]]:
    db = settings.DATABASES["default"]
    proxy = TcpProxy(
        target_host=db.get("HOST") or "127.0.0.1", target_port=int(db.get("PORT") or 5432), port=free_port()
    )
    proxy.start()
    try:
        with started_server(DATABASE_URL=database_url(port=proxy.port), DATABASE_POOL_TIMEOUT="1") as server:
            yield server, proxy
    finally:
        proxy.stop()


async def _handshake(server: ChatServer, token: str) -> tuple[dict[str, Any], str]:
    """(first frame, how the socket ended or "open")."""
    url = f"ws://127.0.0.1:{server.port}/ws/chat/v1/stream?client_id=outage"
    socket = await WebSocket.connect(url, headers={"Authorization": f"Token {token}"})
    first = json.loads(await socket.recv())
    try:
        await asyncio.wait_for(socket.recv(), 3)
    except WebSocketClosedError as closed:
        return first, f"close {closed.code}"
    except TimeoutError:
        pass
    await socket.close()
    return first, "open"


def test_a_handshake_during_a_database_outage_gets_4013_and_the_next_one_connects(
    proxied_server: tuple[ChatServer, TcpProxy], transactional_db
) -> None:
    server, proxy = proxied_server
    token = token_for(UserFactory())
    first, ended = asyncio.run(_handshake(server, token))
    assert first.get("connected") is True and ended == "open"

    proxy.outage()
    try:
        first, ended = asyncio.run(_handshake(server, token))
    finally:
        proxy.restore()
    assert first["error"]["code"] == "service_unavailable"
    assert ended == "close 4013"
    log = (server.logs / "daphne.log").read_text()
    assert "service unavailable at the handshake" in log
    assert "Traceback" not in log

    first, ended = asyncio.run(_handshake(server, token))
    assert first.get("connected") is True and ended == "open"
