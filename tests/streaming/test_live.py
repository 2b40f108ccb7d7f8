"""The live stream end to end: REST → outbox → JetStream → bridge (subprocess) → Redis → socket."""

from __future__ import annotations

import asyncio

import pytest

from tests.streaming.helpers import (
    StreamClient,
    add_members,
    create_group,
    make_users,
    mark_read,
    message_text,
    remove_members,
    rest,
    send_text,
)

pytestmark = pytest.mark.django_db(transaction=True)



async def test_a_message_reaches_the_room_and_sent_goes_only_to_the_sender_then_read(bridge) -> None:
    bridge()
    alice, bob = await rest(make_users)(2)
    room = await rest(create_group)(alice, [bob], "team")
    alice_socket = await StreamClient.open(alice, client_id="alice-phone")
    alice_web = await StreamClient.open(alice, client_id="alice-web")
    bob_socket = await StreamClient.open(bob, client_id="bob-phone")
    try:
        for socket in (alice_socket, alice_web, bob_socket):
            await socket.wait_for(lambda f: f.get("connected") is True)

        message = await rest(send_text)(alice, room["id"], "hello bob")

        received = await bob_socket.wait_for(lambda f: "message" in f)
        assert received["room_id"] == room["id"]
        assert received["message"]["id"] == message["id"]
        assert message_text(received) == "hello bob"
        assert received["message"]["sender"]["id"] == str(alice.pk)
        assert int(received["cursor"]) > 0 and received["event_id"]
        for socket in (alice_socket, alice_web):
            sent = await socket.wait_for(lambda f: "status_update" in f)
            assert sent["status_update"]["status"] == "SENT"
            assert sent["status_update"]["message_id"] == message["id"]
            await socket.wait_for(lambda f: "message" in f)

        await rest(mark_read)(bob, room["id"], [message["id"]])
        read = await alice_socket.wait_for(lambda f: (f.get("status_update") or {}).get("status") == "READ")
        assert read["status_update"]["message_id"] == message["id"]
        assert read["status_update"]["user_id"] == str(bob.pk)
        await bob_socket.wait_for(lambda f: (f.get("status_update") or {}).get("status") == "READ")
        # Bob never saw the SENT status of Alice's message.
        assert not [f for f in bob_socket.frames if (f.get("status_update") or {}).get("status") == "SENT"]
        # Every event frame carries a cursor; cursors grow.
        cursors = [int(f["cursor"]) for f in alice_socket.frames if "cursor" in f]
        assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)
    finally:
        for socket in (alice_socket, alice_web, bob_socket):
            await socket.close()


async def test_added_member_streams_the_room_without_reconnecting_and_stops_when_removed(bridge) -> None:
    bridge()
    alice, bob, carol = await rest(make_users)(3)
    room = await rest(create_group)(alice, [carol], "later")
    bob_socket = await StreamClient.open(bob)
    try:
        await bob_socket.wait_for(lambda f: f.get("connected") is True)
        await rest(add_members)(alice, room["id"], [bob])
        joined = await bob_socket.wait_for(lambda f: "room_join" in f)
        assert joined["room_id"] == room["id"]
        assert joined["room"]["id"] == room["id"]  # the room, as Bob sees it
        assert joined["room_join"]["user_id"] == str(bob.pk)

        await rest(send_text)(alice, room["id"], "welcome")
        welcome = await bob_socket.wait_for(lambda f: message_text(f) == "welcome")
        assert welcome["room_id"] == room["id"]

        await rest(remove_members)(alice, room["id"], [bob])
        left = await bob_socket.wait_for(lambda f: "room_leave" in f)
        assert str(bob.pk) in left["room_leave"]["users_id"]

        await rest(send_text)(alice, room["id"], "after you left")
        await rest(send_text)(carol, room["id"], "still here")
        await asyncio.sleep(1.5)
        texts = [message_text(f) for f in bob_socket.frames if "message" in f]
        assert "after you left" not in texts and "still here" not in texts
    finally:
        await bob_socket.close()


async def test_is_room_updated_attaches_the_room_as_each_user_sees_it(bridge) -> None:
    from tests.streaming.helpers import toggle_mute

    bridge()
    alice, bob = await rest(make_users)(2)
    room = await rest(create_group)(alice, [bob], "mutable")
    bob_socket = await StreamClient.open(bob)
    alice_socket = await StreamClient.open(alice)
    try:
        await bob_socket.wait_for(lambda f: f.get("connected") is True)
        await alice_socket.wait_for(lambda f: f.get("connected") is True)
        await rest(toggle_mute)(bob, room["id"])
        bob_view = await bob_socket.wait_for(lambda f: f.get("is_room_updated") is True)
        alice_view = await alice_socket.wait_for(lambda f: f.get("is_room_updated") is True)
        assert bob_view["room"]["id"] == alice_view["room"]["id"] == room["id"]
        assert bob_view["room"]["is_muted"] is True
        assert alice_view["room"]["is_muted"] is False
        assert bob_view["room"]["role"] == "MEMBER" and alice_view["room"]["role"] == "OWNER"
    finally:
        await bob_socket.close()
        await alice_socket.close()


async def test_a_socket_for_one_room_gets_only_that_room(bridge) -> None:
    bridge()
    alice, bob = await rest(make_users)(2)
    first = await rest(create_group)(alice, [bob], "first")
    second = await rest(create_group)(alice, [bob], "second")
    bob_socket = await StreamClient.open(bob, room_id=first["id"])
    try:
        await bob_socket.wait_for(lambda f: f.get("connected") is True)
        await rest(send_text)(alice, second["id"], "elsewhere")
        await rest(send_text)(alice, first["id"], "here")
        await bob_socket.wait_for(lambda f: message_text(f) == "here")
        await asyncio.sleep(0.5)
        assert {f["room_id"] for f in bob_socket.frames if "cursor" in f} == {first["id"]}
    finally:
        await bob_socket.close()


async def test_typing_is_relayed_to_the_room_members_and_rate_limited(bridge) -> None:
    bridge()
    alice, bob, mallory = await rest(make_users)(3)
    room = await rest(create_group)(alice, [bob], "typing")
    alice_socket = await StreamClient.open(alice)
    bob_socket = await StreamClient.open(bob)
    mallory_socket = await StreamClient.open(mallory)
    try:
        for socket in (alice_socket, bob_socket, mallory_socket):
            await socket.wait_for(lambda f: f.get("connected") is True)
        for _ in range(5):
            await alice_socket.send({"typing": {"room_id": room["id"], "is_typing": True}})
        await alice_socket.send({"typing": {"room_id": room["id"], "is_typing": False}})
        typing = await bob_socket.wait_for(lambda f: "typing" in f and f["typing"]["is_typing"] is False)
        assert typing["typing"]["user_id"] == str(alice.pk) and typing["room_id"] == room["id"]
        await asyncio.sleep(0.5)
        assert [f["typing"]["is_typing"] for f in bob_socket.frames if "typing" in f] == [True, False]

        await mallory_socket.send({"typing": {"room_id": room["id"], "is_typing": True}})
        refused = await mallory_socket.wait_for(lambda f: "error" in f)
        assert refused["error"]["code"] == "not_found"

        await bob_socket.send({"ping": 7})
        assert (await bob_socket.wait_for(lambda f: "pong" in f))["pong"] == 7
    finally:
        for socket in (alice_socket, bob_socket, mallory_socket):
            await socket.close()
