"""Fan-out: a frame's text is encoded once per event (by the bridge, or replay) and sent as it is."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import channels.consumer
import pytest
from channels.layers import get_channel_layer

from streaming.bridge import Bridge
from streaming.envelope import (
    GROUP_MESSAGE_TYPE,
    StreamItem,
    decode_envelope,
    encode_envelope,
    frame_text_with_room,
    routing_view,
)
from tests.streaming.helpers import StreamClient, create_group, make_users, message_text, rest, send_text


@dataclass
class FakeReply:
    headers: dict[str, str] = field(default_factory=lambda: {"Status": "404"})
    data: bytes = b""


class FakeNats:
    """Enough of a NATS client for Bridge._on_event: no event before the first one (404)."""

    def jetstream(self) -> None:
        return None

    async def request(self, subject: str, payload: bytes, timeout: float) -> FakeReply:
        return FakeReply()


@dataclass
class FakeSequence:
    stream: int


@dataclass
class FakeMetadata:
    sequence: FakeSequence
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class FakeMsg:
    subject: str
    data: bytes
    metadata: FakeMetadata
    acked: bool = False

    async def ack(self) -> None:
        self.acked = True


class RecordingLayer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self.sent.append((group, message))


def the_old_frame(event: dict[str, Any], seq: int, room: Any = None) -> str:
    """The frame text a socket encoded for itself before (send_json of the event, room, cursor)."""
    frame = dict(event)
    if room is not None:
        frame["room"] = room
    frame["cursor"] = str(seq)
    return json.dumps(frame)


async def test_the_bridge_puts_the_encoded_frame_and_the_routing_fields_in_the_group_message() -> None:
    room_id = str(uuid.uuid4())
    data = {
        "event_id": str(uuid.uuid4()),
        "room_id": room_id,
        "message": {
            "id": "m1",
            "room_id": room_id,
            "text": "héllo ✓",
            "location_latitude": 52.52,
            "mentions": [{"tag": "@bo"}],
        },
    }
    msg = FakeMsg(
        f"CHAT_EVENTS.{room_id}", encode_envelope(actor_user_id="3", data=data), FakeMetadata(FakeSequence(7))
    )
    layer = RecordingLayer()
    bridge = Bridge(FakeNats(), channel_layer=layer)  # type: ignore[arg-type]

    await bridge._on_event(msg)  # type: ignore[arg-type]

    assert msg.acked
    ((group, message),) = layer.sent
    assert group == f"room.{room_id}"
    assert message["type"] == GROUP_MESSAGE_TYPE
    assert "event" not in message  # the whole event is not sent again next to its text
    assert message["text"] == the_old_frame(decode_envelope(msg.data).event, 7)
    assert json.loads(message["text"])["message"]["text"] == "héllo ✓"
    assert message["view"] == {"event_id": data["event_id"], "room_id": room_id, "message": True}
    assert (message["seq"], message["prev"], message["actor"], message["chained"]) == (7, 0, "3", True)


def test_the_routing_view_keeps_what_the_rules_read_and_nothing_else() -> None:
    base = {"event_id": "e", "room_id": "r"}
    sent = {**base, "status_update": {"status": "SENT", "sender_id": "7", "message_id": "m", "updated_at": "t"}}
    assert routing_view(sent) == {**base, "status_update": {"status": "SENT", "sender_id": "7"}}
    join = {**base, "room_join": {"user_id": "4", "room_id": "r"}, "room": {"id": "r", "name": "x"}}
    assert routing_view(join) == {**base, "room_join": {"user_id": "4"}}
    leave = {**base, "room_leave": {"users_id": ["4", "5"], "room_id": "r"}}
    assert routing_view(leave) == {**base, "room_leave": {"users_id": ["4", "5"]}}
    assert routing_view({**base, "is_room_updated": True}) == {**base, "is_room_updated": True}
    assert routing_view({**base, "delete_message": "m"}) == {**base, "delete_message": True}
    assert routing_view({"room_id": ""}) == {"event_id": "", "room_id": ""}


@pytest.mark.parametrize(
    "event",
    [
        {"event_id": "e", "room_id": "r", "is_room_updated": True},
        {"room": {"id": "old", "name": "before"}, "room_id": "r", "event_id": "e", "room_join": {"user_id": "1"}},
        {"event_id": "é", "room_id": "r", "room_join": {"user_id": "1", "score": 0.1, "n": None}},
    ],
)
def test_a_frame_with_the_room_attached_is_byte_identical_to_the_old_encoding(event: dict[str, Any]) -> None:
    room = {"id": "r", "name": "Ünïcode ✓", "unread": 3, "ratio": 1e-7, "members": [1, 2], "muted": False}
    item = StreamItem.of_event(subject="CHAT_EVENTS.r", seq=42, prev=None, actor_user_id="1", event=event)

    assert item.text == the_old_frame(event, 42)
    assert frame_text_with_room(item.text, room) == the_old_frame(event, 42, room)


def test_a_group_message_of_a_previous_bridge_still_gives_the_same_frame() -> None:
    event = {"event_id": "e", "room_id": "r", "delete_message": "m"}
    old = {"type": GROUP_MESSAGE_TYPE, "subject": "CHAT_EVENTS.r", "seq": 5, "prev": 4, "actor": "1", "event": event}
    item = StreamItem.from_group_message(old)
    assert (item.text, item.view, item.prev, item.chained) == (the_old_frame(event, 5), routing_view(event), 4, True)


@pytest.mark.django_db(transaction=True)
async def test_a_socket_sends_the_group_messages_text_as_it_is() -> None:
    """The text is deliberately not what json.dumps makes: a socket that re-encoded would change it."""
    alice, bob = await rest(make_users)(2)
    room = await rest(create_group)(alice, [bob], "as is")
    socket = await StreamClient.open(bob)
    try:
        await socket.wait_for(lambda f: f.get("connected") is True)
        event = {"event_id": str(uuid.uuid4()), "room_id": room["id"], "message": {"text": "verbatim"}}
        ids = f'"event_id":"{event["event_id"]}","room_id":"{room["id"]}"'
        text = "{" + ids + ',"message":{"text":"verbatim"},"cursor":"999999"}'
        item = StreamItem(f"CHAT_EVENTS.{room['id']}", 999_999, None, str(alice.pk), routing_view(event), text)
        await get_channel_layer().group_send(f"room.{room['id']}", item.group_message())
        await socket.wait_for(lambda f: message_text(f) == "verbatim")
        assert socket.texts[-1] == text
    finally:
        await socket.close()


@pytest.mark.django_db(transaction=True)
async def test_live_and_replayed_frames_are_the_same_text(bridge: Any) -> None:
    bridge()
    alice, bob = await rest(make_users)(2)
    room = await rest(create_group)(alice, [bob], "same text")
    live = await StreamClient.open(bob)
    try:
        await live.wait_for(lambda f: f.get("connected") is True)
        await rest(send_text)(alice, room["id"], "first")
        first = await live.wait_for(lambda f: message_text(f) == "first")
        for text in ("second", "third ✓"):
            await rest(send_text)(alice, room["id"], text)
        await live.wait_for(lambda f: message_text(f) == "third ✓")
    finally:
        await live.close()

    again = await StreamClient.open(bob, cursor=first["cursor"])
    try:
        third = await again.wait_for(lambda f: message_text(f) == "third ✓")

        def events_up_to_third(socket: StreamClient, start: int) -> list[str]:
            end = next(i for i, f in enumerate(socket.frames) if f.get("cursor") == third["cursor"])
            window = zip(socket.texts[start : end + 1], socket.frames[start : end + 1], strict=True)
            return [text for text, frame in window if "cursor" in frame]

        replayed = events_up_to_third(again, 0)
        assert replayed == events_up_to_third(live, live.frames.index(first) + 1)
        assert len(replayed) >= 2
    finally:
        await again.close()


@pytest.mark.django_db(transaction=True)
async def test_a_live_event_costs_a_socket_no_thread_hop(monkeypatch: Any) -> None:
    """channels sweeps stale database connections in a thread before every message it dispatches;
    a live event reaches many sockets at once, and the consumer reaches the database through
    db_async only (which sweeps around every call)."""
    sweeps = 0

    async def counting_sweep() -> None:
        nonlocal sweeps
        sweeps += 1

    alice, bob = await rest(make_users)(2)
    room = await rest(create_group)(alice, [bob], "no hop")
    socket = await StreamClient.open(bob)
    try:
        await socket.wait_for(lambda f: f.get("connected") is True)
        monkeypatch.setattr(channels.consumer, "aclose_old_connections", counting_sweep)
        event = {"event_id": str(uuid.uuid4()), "room_id": room["id"], "message": {"text": "no hop"}}
        item = StreamItem.of_event(
            subject=f"CHAT_EVENTS.{room['id']}", seq=999_999, prev=None, actor_user_id=str(alice.pk), event=event
        )
        await get_channel_layer().group_send(f"room.{room['id']}", item.group_message())
        await socket.wait_for(lambda f: message_text(f) == "no hop")
        assert sweeps == 0
        await socket.send({"ping": 1})  # client frames still get channels' sweep
        await socket.wait_for(lambda f: "pong" in f)
        assert sweeps == 1
    finally:
        await socket.close()
