"""Opening a stream: refusals with their close codes, heartbeats, the registry, client frames."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from channels.testing import WebsocketCommunicator

from chatproject.asgi import application
from streaming.registry import get_registry
from tests.factories import UserFactory
from tests.streaming.helpers import StreamClient, create_group, make_users, rest

pytestmark = pytest.mark.django_db(transaction=True)


async def test_without_client_id_the_socket_gets_an_error_and_close_4000() -> None:
    user = await rest(UserFactory)()
    socket = await StreamClient.open(user, client_id=None)
    assert await socket.wait_closed() == 4000
    assert socket.frames == [
        {"error": {"code": "client_id_needed", "message": "The client_id query parameter is required.", "details": ""}}
    ]


async def test_without_valid_credentials_the_socket_gets_an_error_and_close_4001() -> None:
    anonymous = await StreamClient.open(None)
    assert await anonymous.wait_closed() == 4001
    assert anonymous.frames[0]["error"]["code"] == "invalid_token"

    user = await rest(UserFactory)()
    forged = await StreamClient.open(user, token="not-a-token")
    assert await forged.wait_closed() == 4001


async def test_a_token_in_the_url_is_not_accepted() -> None:
    from tests.factories import token_for

    user = await rest(UserFactory)()
    key = await rest(token_for)(user)
    communicator = WebsocketCommunicator(application, f"/ws/chat/v1/stream?client_id=c&token={key}")
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    socket = StreamClient(communicator)
    assert await socket.wait_closed() == 4001


async def test_a_room_the_user_is_not_in_closes_4003_without_revealing_it() -> None:
    alice, bob, mallory = await rest(make_users)(3)
    room = await rest(create_group)(alice, [bob], "private")
    intruder = await StreamClient.open(mallory, room_id=room["id"])
    assert await intruder.wait_closed() == 4003
    assert intruder.frames[0]["error"]["code"] == "not_found"
    unknown = await StreamClient.open(mallory, room_id=uuid.uuid4())
    assert await unknown.wait_closed() == 4003
    assert unknown.frames == intruder.frames
    garbage = await StreamClient.open(mallory, room_id="not-a-uuid")
    assert await garbage.wait_closed() == 4003


async def test_a_member_may_stream_one_room() -> None:
    alice, bob = await rest(make_users)(2)
    room = await rest(create_group)(alice, [bob], "mine")
    socket = await StreamClient.open(bob, room_id=room["id"])
    try:
        assert (await socket.wait_for(lambda f: "connected" in f)) == {"connected": True}
        assert socket.close_code is None
    finally:
        await socket.close()


async def test_connected_at_once_then_heartbeats_and_the_registry_knows_the_socket() -> None:
    user = await rest(UserFactory)()
    socket = await StreamClient.open(user)
    try:
        assert (await socket.wait_for(lambda f: True, timeout=2)) == {"connected": True}
        await socket.collect(2.6)  # the suite's heartbeat is 1 s
        assert sum(1 for f in socket.frames if f == {"connected": True}) >= 3
        assert get_registry().online_users([user.pk, user.pk + 1000]) == {user.pk}
        assert len(await get_registry().connections(user.pk)) == 1
    finally:
        await socket.close()
    await asyncio.sleep(0.1)
    assert get_registry().online_users([user.pk]) == set()


async def test_a_consumer_the_server_kills_without_a_disconnect_still_leaves_the_registry() -> None:
    """daphne cancels an application that did not end within application_close_timeout of its
    client leaving (a connect stuck on a dependency): its socket must not stay "online" for the TTL."""
    user = await rest(UserFactory)()
    socket = await StreamClient.open(user)
    assert (await socket.wait_for(lambda f: True, timeout=2)) == {"connected": True}
    assert get_registry().online_users([user.pk]) == {user.pk}
    socket.communicator.future.cancel()  # what daphne's application_checker does: no websocket.disconnect
    with pytest.raises(asyncio.CancelledError):
        await socket.communicator.future
    for _ in range(50):
        if not get_registry().online_users([user.pk]):
            break
        await asyncio.sleep(0.02)
    assert get_registry().online_users([user.pk]) == set()
    assert await get_registry().connections(user.pk) == []


async def test_malformed_and_unknown_client_frames_get_an_error_and_the_socket_stays() -> None:
    user = await rest(UserFactory)()
    socket = await StreamClient.open(user)
    try:
        await socket.wait_for(lambda f: "connected" in f)
        await socket.communicator.send_to(text_data="{not json")
        assert (await socket.wait_for(lambda f: "error" in f))["error"]["code"] == "invalid_request_data"
        await socket.send({"dance": True})
        await socket.send({"typing": {"room_id": "nope"}})
        await socket.collect(0.5)
        assert sum(1 for f in socket.frames if "error" in f) == 3
        await socket.send({"ping": "still there?"})
        assert (await socket.wait_for(lambda f: "pong" in f))["pong"] == "still there?"
    finally:
        await socket.close()
