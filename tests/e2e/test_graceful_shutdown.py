"""SIGTERM of daphne under a steady send load: the requests in flight are answered, every socket gets
close 1001 (its client reconnects elsewhere at once), and the process exits within its grace period
(chatproject/daphne_shutdown.py). Every send answered 2xx is stored."""

from __future__ import annotations

import asyncio
import http.client
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from bench.wsclient import WebSocket, WebSocketClosedError
from tests import storage_probe as probe
from tests.e2e.conftest import ChatServer, api_post, started_server
from tests.factories import UserFactory, token_for

pytestmark = pytest.mark.e2e

SENDERS = 4
GRACE_SECONDS = 10


@pytest.fixture(scope="module")
def draining_server(django_db_setup: None, django_db_blocker: Any) -> Iterator[ChatServer]:
    # A steady load from few users: no send rate here.
    with started_server(CHAT_RATE_SEND="", CHAT_SHUTDOWN_GRACE_SECONDS=str(GRACE_SECONDS)) as server:
        yield server


def _send_until_refused(server: ChatServer, token: str, room_id: str, outcomes: list[tuple[str, str]]) -> None:
    """Sends one message after the other until the server stops taking connections."""
    for i in range(10_000):
        try:
            answer = api_post(server, token, "send", {"room_id": room_id, "text": f"load {i}"})
        except urllib.error.HTTPError as error:
            outcomes.append(("http", str(error.code)))
        except urllib.error.URLError as error:
            refused = isinstance(error.reason, (ConnectionRefusedError, ConnectionResetError))
            outcomes.append(("refused", "") if refused else ("dropped", repr(error.reason)))
            return
        except ConnectionResetError:
            # A connection still in the kernel's accept queue when the port closed: never accepted,
            # never read (a request the server had read and then dropped ends with a plain close).
            outcomes.append(("refused", ""))
            return
        except (http.client.HTTPException, ConnectionError) as error:  # accepted, then no answer
            outcomes.append(("dropped", repr(error)))
            return
        else:
            outcomes.append(("ok", answer["message"]["id"]))


async def _close_code(socket: WebSocket, timeout: float) -> str:
    try:
        while True:
            await asyncio.wait_for(socket.recv(), timeout)
    except WebSocketClosedError as closed:
        return f"close {closed.code}"
    except (ConnectionError, asyncio.IncompleteReadError):
        return "dropped without a close frame"


def test_sigterm_answers_requests_in_flight_and_closes_sockets_with_1001(
    draining_server: ChatServer, transactional_db
) -> None:
    server = draining_server
    alice, bob = UserFactory(), UserFactory()
    tokens = token_for(alice), token_for(bob)
    room = api_post(server, tokens[0], "room/create", {"type": "group", "name": "load", "participants": [bob.pk]})
    room_id = room["room"]["id"]

    async def scenario() -> tuple[str, float, list[tuple[str, str]]]:
        url = f"ws://127.0.0.1:{server.port}/ws/chat/v1/stream?client_id=drain"
        socket = await WebSocket.connect(url, headers={"Authorization": f"Token {tokens[1]}"})
        await socket.recv()  # connected
        outcomes: list[tuple[str, str]] = []
        senders = [
            threading.Thread(target=_send_until_refused, args=(server, tokens[0], room_id, outcomes))
            for _ in range(SENDERS)
        ]
        for sender in senders:
            sender.start()
        await asyncio.sleep(1.5)  # a steady load: requests are in flight when the signal comes
        assert server.web is not None
        signalled = time.monotonic()
        server.web.send_signal(signal.SIGTERM)
        ended = await _close_code(socket, timeout=GRACE_SECONDS + 5)
        await asyncio.get_running_loop().run_in_executor(None, server.web.wait, GRACE_SECONDS + 10)
        exited = time.monotonic() - signalled
        for sender in senders:
            sender.join(30)
        return ended, exited, outcomes

    ended, exited, outcomes = asyncio.run(scenario())
    server.web = None  # it exited by itself

    assert ended == "close 1001"
    assert exited < GRACE_SECONDS + 5
    assert [o for o in outcomes if o[0] == "dropped"] == []
    assert [o for o in outcomes if o[0] == "http"] == []
    sent = [value for kind, value in outcomes if kind == "ok"]
    assert len(sent) > SENDERS
    stored = {str(m.id) for m in probe.messages(room_id=uuid.UUID(room_id))}
    assert set(sent) <= stored  # every send answered 2xx is stored


def test_sigterm_unregisters_every_socket_from_presence(transactional_db) -> None:
    """The sockets' consumers finish their disconnect (unregistering from presence) before the
    process exits: no user of a drained process stays "online" until the entries' TTL."""
    from streaming.registry import get_registry

    users = [UserFactory() for _ in range(15)]
    tokens = [token_for(user) for user in users]
    per_user = 10  # (at most CHAT_MAX_SOCKETS_PER_USER each)

    async def online() -> int:
        return sum([len(await get_registry().connections(user.pk)) for user in users])

    async def scenario(server: ChatServer) -> tuple[int, int]:
        url = f"ws://127.0.0.1:{server.port}/ws/chat/v1/stream?client_id=presence"
        sockets = [
            await WebSocket.connect(url, headers={"Authorization": f"Token {token}"})
            for token in tokens
            for _ in range(per_user)
        ]
        for socket in sockets:
            await socket.recv()  # connected: registered
        registered = await online()
        assert server.web is not None
        server.web.send_signal(signal.SIGTERM)
        await asyncio.gather(*(_close_code(socket, timeout=GRACE_SECONDS + 5) for socket in sockets))
        await asyncio.get_running_loop().run_in_executor(None, server.web.wait, GRACE_SECONDS + 10)
        return registered, await online()

    with started_server(CHAT_SHUTDOWN_GRACE_SECONDS=str(GRACE_SECONDS)) as server:
        registered, left = asyncio.run(scenario(server))
        server.web = None  # it exited by itself
    assert registered == len(users) * per_user
    assert left == 0
