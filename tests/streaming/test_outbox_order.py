"""A subject's events reach JetStream in the order they were stored, across NATS outages and across
processes: the publisher publishes the outbox's older events before a new batch, and the relay holds a
subject's later events behind one in back-off (streaming/publisher.py, streaming/relay.py)."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import nats
import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from events.builders import room_event
from events.emit import emit
from storage import get_repository
from storage.records import OutboxRecord
from streaming import publisher
from streaming.embedded import free_port, nats_server_binary, port_free
from streaming.jetstream import ensure_stream
from streaming.relay import due_in_order, relay_once
from tests.streaming.helpers import stored_on

pytestmark = pytest.mark.django_db(transaction=True)


class NatsServer:
    """A nats-server of the test's own, which it can stop and start again on the same port and store."""

    def __init__(self, store: Path) -> None:
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.store = store
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [nats_server_binary(), "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.store)]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while port_free(self.port):
            assert self.process.poll() is None and time.monotonic() < deadline, "nats-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def own_nats(tmp_path: Path, settings) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "js")
    server.start()
    publisher.stop_publisher()
    settings.NATS_URL = server.url
    settings.CHAT_PUBLISH_ON_COMMIT = True
    try:
        yield server
    finally:
        publisher.stop_publisher()
        server.stop()


def _event(room_id: uuid.UUID) -> OutboxRecord:
    return room_event("is_room_updated", True, room_id=room_id, actor_user_id=7)


def _store(records: list[OutboxRecord], *, publish: bool) -> None:
    """Stores events in one unit of work: published after commit (`publish`), or left in the outbox
    as a process that died, or was cut off from NATS, leaves them."""
    with get_repository().atomic():
        if publish:
            emit(records)
        else:
            get_repository().outbox_add(records)


async def _stored_ids(url: str, subject: str, *, expect: int, timeout: float = 15.0) -> list[str]:
    """The Nats-Msg-Id of the messages stored on `subject`, in stream order, once `expect` are there."""
    stored = await stored_on(subject, url=url, expect=expect, timeout=timeout)
    return [headers.get("Nats-Msg-Id", "") for _, headers, _ in stored]


def _ids(records: list[OutboxRecord]) -> list[str]:
    return [str(r.event_id) for r in records]


def test_after_a_nats_restart_the_outage_backlog_goes_out_first_without_the_relay(own_nats: NatsServer) -> None:
    room_id = uuid.uuid4()
    subject = f"CHAT_EVENTS.{room_id}"
    before = [_event(room_id)]
    _store(before, publish=True)
    assert asyncio.run(_stored_ids(own_nats.url, subject, expect=1)) == _ids(before)

    own_nats.stop()
    during = [_event(room_id), _event(room_id)]
    for record in during:
        _store([record], publish=True)  # answered: stored, left in the outbox
    own_nats.start()
    # No relay runs: the publisher publishes the backlog as soon as it is connected again.
    assert asyncio.run(_stored_ids(own_nats.url, subject, expect=3)) == _ids(before + during)
    after = [_event(room_id)]
    _store(after, publish=True)
    assert asyncio.run(_stored_ids(own_nats.url, subject, expect=4)) == _ids(before + during + after)


def test_a_publisher_publishes_the_older_events_of_its_batchs_subjects_first(own_nats: NatsServer) -> None:
    room_id, elsewhere = uuid.uuid4(), uuid.uuid4()
    warm = [_event(elsewhere)]
    _store(warm, publish=True)  # this process's publisher is connected, past its reconnect drain
    assert asyncio.run(_stored_ids(own_nats.url, f"CHAT_EVENTS.{elsewhere}", expect=1)) == _ids(warm)
    # Another process stored these and has not published them (it died, lost NATS, or is slow):
    left = [_event(room_id), _event(room_id)]
    _store(left, publish=False)
    other_room = [_event(uuid.uuid4())]
    _store(other_room, publish=False)
    new = [_event(room_id)]
    _store(new, publish=True)
    assert asyncio.run(_stored_ids(own_nats.url, f"CHAT_EVENTS.{room_id}", expect=3)) == _ids(left + new)
    # Another subject's waiting events are not this batch's to publish (the relay's, after its grace).
    assert asyncio.run(_stored_ids(own_nats.url, other_room[0].subject, expect=1, timeout=0.5)) == []


async def test_the_relay_holds_a_subjects_later_events_behind_one_in_back_off(own_nats: NatsServer, settings) -> None:
    settings.CHAT_PUBLISH_ON_COMMIT = False
    room_a, room_b = uuid.uuid4(), uuid.uuid4()
    a1, a2, b1 = _event(room_a), _event(room_a), _event(room_b)
    for record in (a1, a2, b1):
        await database_sync_to_async(_store)([record], publish=False)
    # a1's publish failed: it waits 30 s; a2 must not overtake it, b1 (another subject) goes.
    retry = timezone.now() + timedelta(seconds=30)
    await database_sync_to_async(get_repository().outbox_mark_failed)([a1.event_id], error="timeout", retry_at=retry)
    nc = await nats.connect(own_nats.url)
    try:
        js = nc.jetstream()
        await ensure_stream(js)
        assert await relay_once(js, grace=0) == 1
        assert await _stored_ids(own_nats.url, f"CHAT_EVENTS.{room_b}", expect=1) == _ids([b1])
        assert await _stored_ids(own_nats.url, f"CHAT_EVENTS.{room_a}", expect=1, timeout=0.5) == []
        await database_sync_to_async(get_repository().outbox_mark_failed)(
            [a1.event_id], error="retry", retry_at=timezone.now()
        )
        assert await relay_once(js, grace=0) == 2
        assert await _stored_ids(own_nats.url, f"CHAT_EVENTS.{room_a}", expect=2) == _ids([a1, a2])
    finally:
        await nc.close()


def test_due_in_order_stops_each_subject_at_its_first_waiting_or_young_event() -> None:
    now = timezone.now()
    old = now - timedelta(seconds=60)

    def row(subject: str, *, created: timedelta = timedelta(0), retry: timedelta | None = None) -> OutboxRecord:
        return OutboxRecord(
            event_id=uuid.uuid4(),
            subject=subject,
            event_type="room_updated",
            room_id="",
            actor_user_id="",
            data={},
            created_at=old + created,
            next_attempt_at=None if retry is None else now + retry,
        )

    rows = [
        row("A"),
        row("B", retry=timedelta(seconds=5)),  # in back-off: B waits behind it
        row("A", created=timedelta(seconds=1)),
        row("B", created=timedelta(seconds=1)),
        row("C", retry=timedelta(seconds=-1)),  # its retry is due
        row("A", created=timedelta(seconds=59)),  # younger than the grace period: the publisher's
        row("A", created=timedelta(seconds=1)),
    ]
    assert due_in_order(rows, now=now, grace=5) == [rows[0], rows[2], rows[4]]


async def test_a_failed_publish_holds_back_the_later_events_of_its_subject_in_the_same_batch() -> None:
    """While JetStream elects a new stream leader an early publish can fail and a later one succeed;
    a subject's events therefore go one at a time, and none after one that failed."""
    from streaming.publisher import publish_batch

    room_a, room_b = uuid.uuid4(), uuid.uuid4()
    a1, a2, a3, b1, b2 = _event(room_a), _event(room_a), _event(room_a), _event(room_b), _event(room_b)
    sent: list[str] = []

    class ElectingJetStream:
        async def publish_async(self, subject: str, body: bytes, **kwargs: object) -> asyncio.Future[object]:
            sent.append(str(kwargs["headers"]["Nats-Msg-Id"]))  # type: ignore[index]
            future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
            if subject == a1.subject and len([s for s in sent if s == str(a1.event_id)]) == 1:
                future.set_exception(RuntimeError("no responders: the stream has no leader yet"))
            else:
                future.set_result(None)
            return future

    result = await publish_batch(ElectingJetStream(), [a1, b1, a2, b2, a3])  # type: ignore[arg-type]
    assert result.published == [b1.event_id, b2.event_id]
    assert set(result.failed) == {a1.event_id, a2.event_id, a3.event_id}
    assert sent == [str(a1.event_id), str(b1.event_id), str(b2.event_id)]  # a2, a3 never sent
