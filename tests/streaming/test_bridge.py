"""The bridge as an operator sees it: crashes, NATS outages, partitions, foreign publishers."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator

import nats
import pytest
from django.conf import settings

from events.subjects import room_subject
from streaming import nats_client, publisher
from streaming.bridge import partition_of
from streaming.embedded import EmbeddedNats, free_port
from tests.streaming.conftest import ROOT, subprocess_env
from tests.streaming.helpers import StreamClient, create_group, make_users, message_text, message_texts, rest, send_text

pytestmark = pytest.mark.django_db(transaction=True)


def _send_in_background(user, room_id: str, texts: list[str], pause: float = 0.0) -> threading.Thread:
    def run() -> None:
        from django.db import connection

        try:
            for text in texts:
                send_text(user, room_id, text)
                time.sleep(pause)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


async def _join(thread: threading.Thread) -> None:
    await asyncio.get_running_loop().run_in_executor(None, thread.join, 60)
    assert not thread.is_alive()


async def test_a_bridge_killed_mid_stream_and_restarted_loses_and_duplicates_nothing(bridge) -> None:
    first = bridge()
    alice, bob = await rest(make_users)(2)
    room = await rest(create_group)(alice, [bob], "crash")
    bob_socket = await StreamClient.open(bob)
    try:
        await bob_socket.wait_for(lambda f: f.get("connected") is True)
        texts = [f"m {i}" for i in range(40)]
        sender = _send_in_background(alice, room["id"], texts, pause=0.02)
        await bob_socket.wait_for(lambda f: message_text(f) == "m 8", timeout=20)
        first.kill()  # SIGKILL: no drain, no ack of what was in flight
        await asyncio.sleep(0.5)
        bridge()
        await _join(sender)
        await bob_socket.wait_for(lambda f: message_text(f) == "m 39", timeout=30)
        await bob_socket.collect(0.5)
        assert message_texts(bob_socket.frames) == texts
    finally:
        await bob_socket.close()


async def test_sigterm_drains_and_exits_cleanly(bridge) -> None:
    proc = bridge()
    alice, bob = await rest(make_users)(2)
    room = await rest(create_group)(alice, [bob], "bye")
    bob_socket = await StreamClient.open(bob)
    try:
        await bob_socket.wait_for(lambda f: f.get("connected") is True)
        await rest(send_text)(alice, room["id"], "before shutdown")
        await bob_socket.wait_for(lambda f: message_text(f) == "before shutdown")
        code = await asyncio.get_running_loop().run_in_executor(None, proc.terminate)
        assert code == 0
        assert "stopped after forwarding" in proc.log
    finally:
        await bob_socket.close()


def test_with_nats_unreachable_the_bridge_exits_non_zero_with_a_clear_message() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "chat_bridge"],
        cwd=ROOT,
        env=subprocess_env(NATS_URL="nats://127.0.0.1:1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "cannot connect to NATS at nats://127.0.0.1:1" in result.stderr


async def test_a_second_bridge_for_the_same_partition_is_refused(bridge) -> None:
    bridge()
    with pytest.raises(AssertionError, match="another bridge runs this partition"):
        await asyncio.get_running_loop().run_in_executor(None, lambda: bridge())


async def test_two_bridge_partitions_keep_the_order_of_every_room(bridge) -> None:
    zero, one = bridge(partition=0, partitions=2), bridge(partition=1, partitions=2)
    users = await rest(make_users)(2)
    alice, bob = users
    # Room ids are random: make rooms until each partition owns at least two of them.
    rooms: list[dict] = []
    owned = {0: 0, 1: 0}
    while min(owned.values()) < 2:
        room = await rest(create_group)(alice, [bob], f"room {len(rooms)}")
        rooms.append(room)
        owned[partition_of(room_subject(room["id"]), 2)] += 1
    bob_socket = await StreamClient.open(bob)
    try:
        await bob_socket.wait_for(lambda f: f.get("connected") is True)
        per_room = 12
        senders = [
            _send_in_background(alice, room["id"], [f"{room['id']} {n}" for n in range(per_room)]) for room in rooms
        ]
        for sender in senders:
            await _join(sender)
        for room in rooms:
            await bob_socket.wait_for(lambda f, r=room: message_text(f) == f"{r['id']} {per_room - 1}", timeout=30)
        await bob_socket.collect(0.5)
        for room in rooms:
            assert message_texts(bob_socket.frames, room["id"]) == [f"{room['id']} {n}" for n in range(per_room)]
    finally:
        await bob_socket.close()
    codes = await asyncio.gather(
        *(asyncio.get_running_loop().run_in_executor(None, proc.terminate) for proc in (zero, one))
    )
    assert codes == [0, 0]
    forwarded = [int(proc.log.split("after forwarding ")[1].split()[0]) for proc in (zero, one)]
    assert all(n > 0 for n in forwarded), forwarded  # both partitions carried rooms


# --- an envelope from another publisher (the original service, say) ------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, value: bytes | str | bool) -> bytes:
    """One protobuf field, hand-encoded (wire type 2 for bytes/strings, 0 for bools)."""
    if isinstance(value, bool):
        return _varint(number << 3) + _varint(int(value))
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


async def test_an_envelope_from_an_independent_encoder_is_delivered(bridge) -> None:
    bridge()
    alice, bob = await rest(make_users)(2)
    room = await rest(create_group)(alice, [bob], "foreign")
    bob_socket = await StreamClient.open(bob)
    try:
        await bob_socket.wait_for(lambda f: f.get("connected") is True)
        message_id, event_id = str(uuid.uuid4()), str(uuid.uuid4())
        sender = _field(1, str(alice.pk)) + _field(2, "Alice (Go)")
        data = (
            _field(1, message_id)
            + _field(2, room["id"])
            + _field(3, sender)
            + _field(9, "SENT")
            + _field(12, "user_message")
            + _field(13, True)  # edited
            + _field(28, "héllo from the original")
        )
        payload = _field(2, room["id"]) + _field(3, event_id) + _field(4, data)
        envelope = json.dumps({"user_id": alice.pk, "payload": base64.b64encode(payload).decode()})
        nc = await nats.connect(settings.NATS_URL)
        try:
            await nc.jetstream().publish(
                f"CHAT_EVENTS.{room['id']}", envelope.encode(), headers={"Nats-Msg-Id": event_id}
            )
        finally:
            await nc.close()
        frame = await bob_socket.wait_for(lambda f: "message" in f)
        assert frame["event_id"] == event_id and frame["room_id"] == room["id"]
        message = frame["message"]
        assert message["id"] == message_id
        assert message["sender"] == {"id": str(alice.pk), "name": "Alice (Go)", "avatar": "", "phone": ""}
        assert message["text"] == "héllo from the original"
        assert message["status"] == "SENT" and message["type"] == "user_message"
        assert message["edited"] is True and message["is_deleted"] is False
    finally:
        await bob_socket.close()


# --- NATS down ---------------------------------------------------------------------------------


@pytest.fixture
def restartable_nats(settings) -> Iterator[EmbeddedNats]:
    """A nats-server of this test's own (never the shared one), which the test may stop and start."""
    data_dir = tempfile.mkdtemp(prefix="chat-test-nats-restart-")
    server = EmbeddedNats(data_dir=data_dir, port=free_port())
    settings.NATS_URL = server.start()
    publisher.stop_publisher()
    nats_client.forget_connections()
    try:
        yield server
    finally:
        publisher.stop_publisher()
        nats_client.forget_connections()
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


async def test_with_nats_stopped_sends_succeed_and_everything_arrives_once_it_is_back(
    restartable_nats: EmbeddedNats, bridge
) -> None:
    bridge(extra=["--relay"])
    alice, bob = await rest(make_users)(2)
    room = await rest(create_group)(alice, [bob], "outage")
    bob_socket = await StreamClient.open(bob)
    try:
        await bob_socket.wait_for(lambda f: f.get("connected") is True)
        await rest(send_text)(alice, room["id"], "before")
        await bob_socket.wait_for(lambda f: message_text(f) == "before")

        url = restartable_nats.url
        await asyncio.get_running_loop().run_in_executor(None, restartable_nats.stop)
        during = [f"during {i}" for i in range(5)]
        started = time.monotonic()
        for text in during:
            await rest(send_text)(alice, room["id"], text)  # the API answers; events wait in the outbox
        assert time.monotonic() - started < 5
        await asyncio.sleep(1)
        assert restartable_nats.start() == url

        await bob_socket.wait_for(lambda f: message_text(f) == "during 4", timeout=60)
        await rest(send_text)(alice, room["id"], "after")
        await bob_socket.wait_for(lambda f: message_text(f) == "after", timeout=30)
        await bob_socket.collect(0.5)
        assert message_texts(bob_socket.frames) == ["before", *during, "after"]
    finally:
        await bob_socket.close()


def test_nats_server_binary_comes_from_the_wheel() -> None:
    from streaming.embedded import nats_server_binary

    path = nats_server_binary()
    assert os.access(path, os.X_OK)
    assert "nats-server" in path


async def test_a_restarted_bridge_resumes_in_order_at_the_first_unacked_event() -> None:
    """A dead bridge's unacked events come first, in order, at once (not after the ack wait)."""
    from channels.layers import get_channel_layer
    from nats.js import api

    from streaming.bridge import Bridge, durable_name
    from streaming.envelope import encode_envelope
    from streaming.jetstream import STREAM_NAME, connect, ensure_stream

    room_id = str(uuid.uuid4())
    subject = f"CHAT_EVENTS.{room_id}"
    prefix = f"resume-{uuid.uuid4().hex[:6]}"
    nc = await connect(name="test-resume")
    js = nc.jetstream()
    await ensure_stream(js)
    # The "dead" bridge: its durable received three events and acked only the first.
    inbox = nc.new_inbox()
    await js.add_consumer(
        STREAM_NAME,
        api.ConsumerConfig(
            durable_name=durable_name(prefix, 0, 1),
            deliver_policy=api.DeliverPolicy.NEW,
            ack_policy=api.AckPolicy.EXPLICIT,
            deliver_subject=inbox,
            ack_wait=30,
        ),
    )
    dead = await nc.subscribe(inbox)

    async def publish(n: int) -> None:
        data = {"event_id": str(uuid.uuid4()), "room_id": room_id, "delete_message": f"m{n}"}
        await js.publish(subject, encode_envelope(actor_user_id="1", data=data))

    for n in range(3):
        await publish(n)
    first = await dead.next_msg(timeout=5)
    await first.ack()
    await dead.next_msg(timeout=5)
    await dead.next_msg(timeout=5)
    await dead.unsubscribe()

    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(f"room.{room_id}", channel)
    bridge = Bridge(nc, durable_prefix=prefix)
    await bridge.start()
    try:
        await publish(3)
        got = [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(3)]
        assert [json.loads(g["text"])["delete_message"] for g in got] == ["m1", "m2", "m3"]
        assert [g["prev"] for g in got] == [got[0]["seq"] - 1, got[0]["seq"], got[1]["seq"]]
    finally:
        await bridge.drain()
        await layer.group_discard(f"room.{room_id}", channel)
        await nc.close()


async def test_the_prev_looked_up_after_a_restart_skips_events_routed_off_the_room_chain() -> None:
    from streaming.bridge import previous_on_subject
    from streaming.envelope import encode_envelope
    from streaming.jetstream import connect, ensure_stream

    room_id = str(uuid.uuid4())
    subject = f"CHAT_EVENTS.{room_id}"
    nc = await connect(name="test-prev")
    try:
        js = nc.jetstream()
        await ensure_stream(js)

        async def publish(value: dict) -> int:
            data = {"event_id": str(uuid.uuid4()), "room_id": room_id, **value}
            return (await js.publish(subject, encode_envelope(actor_user_id="1", data=data))).seq

        assert await previous_on_subject(nc, subject, 10**9) == 0  # nothing on the subject yet
        first = await publish({"delete_message": "m"})
        await publish({"status_update": {"message_id": "m2", "status": "SENT", "sender_id": "1"}})
        third = await publish({"message": {"id": "m2"}})
        assert await previous_on_subject(nc, subject, third) == first
        assert await previous_on_subject(nc, subject, first) == 0
    finally:
        await nc.close()
