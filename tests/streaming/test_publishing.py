"""JetStream set-up, publish-on-commit and the outbox relay, against a real nats-server."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import nats
import pytest
from django.utils import timezone
from nats.js import api
from prometheus_client import REGISTRY

from events.builders import room_event
from events.emit import emit
from events.proto import chat_pb2
from storage import get_repository
from streaming import publisher
from streaming.embedded import free_port, nats_server_binary, port_free
from streaming.envelope import decode_envelope
from streaming.jetstream import STREAM_NAME, connect, ensure_stream
from streaming.relay import Relay, prune_outbox, relay_once
from tests import storage_probe as probe
from tests.streaming.helpers import stored_on

pytestmark = pytest.mark.django_db(transaction=True)


def _emit_typing(room_id: uuid.UUID, user_id: int = 7) -> uuid.UUID:
    record = room_event(
        "typing",
        {"user_id": str(user_id), "is_typing": True, "updated_at": "2026-01-01T00:00:00+00:00"},
        room_id=room_id,
        actor_user_id=user_id,
    )
    with get_repository().atomic():
        emit([record])
    return record.event_id


def _wait(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_stream_is_created_with_the_original_configuration_and_ensure_is_idempotent() -> None:
    nc = await connect(name="test")
    try:
        js = nc.jetstream()
        first = await ensure_stream(js)
        again = await ensure_stream(js)
        config = again.config
        assert first.config.name == config.name == "CHAT_EVENTS"
        assert sorted(config.subjects) == ["CHAT_DIRECT_EVENTS.*", "CHAT_EVENTS.*", "CHAT_TYPING.*"]
        assert config.storage == api.StorageType.FILE
        assert config.retention == api.RetentionPolicy.LIMITS
        assert config.max_msgs_per_subject == 1000
        assert config.compression == api.StoreCompression.S2
        assert config.max_age == 7 * 24 * 3600
        # A stream someone else changed is brought back to the configuration.
        await js.update_stream(dataclasses.replace(config, max_msgs_per_subject=5))
        fixed = await ensure_stream(js)
        assert fixed.config.max_msgs_per_subject == 1000
    finally:
        await nc.close()


def test_commit_publishes_the_event_with_its_id_and_the_original_envelope() -> None:
    room_id = uuid.uuid4()
    event_id = _emit_typing(room_id, user_id=42)

    stored = asyncio.run(stored_on(f"CHAT_EVENTS.{room_id}"))
    assert len(stored) == 1
    _, headers, envelope = stored[0]
    assert headers["Nats-Msg-Id"] == str(event_id)
    assert envelope["user_id"] == "42"
    decoded = chat_pb2.MessageEvent.FromString(base64.b64decode(envelope["payload"]))
    assert decoded.event_id == str(event_id)
    assert decoded.room_id == str(room_id)
    assert decoded.WhichOneof("event") == "typing"
    assert decoded.typing.user_id == "42" and decoded.typing.is_typing
    _wait(lambda: probe.outbox_state(event_id).published_at is not None)


def test_a_rolled_back_unit_of_work_publishes_nothing() -> None:
    room_id = uuid.uuid4()
    with pytest.raises(RuntimeError):
        with get_repository().atomic():
            emit([room_event("is_room_updated", True, room_id=room_id, actor_user_id=1)])
            raise RuntimeError("rollback")
    assert not probe.outbox()
    assert asyncio.run(stored_on(f"CHAT_EVENTS.{room_id}", timeout=0.5)) == []


def test_publish_on_commit_can_be_switched_off(settings) -> None:
    settings.CHAT_PUBLISH_ON_COMMIT = False
    room_id = uuid.uuid4()
    event_id = _emit_typing(room_id)
    time.sleep(0.5)
    assert probe.outbox_state(event_id).published_at is None
    assert asyncio.run(stored_on(f"CHAT_EVENTS.{room_id}", timeout=0.5)) == []


def test_with_nats_unreachable_the_commit_succeeds_and_the_event_waits_in_the_outbox(settings) -> None:
    publisher.stop_publisher()
    settings.NATS_URL = "nats://127.0.0.1:1"  # nothing listens there
    try:
        started = time.monotonic()
        event_id = _emit_typing(uuid.uuid4())
        assert time.monotonic() - started < 0.5  # the request never waits for NATS
        time.sleep(0.5)
        row = probe.outbox_state(event_id)
        assert row.published_at is None
    finally:
        publisher.stop_publisher()


async def test_relay_publishes_left_events_once_and_backs_off_failures(settings) -> None:
    from channels.db import database_sync_to_async

    settings.CHAT_PUBLISH_ON_COMMIT = False
    room_id = uuid.uuid4()
    first = await database_sync_to_async(_emit_typing)(room_id)
    second = await database_sync_to_async(_emit_typing)(room_id)

    nc = await connect(name="test-relay")
    try:
        js = nc.jetstream()
        await ensure_stream(js)
        assert await relay_once(js, grace=60) == 0  # young events belong to the publisher
        assert await relay_once(js, grace=0) == 2
        rows = await database_sync_to_async(probe.outbox_states)()
        assert all(r.published_at is not None for r in rows)
        # A republish (say, a crash between publish and mark) is dropped by JetStream.
        await database_sync_to_async(lambda: probe.outbox_update(published_at=None))()
        assert await relay_once(js, grace=0) == 2
    finally:
        await nc.close()
    stored = await stored_on(f"CHAT_EVENTS.{room_id}", expect=3, timeout=1)
    assert [h["Nats-Msg-Id"] for _, h, _ in stored] == [str(first), str(second)]


async def test_relay_failure_schedules_a_retry_with_exponential_back_off(settings) -> None:
    from channels.db import database_sync_to_async

    settings.CHAT_PUBLISH_ON_COMMIT = False
    event_id = await database_sync_to_async(_emit_typing)(uuid.uuid4())

    class BrokenJetStream:
        async def publish_async(self, *args, **kwargs):
            raise ConnectionError("NATS is gone")

    before = timezone.now()
    assert await relay_once(BrokenJetStream(), grace=0) == 1  # type: ignore[arg-type]
    row = await database_sync_to_async(probe.outbox_state)(event_id)
    assert row.published_at is None and row.attempts == 1 and "NATS is gone" in row.last_error
    assert timedelta(seconds=0.5) <= row.next_attempt_at - before <= timedelta(seconds=3)
    assert await relay_once(BrokenJetStream(), grace=0) == 0  # not due yet
    await database_sync_to_async(lambda: probe.outbox_update(next_attempt_at=timezone.now()))()
    assert await relay_once(BrokenJetStream(), grace=0) == 1
    row = await database_sync_to_async(probe.outbox_state)(event_id)
    assert row.attempts == 2
    assert timedelta(seconds=1.5) <= row.next_attempt_at - timezone.now() <= timedelta(seconds=3)


def _dead_lettered() -> float:
    return REGISTRY.get_sample_value("chat_events_dead_lettered_total", {"reason": "max_payload"}) or 0.0


@pytest.fixture
def small_payload_nats(tmp_path) -> Iterator[str]:
    """A nats-server of its own whose max_payload is 4 KiB (what an operator may have configured)."""
    port = free_port()
    config = tmp_path / "nats.conf"
    config.write_text(f"listen: 127.0.0.1:{port}\nmax_payload: 4096\njetstream {{ store_dir: {tmp_path / 'js'} }}\n")
    process = subprocess.Popen(
        [nats_server_binary(), "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 15
        while port_free(port):
            assert process.poll() is None and time.monotonic() < deadline, "nats-server did not start"
            time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


async def test_an_event_over_the_servers_max_payload_is_dead_lettered_and_blocks_nothing(
    settings, caplog, small_payload_nats
) -> None:
    """Events are refused when built if over CHAT_EVENT_MAX_BYTES (events.builders); one the server
    still refuses (its max_payload is smaller) is marked dead once, never retried, and the events
    after it still go out."""
    from channels.db import database_sync_to_async

    settings.CHAT_PUBLISH_ON_COMMIT = False
    room_id = uuid.uuid4()
    typing = room_event("typing", {"user_id": "7", "is_typing": True}, room_id=room_id, actor_user_id=7)
    huge = dataclasses.replace(
        typing, event_id=uuid.uuid4(), data={**typing.data, "typing": {"user_id": "x" * 10_000, "is_typing": True}}
    )

    def store() -> None:
        with get_repository().atomic():
            get_repository().outbox_add([huge])

    await database_sync_to_async(store)()
    after = await database_sync_to_async(_emit_typing)(room_id)
    before = _dead_lettered()
    nc = await nats.connect(small_payload_nats)
    try:
        js = nc.jetstream()
        await ensure_stream(js)
        with caplog.at_level("ERROR", logger="streaming.publisher"):
            assert await relay_once(js, grace=0) == 2
        assert await relay_once(js, grace=0) == 0  # the dead one is not due again
        stored = await js.get_msg(STREAM_NAME, seq=1, subject=f"CHAT_EVENTS.{room_id}", next=True)
        assert stored.headers and stored.headers["Nats-Msg-Id"] == str(after)
    finally:
        await nc.close()
    dead = await database_sync_to_async(probe.outbox_state)(huge.event_id)
    assert dead.published_at is None and dead.last_error.startswith("dead-lettered:")
    assert "max_payload" in dead.last_error
    assert dead.next_attempt_at - timezone.now() > timedelta(days=365)
    assert [r.getMessage() for r in caplog.records if str(huge.event_id) in r.getMessage()]
    assert _dead_lettered() == before + 1  # and counted


async def test_relay_prunes_published_events_older_than_the_retention(settings) -> None:
    from channels.db import database_sync_to_async

    settings.CHAT_PUBLISH_ON_COMMIT = False
    settings.CHAT_OUTBOX_RETENTION_HOURS = 1
    old = await database_sync_to_async(_emit_typing)(uuid.uuid4())
    recent = await database_sync_to_async(_emit_typing)(uuid.uuid4())
    pending = await database_sync_to_async(_emit_typing)(uuid.uuid4())
    now = timezone.now()

    def age() -> None:
        probe.outbox_update([old], published_at=now - timedelta(hours=2))
        probe.outbox_update([recent], published_at=now - timedelta(minutes=5))

    await database_sync_to_async(age)()
    assert await prune_outbox() == 1
    left = await database_sync_to_async(lambda: {e.event_id for e in probe.outbox()})()
    assert left == {recent, pending}


async def test_relay_loop_runs_in_process_until_stopped(settings) -> None:
    from channels.db import database_sync_to_async

    settings.CHAT_PUBLISH_ON_COMMIT = False
    room_id = uuid.uuid4()
    event_id = await database_sync_to_async(_emit_typing)(room_id)
    relay = Relay(interval=0.1, grace=0)
    await relay.connect()
    task = asyncio.create_task(relay.run())
    try:
        for _ in range(100):
            row = await database_sync_to_async(probe.outbox_state)(event_id)
            if row.published_at:
                break
            await asyncio.sleep(0.05)
        assert row.published_at is not None
    finally:
        relay.stop()
        await asyncio.wait_for(task, 5)
    assert len(await stored_on(f"CHAT_EVENTS.{room_id}", timeout=2)) == 1


def test_envelope_round_trip_keeps_every_field() -> None:
    from streaming.envelope import encode_envelope

    data = {
        "event_id": str(uuid.uuid4()),
        "room_id": str(uuid.uuid4()),
        "status_update": {"message_id": "m", "status": "READ", "updated_at": "t", "user_id": "2", "sender_id": "1"},
    }
    envelope = decode_envelope(encode_envelope(actor_user_id="2", data=data))
    assert envelope.actor_user_id == "2"
    assert envelope.event_type == "status_update"
    assert envelope.event == data
