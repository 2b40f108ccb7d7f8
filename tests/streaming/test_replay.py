"""Cursors: reconnect replay, the replay→live switch, resync_required, and gap repair."""

from __future__ import annotations

import asyncio
import json
import threading

import nats
import pytest
from channels.layers import get_channel_layer
from django.conf import settings

from streaming.envelope import StreamItem, decode_envelope
from streaming.jetstream import STREAM_NAME
from tests.streaming.helpers import (
    StreamClient,
    add_members,
    create_group,
    make_users,
    message_text,
    message_texts,
    remove_members,
    rest,
    send_text,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def _stored_items(subject: str, *, count: int, timeout: float = 10.0) -> list[StreamItem]:
    """The first `count` events stored on `subject`, read straight from JetStream."""
    nc = await nats.connect(settings.NATS_URL)
    try:
        js = nc.jetstream()
        items: list[StreamItem] = []
        deadline = asyncio.get_running_loop().time() + timeout
        while len(items) < count:
            after = items[-1].seq if items else 0
            try:
                raw = await js.get_msg(STREAM_NAME, seq=after + 1, subject=subject, next=True)
            except nats.js.errors.NotFoundError:
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"only {len(items)} events on {subject}") from None
                await asyncio.sleep(0.05)
                continue
            envelope = decode_envelope(raw.data)
            items.append(
                StreamItem.of_event(
                    subject=raw.subject,
                    seq=raw.seq,
                    prev=after or None,
                    actor_user_id=envelope.actor_user_id,
                    event=envelope.event,
                )
            )
        return items
    finally:
        await nc.close()


async def test_a_reconnect_with_a_cursor_replays_exactly_what_was_missed_then_goes_live(bridge) -> None:
    bridge()
    alice, bob = await rest(make_users)(2)
    room = await rest(create_group)(alice, [bob], "replay")
    bob_socket = await StreamClient.open(bob)
    await bob_socket.wait_for(lambda f: f.get("connected") is True)
    await rest(send_text)(alice, room["id"], "seen 1")
    seen = await bob_socket.wait_for(lambda f: message_text(f) == "seen 1")
    await bob_socket.close()

    for i in range(5):
        await rest(send_text)(alice, room["id"], f"missed {i}")

    again = await StreamClient.open(bob, cursor=seen["cursor"])
    try:
        await again.wait_for(lambda f: message_text(f) == "missed 4")
        await rest(send_text)(alice, room["id"], "live 1")
        await again.wait_for(lambda f: message_text(f) == "live 1")
        await again.collect(0.5)
        assert message_texts(again.frames) == [f"missed {i}" for i in range(5)] + ["live 1"]
        assert again.frames[0] == {"connected": True}
        cursors = [int(f["cursor"]) for f in again.frames if "cursor" in f]
        assert cursors == sorted(cursors) and len(cursors) == len(set(cursors))
        assert min(cursors) > int(seen["cursor"])
        # Alice's SENT statuses are not Bob's: the replay applies the same rules as live delivery.
        assert not [f for f in again.frames if (f.get("status_update") or {}).get("status") == "SENT"]
    finally:
        await again.close()


async def test_events_racing_a_reconnect_arrive_once_and_in_order(bridge) -> None:
    bridge()
    alice, bob = await rest(make_users)(2)
    room = await rest(create_group)(alice, [bob], "race")
    bob_socket = await StreamClient.open(bob)
    await bob_socket.wait_for(lambda f: f.get("connected") is True)
    await rest(send_text)(alice, room["id"], "m -1")
    seen = await bob_socket.wait_for(lambda f: message_text(f) == "m -1")
    await bob_socket.close()

    total = 30
    sender_done = threading.Event()

    def send_many() -> None:
        from django.db import connection

        try:
            for i in range(total):
                send_text(alice, room["id"], f"m {i}")
        finally:
            connection.close()
            sender_done.set()

    sender = threading.Thread(target=send_many)
    sender.start()
    await asyncio.sleep(0.3)  # some are sent before the reconnect, some during the replay, some after
    again = await StreamClient.open(bob, cursor=seen["cursor"])
    try:
        await again.wait_for(lambda f: message_text(f) == f"m {total - 1}", timeout=30)
        await asyncio.get_running_loop().run_in_executor(None, sender.join, 10)
        await again.collect(0.5)
        assert message_texts(again.frames) == [f"m {i}" for i in range(total)]
    finally:
        await again.close()


async def test_a_cursor_the_stream_no_longer_covers_gets_resync_required(bridge) -> None:
    bridge()
    alice, bob = await rest(make_users)(2)
    room = await rest(create_group)(alice, [bob], "old")
    bob_socket = await StreamClient.open(bob)
    await bob_socket.wait_for(lambda f: f.get("connected") is True)
    await rest(send_text)(alice, room["id"], "old news")
    seen = await bob_socket.wait_for(lambda f: message_text(f) == "old news")
    await bob_socket.close()
    await rest(send_text)(alice, room["id"], "newer")
    newer = await _stored_items(f"CHAT_EVENTS.{room['id']}", count=4)  # (status SENT, message) x 2
    last = max(i.seq for i in newer)

    nc = await nats.connect(settings.NATS_URL)
    try:  # retention moves the stream's first sequence past the cursor
        await nc.jetstream().purge_stream(STREAM_NAME, seq=int(seen["cursor"]) + 2)
    finally:
        await nc.close()

    stale = await StreamClient.open(bob, cursor=seen["cursor"])
    future = await StreamClient.open(bob, cursor=last + 10_000, client_id="other")
    garbage = await StreamClient.open(bob, cursor="yesterday", client_id="third")
    try:
        for socket in (stale, future, garbage):
            error = await socket.wait_for(lambda f: "error" in f)
            assert error["error"]["code"] == "resync_required"
        # The connection stays up and streams live events.
        await rest(send_text)(alice, room["id"], "after resync")
        for socket in (stale, future, garbage):
            await socket.wait_for(lambda f: message_text(f) == "after resync")
    finally:
        for socket in (stale, future, garbage):
            await socket.close()


async def test_a_gap_in_live_delivery_is_replayed_from_jetstream_before_the_next_event() -> None:
    """No bridge here: the test plays the bridge and 'loses' one event on the way to the socket."""
    alice, bob = await rest(make_users)(2)
    room = await rest(create_group)(alice, [bob], "gappy")
    subject = f"CHAT_EVENTS.{room['id']}"
    bob_socket = await StreamClient.open(bob)
    try:
        await bob_socket.wait_for(lambda f: f.get("connected") is True)
        for text in ("one", "two", "three"):
            await rest(send_text)(alice, room["id"], text)
        items = await _stored_items(subject, count=6)  # (status SENT, message) x 3
        messages = [i for i in items if "message" in i.view]
        assert [json.loads(m.text)["message"]["text"] for m in messages] == ["one", "two", "three"]

        layer = get_channel_layer()
        group = f"room.{room['id']}"
        await layer.group_send(group, messages[0].group_message())
        await bob_socket.wait_for(lambda f: message_text(f) == "one")
        # "two" (and its status) is lost; "three" names the previous event of its subject.
        await layer.group_send(group, messages[2].group_message())
        await bob_socket.wait_for(lambda f: message_text(f) == "three")
        assert message_texts(bob_socket.frames) == ["one", "two", "three"]
        # A late duplicate of a replayed event is dropped.
        await layer.group_send(group, messages[1].group_message())
        await bob_socket.collect(0.5)
        assert message_texts(bob_socket.frames) == ["one", "two", "three"]
    finally:
        await bob_socket.close()


async def test_a_replay_does_not_show_a_room_from_before_the_user_joined_it(bridge) -> None:
    bridge()
    alice, bob, carol = await rest(make_users)(3)
    own = await rest(create_group)(alice, [bob], "own")
    later = await rest(create_group)(alice, [carol], "later")
    bob_socket = await StreamClient.open(bob)
    await bob_socket.wait_for(lambda f: f.get("connected") is True)
    await rest(send_text)(alice, own["id"], "cursor here")
    seen = await bob_socket.wait_for(lambda f: message_text(f) == "cursor here")
    await bob_socket.close()

    await rest(send_text)(alice, later["id"], "before bob")
    await rest(add_members)(alice, later["id"], [bob])
    await rest(send_text)(alice, later["id"], "after bob")

    again = await StreamClient.open(bob, cursor=seen["cursor"])
    try:
        await again.wait_for(lambda f: message_text(f) == "after bob")
        await again.collect(0.5)
        texts = message_texts(again.frames)
        assert "before bob" not in texts and texts[-1] == "after bob"
        join = [f for f in again.frames if "room_join" in f]
        assert join and join[0]["room"]["id"] == later["id"]
    finally:
        await again.close()


def test_replay_frames_keep_proto_field_names() -> None:
    event = {"event_id": "e", "room_id": "r", "delete_message": "m"}
    item = StreamItem.of_event(subject="CHAT_EVENTS.r", seq=5, prev=4, actor_user_id="1", event=event)

    assert item.text == '{"event_id": "e", "room_id": "r", "delete_message": "m", "cursor": "5"}'


async def test_a_removal_while_away_is_replayed_and_the_room_is_hidden_after_it(bridge) -> None:
    bridge()
    alice, bob = await rest(make_users)(2)
    removed_from = await rest(create_group)(alice, [bob], "removed while away")
    left_earlier = await rest(create_group)(alice, [bob], "left before the cursor")
    await rest(remove_members)(bob, left_earlier["id"], [bob])
    bob_socket = await StreamClient.open(bob)
    await bob_socket.wait_for(lambda f: f.get("connected") is True)
    await rest(send_text)(alice, removed_from["id"], "before")
    seen = await bob_socket.wait_for(lambda f: message_text(f) == "before")
    await bob_socket.close()

    await rest(send_text)(alice, removed_from["id"], "still a member")
    await rest(remove_members)(alice, removed_from["id"], [bob])
    await rest(send_text)(alice, removed_from["id"], "after removal")
    await rest(send_text)(alice, left_earlier["id"], "in a room left long ago")

    again = await StreamClient.open(bob, cursor=seen["cursor"])
    try:
        leave = await again.wait_for(lambda f: "room_leave" in f and f.get("room_id") == removed_from["id"])
        assert leave["room_leave"]["users_id"] == [str(bob.pk)]
        await again.collect(1.0)
        texts = message_texts(again.frames)
        assert "still a member" in texts
        assert "after removal" not in texts
        assert "in a room left long ago" not in texts
        assert not [f for f in again.frames if f.get("room_id") == left_earlier["id"]]
    finally:
        await again.close()
