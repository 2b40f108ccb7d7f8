"""An open socket closes (4001) once its credential is revoked: its token deleted, its user
deactivated, its session logged out; at once through the user's group, or at the next heartbeat when
the change came without a signal."""

from __future__ import annotations

import binascii
import os
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client
from rest_framework.authtoken.models import Token

from chatproject.asgi import application
from streaming.heartbeat import process_ticker
from tests.streaming.helpers import StreamClient, create_group, make_users, message_text, rest, send_text

pytestmark = pytest.mark.django_db(transaction=True)


async def _assert_revoked(socket: StreamClient) -> None:
    await socket.wait_for(lambda f: (f.get("error") or {}).get("code") == "invalid_token", timeout=5)
    assert await socket.wait_closed(timeout=5) == 4001


async def _open_pair() -> tuple[Any, Any, dict[str, Any], StreamClient, StreamClient]:
    alice, bob = await rest(make_users)(2)
    room = await rest(create_group)(alice, [bob], "team")
    alice_socket = await StreamClient.open(alice)
    bob_socket = await StreamClient.open(bob)
    for socket in (alice_socket, bob_socket):
        await socket.wait_for(lambda f: f.get("connected") is True)
    return alice, bob, room, alice_socket, bob_socket


async def _still_served(user: Any, room: dict[str, Any], socket: StreamClient, text: str) -> None:
    await rest(send_text)(user, room["id"], text)
    await socket.wait_for(lambda f: message_text(f) == text)


async def test_deleting_the_token_closes_its_sockets_at_once(bridge) -> None:
    bridge()
    alice, bob, room, alice_socket, bob_socket = await _open_pair()
    try:
        await rest(lambda: Token.objects.filter(user=bob).delete())()
        await _assert_revoked(bob_socket)
        await _still_served(alice, room, alice_socket, "alice still streams")
    finally:
        await alice_socket.close()
        await bob_socket.close()


async def test_deactivating_the_user_closes_their_sockets(bridge) -> None:
    bridge()
    alice, bob, room, alice_socket, bob_socket = await _open_pair()
    try:

        def deactivate() -> None:
            bob.is_active = False
            bob.save()

        await rest(deactivate)()
        await _assert_revoked(bob_socket)
        await _still_served(alice, room, alice_socket, "alice still streams")
    finally:
        await alice_socket.close()
        await bob_socket.close()


async def test_logging_out_closes_the_sockets_of_that_session_only(bridge) -> None:
    bridge()
    alice, bob, room, alice_socket, bob_socket = await _open_pair()

    def browser() -> Client:
        client = Client()
        client.force_login(bob)
        return client

    web = await rest(browser)()
    cookie = f"sessionid={web.cookies['sessionid'].value}".encode()
    communicator = WebsocketCommunicator(application, "/ws/chat/v1/stream?client_id=web", headers=[(b"cookie", cookie)])
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    web_socket = StreamClient(communicator)
    try:
        await web_socket.wait_for(lambda f: f.get("connected") is True)
        assert (await rest(lambda: web.post("/accounts/logout/"))()).status_code in (200, 302)
        await _assert_revoked(web_socket)
        # Bob's token socket is another credential: it stays.
        await _still_served(alice, room, bob_socket, "bob's phone still streams")
    finally:
        for socket in (alice_socket, bob_socket, web_socket):
            await socket.close()


async def test_a_token_changed_without_a_signal_is_caught_by_the_next_heartbeat(bridge) -> None:
    bridge()
    alice, bob, room, alice_socket, bob_socket = await _open_pair()
    try:
        new_key = binascii.hexlify(os.urandom(20)).decode()
        # A queryset update sends no signal (as a change by another service's SQL would not).
        await rest(lambda: Token.objects.filter(user=bob).update(key=new_key))()
        await _still_served(alice, room, bob_socket, "not yet noticed")
        await process_ticker().tick()
        await _assert_revoked(bob_socket)
        await _still_served(alice, room, alice_socket, "alice still streams")
    finally:
        await alice_socket.close()
        await bob_socket.close()


async def test_a_socket_whose_credential_holds_survives_a_recheck(bridge) -> None:
    bridge()
    alice, bob, room, alice_socket, bob_socket = await _open_pair()
    try:

        def rename() -> None:  # a user save: every socket of the user re-checks, and keeps going
            bob.first_name = "Robert"
            bob.save()

        await rest(rename)()
        await process_ticker().tick()
        await _still_served(alice, room, bob_socket, "bob still streams")
        assert bob_socket.close_code is None
    finally:
        await alice_socket.close()
        await bob_socket.close()
