"""The stream's metrics move at their cause: sockets, deliveries and their latency, replays, gaps,
resync_required, the bridge's forwarding and push (kernel.metrics; read from this process's registry)."""

from __future__ import annotations

import dataclasses
import time
import uuid

import pytest
from channels.layers import get_channel_layer
from prometheus_client import REGISTRY

from streaming.models import PushNotification
from streaming.push import DatabasePushBackend, PushError, deliver
from tests.streaming.helpers import StreamClient, create_group, make_users, message_text, rest, send_text
from tests.streaming.test_replay import _stored_items

pytestmark = pytest.mark.django_db(transaction=True)


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def test_a_delivered_event_counts_and_its_latency_is_observed_and_sockets_are_counted(bridge) -> None:
    bridge()
    alice, bob = await rest(make_users)(2)
    room = await rest(create_group)(alice, [bob], "metered")
    open_before = sample("chat_stream_sockets_open")
    bob_socket = await StreamClient.open(bob)
    try:
        await bob_socket.wait_for(lambda f: f.get("connected") is True)
        assert sample("chat_stream_sockets_open") == open_before + 1
        delivered = sample("chat_stream_events_delivered_total")
        latencies = sample("chat_stream_event_latency_seconds_count")
        await rest(send_text)(alice, room["id"], "counted")
        await bob_socket.wait_for(lambda f: message_text(f) == "counted")
        assert sample("chat_stream_events_delivered_total") == delivered + 1  # bob gets the message only
        assert sample("chat_stream_event_latency_seconds_count") == latencies + 1
        # Stored in JetStream a moment ago: well under the 10 s bucket, above zero.
        assert sample("chat_stream_event_latency_seconds_bucket", {"le": "10.0"}) >= latencies + 1
        assert sample("chat_stream_event_latency_seconds_sum") > 0
    finally:
        await bob_socket.close()
    assert sample("chat_stream_sockets_open") == open_before


async def test_a_gap_counts_a_gap_and_a_gap_replay() -> None:
    """No bridge: the test plays the bridge and loses one event on the way to the socket."""
    alice, bob = await rest(make_users)(2)
    room = await rest(create_group)(alice, [bob], "gappy")
    bob_socket = await StreamClient.open(bob)
    try:
        await bob_socket.wait_for(lambda f: f.get("connected") is True)
        for text in ("one", "two", "three"):
            await rest(send_text)(alice, room["id"], text)
        items = await _stored_items(f"CHAT_EVENTS.{room['id']}", count=6)
        one, _, three = (dataclasses.replace(i, stored_at=time.time()) for i in items if "message" in i.view)
        latencies = sample("chat_stream_event_latency_seconds_count")
        layer = get_channel_layer()
        await layer.group_send(f"room.{room['id']}", one.group_message())
        await bob_socket.wait_for(lambda f: message_text(f) == "one")
        gaps, replays = sample("chat_stream_gaps_total"), sample("chat_stream_replays_total", {"kind": "gap"})
        await layer.group_send(f"room.{room['id']}", three.group_message())
        await bob_socket.wait_for(lambda f: message_text(f) == "three")
        assert sample("chat_stream_gaps_total") == gaps + 1
        assert sample("chat_stream_replays_total", {"kind": "gap"}) == replays + 1
        assert sample("chat_stream_event_latency_seconds_count") == latencies + 2  # live: one, three
    finally:
        await bob_socket.close()


async def test_a_reconnect_counts_a_replay_and_a_bad_cursor_a_resync_required(bridge) -> None:
    bridge()
    alice, bob = await rest(make_users)(2)
    room = await rest(create_group)(alice, [bob], "again")
    first = await StreamClient.open(bob)
    await first.wait_for(lambda f: f.get("connected") is True)
    await rest(send_text)(alice, room["id"], "before")
    seen = await first.wait_for(lambda f: message_text(f) == "before")
    await first.close()
    await rest(send_text)(alice, room["id"], "while away")

    replays = sample("chat_stream_replays_total", {"kind": "reconnect"})
    resyncs = sample("chat_stream_resync_required_total")
    back = await StreamClient.open(bob, cursor=seen["cursor"])
    garbage = await StreamClient.open(bob, cursor="yesterday", client_id="other")
    try:
        await back.wait_for(lambda f: message_text(f) == "while away")
        assert sample("chat_stream_replays_total", {"kind": "reconnect"}) == replays + 1
        error = await garbage.wait_for(lambda f: "error" in f)
        assert error["error"]["code"] == "resync_required"
        assert sample("chat_stream_resync_required_total") == resyncs + 1
    finally:
        await back.close()
        await garbage.close()


class FailingBackend(DatabasePushBackend):
    def send(self, notification: PushNotification) -> None:
        raise PushError("the push service said no")


def test_push_counts_sent_and_failed() -> None:
    alice, bob = make_users(2)
    room = create_group(alice, [bob], "pushy")
    rows = [PushNotification.objects.create(event_id=uuid.uuid4(), user=bob, room_id=room["id"], text=t) for t in "ab"]
    sent, failed = sample("chat_push_sent_total"), sample("chat_push_failed_total")
    assert deliver([rows[0]], backend=DatabasePushBackend()) == [bob.pk]
    assert deliver([rows[1]], backend=FailingBackend()) == []
    assert (sample("chat_push_sent_total"), sample("chat_push_failed_total")) == (sent + 1, failed + 1)
