"""A connection gets only what REST would show its user: an edit or a reaction (`update_message`,
which carries the whole message) reaches neither a member who joined after the message nor a p2p
partner it is hidden from (sent while they blocked its sender), live or replayed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.streaming.helpers import (
    StreamClient,
    _ok,
    add_members,
    client_for,
    create_group,
    create_p2p,
    make_users,
    rest,
    send_text,
)

pytestmark = pytest.mark.django_db(transaction=True)


def edit(user: Any, message_id: str, text: str) -> dict[str, Any]:
    body = {"message_id": message_id, "new_text": text}
    return _ok(client_for(user).post("/api/chat/v1/edit", body, format="json"))


def react(user: Any, message_id: str, reaction: str) -> dict[str, Any]:
    body = {"message_id": message_id, "reaction": reaction}
    return _ok(client_for(user).post("/api/chat/v1/react", body, format="json"))


def block(user: Any, room_id: str) -> dict[str, Any]:
    return _ok(client_for(user).post("/api/chat/v1/room/block", {"id": room_id}, format="json"))


def updated_ids(socket: StreamClient) -> list[str]:
    return [f["update_message"]["id"] for f in socket.events("update_message")]


def leaked(socket: StreamClient, secret: str) -> list[str]:
    return [text for text in socket.texts if secret in text]


async def test_edits_and_reactions_of_a_message_from_before_a_join_do_not_reach_the_new_member(bridge) -> None:
    bridge()
    alice, bob, carol = await rest(make_users)(3)
    room = await rest(create_group)(alice, [bob], "team")
    before = await rest(send_text)(alice, room["id"], "said before carol joined")
    await rest(add_members)(alice, room["id"], [carol])
    bob_socket = await StreamClient.open(bob)
    carol_socket = await StreamClient.open(carol)
    try:
        for socket in (bob_socket, carol_socket):
            await socket.wait_for(lambda f: f.get("connected") is True)
        await rest(edit)(alice, before["id"], "edited before carol joined")
        await rest(react)(bob, before["id"], "👍")
        after = await rest(send_text)(alice, room["id"], "said after")
        await rest(edit)(alice, after["id"], "edited after")

        # Bob saw both messages: he gets every update. Carol gets the later message's only.
        await bob_socket.wait_for(lambda f: (f.get("update_message") or {}).get("id") == after["id"])
        await carol_socket.wait_for(lambda f: (f.get("update_message") or {}).get("id") == after["id"])
        assert updated_ids(bob_socket) == [before["id"], before["id"], after["id"]]
        assert updated_ids(carol_socket) == [after["id"]]
        assert leaked(carol_socket, "before carol joined") == []
    finally:
        await bob_socket.close()
        await carol_socket.close()

    # A replay covering the updates (from before the first; the stream's start, cursor 0, may be
    # trimmed away by now) applies the same rule.
    first = min(int(f["cursor"]) for f in bob_socket.events("update_message"))
    replay = await StreamClient.open(carol, cursor=first - 1)
    try:
        await replay.wait_for(lambda f: (f.get("update_message") or {}).get("id") == after["id"])
        await replay.collect(0.5)
        assert updated_ids(replay) == [after["id"]]
        assert leaked(replay, "before carol joined") == []
    finally:
        await replay.close()


async def test_edits_of_a_message_hidden_from_a_blocking_partner_do_not_reach_them(bridge) -> None:
    bridge()
    alice, bob = await rest(make_users)(2)
    room = await rest(create_p2p)(alice, bob)
    seen = await rest(send_text)(alice, room["id"], "before the block")
    await rest(block)(bob, room["id"])
    hidden = await rest(send_text)(alice, room["id"], "while blocked")
    alice_socket = await StreamClient.open(alice)
    bob_socket = await StreamClient.open(bob)
    try:
        for socket in (alice_socket, bob_socket):
            await socket.wait_for(lambda f: f.get("connected") is True)
        await rest(edit)(alice, hidden["id"], "edited while blocked")
        await rest(react)(alice, hidden["id"], "🔥")
        await rest(edit)(alice, seen["id"], "edited, seen by both")

        await alice_socket.wait_for(lambda f: (f.get("update_message") or {}).get("id") == seen["id"])
        await bob_socket.wait_for(lambda f: (f.get("update_message") or {}).get("id") == seen["id"])
        assert updated_ids(alice_socket) == [hidden["id"], hidden["id"], seen["id"]]
        assert updated_ids(bob_socket) == [seen["id"]]
        assert leaked(bob_socket, "while blocked") == []
    finally:
        await alice_socket.close()
        await bob_socket.close()

    first = min(int(f["cursor"]) for f in alice_socket.events("update_message"))
    replay = await StreamClient.open(bob, cursor=first - 1)
    try:
        await replay.wait_for(lambda f: (f.get("update_message") or {}).get("id") == seen["id"])
        await replay.collect(0.5)
        assert leaked(replay, "while blocked") == []
    finally:
        await replay.close()
