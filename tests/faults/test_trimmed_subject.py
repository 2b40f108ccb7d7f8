"""A room subject trimmed, then thinned by expiring events, under load: a client with an old cursor
must get `resync_required`, never a silently short replay.

A room subject keeps its last MAX_MSGS_PER_SUBJECT (1000) events. Here the room gets 520 messages
(two events each: `status_update` and `message`, so 1040) stored through the services in this
process and published on commit to the suite's NATS, in three batches with typing events after each
(published as daphne publishes them, with a 1 s TTL instead of 30 s), which then expire. A client
whose cursor precedes it all must get `resync_required`: the events after its cursor are no longer
all stored. (When typing events shared the room's subject, they took retention slots, then expired:
the subject held fewer than 1000 events, and the replay returned 495 of the 520 messages, no
resync.) A client whose cursor lies within what the subject kept gets exactly the messages after
it, once, in order."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from bench.wsclient import WebSocket, WebSocketClosedError
from events.subjects import room_subject, typing_subject
from messaging.services.send import SendRequest, message_send
from storage import get_repository
from streaming import publisher, typing_indicator
from streaming.jetstream import MAX_MSGS_PER_SUBJECT, STREAM_NAME, connect, stream_state
from tests.faults.figures import Window
from tests.faults.harness import Run, make_users, run_fault
from tests.faults.topology import Topology
from tests.servers import api_post

pytestmark = [pytest.mark.faults, pytest.mark.timeout(400)]

BATCHES = (260, 130, 130)  # messages per batch: 1040 room events in all, over the subject's 1000
TYPING_PER_BATCH = 10
TYPING_TTL_SECONDS = 1
PUBLISHED_TIMEOUT_SECONDS = 60.0
READ_TIMEOUT_SECONDS = 30.0

User = tuple[int, str]


@dataclass
class Replay:
    """What a client reconnecting with a cursor got: the room's messages (numbers) and error codes."""

    messages: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ended: str = ""


async def _stream_end(nats_url: str) -> int:
    nc = await connect(name="faults-trimmed", url=nats_url)
    try:
        return int((await stream_state(nc.jetstream())).last_seq)
    finally:
        await nc.close()


async def _typing(nats_url: str, user_id: int, room_id: uuid.UUID, count: int) -> None:
    nc = await connect(name="faults-trimmed", url=nats_url)
    try:
        for i in range(count):
            await typing_indicator.typing_publish(nc, user_id=user_id, room_id=room_id, is_typing=i % 2 == 0)
    finally:
        await nc.close()


async def _held(nats_url: str, subjects: list[str]) -> dict[str, int]:
    """How many events the stream holds on each subject."""
    nc = await connect(name="faults-trimmed", url=nats_url)
    try:
        js = nc.jetstream()
        held = {}
        for subject in subjects:
            state = (await js.stream_info(STREAM_NAME, subjects_filter=subject)).state
            held[subject] = int((state.subjects or {}).get(subject, 0))
        return held
    finally:
        await nc.close()


def _wait_published(subject: str) -> None:
    """Until the outbox holds no unpublished event of the subject (the publisher had the acks)."""
    deadline = time.monotonic() + PUBLISHED_TIMEOUT_SECONDS
    while get_repository().outbox_unpublished(limit=1, now=timezone.now(), subjects=[subject]):
        if time.monotonic() > deadline:
            raise AssertionError(f"events of {subject} still unpublished after {PUBLISHED_TIMEOUT_SECONDS:.0f}s")
        time.sleep(0.2)


async def _reconnect(port: int, user: User, cursor: int, tag: str, expected: int) -> Replay:
    """A client of the room reconnecting with `cursor`: reads until it has `expected` messages, gets an
    error frame, or nothing comes for a while."""
    replay = Replay()
    url = f"ws://127.0.0.1:{port}/ws/chat/v1/stream?client_id=trimmed-{user[0]}&cursor={cursor}"
    ws = await WebSocket.connect(url, headers={"Authorization": f"Token {user[1]}"}, timeout=30)
    try:
        while len(replay.messages) < expected and not replay.errors:
            frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), READ_TIMEOUT_SECONDS))
            if "error" in frame:
                replay.errors.append(str((frame["error"] or {}).get("code") or ""))
            text = str((frame.get("message") or {}).get("text") or "")
            if text.startswith(tag):
                replay.messages.append(int(text[len(tag) :]))
    except WebSocketClosedError as closed:
        replay.ended = f"close {closed.code}"
    except TimeoutError:
        replay.ended = "nothing more"
    finally:
        await ws.close()
    return replay


def _trim_then_thin(run: Run, room_id: uuid.UUID, sender: User, old: User, recent: User) -> Window:
    topology = run.topology
    url = topology.nats_url
    subject = room_subject(room_id)
    tag = f"trim {uuid.uuid4().hex[:8]} #"
    start = time.monotonic()
    try:
        old_cursor = asyncio.run(_stream_end(url))
        recent_cursor, recent_from, sent = 0, 0, 0
        for batch, size in enumerate(BATCHES):
            if batch == len(BATCHES) - 1:
                recent_cursor, recent_from = asyncio.run(_stream_end(url)), sent
            for _ in range(size):
                message_send(user_id=sender[0], request=SendRequest(room_id=room_id, text=f"{tag}{sent}"))
                sent += 1
            _wait_published(subject)
            asyncio.run(_typing(url, sender[0], room_id, TYPING_PER_BATCH))
    finally:
        connections.close_all()  # this thread's
    time.sleep(TYPING_TTL_SECONDS + 1.5)  # the typing events expire
    held = asyncio.run(_held(url, [subject, typing_subject(room_id)]))
    end = time.monotonic()
    port = topology.daphne_ports[0]
    old_replay = asyncio.run(_reconnect(port, old, old_cursor, tag, sent))
    recent_replay = asyncio.run(_reconnect(port, recent, recent_cursor, tag, sent - recent_from))
    note = (
        f"{sent} messages ({2 * sent} room events) and {TYPING_PER_BATCH * len(BATCHES)} typing events "
        f"({TYPING_TTL_SECONDS}s TTL) in {len(BATCHES)} batches; the subject then held {held[subject]}; old cursor: "
        f"{old_replay.errors or 'no error'} after {len(old_replay.messages)} messages; recent cursor: "
        f"{len(recent_replay.messages)} of {sent - recent_from} messages, {recent_replay.errors or 'no error'}"
    )
    details = {
        "sent": sent,
        "held": held,
        "old": {"messages": len(old_replay.messages), "errors": old_replay.errors, "ended": old_replay.ended},
        "recent": {
            "expected": list(range(recent_from, sent)) == recent_replay.messages,
            "messages": len(recent_replay.messages),
            "errors": recent_replay.errors,
            "ended": recent_replay.ended,
        },
    }
    return Window(start, end, note=note, details=details)


def test_an_old_cursor_on_a_trimmed_and_thinned_subject_gets_resync_required(
    topology: Topology, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender, old, recent = make_users(3)
    body = {"type": "group", "name": "trimmed", "participants": [old[0], recent[0]]}
    room_id = uuid.UUID(str(api_post(topology.url(0), sender[1], "room/create", body)["room"]["id"]))
    # This process stores the messages and publishes them on commit, to the suite's NATS.
    settings.NATS_URL = topology.nats_url
    settings.CHAT_PUBLISH_ON_COMMIT = True
    monkeypatch.setattr(typing_indicator, "TYPING_TTL_SECONDS", TYPING_TTL_SECONDS)
    publisher.stop_publisher()
    try:
        figures = run_fault(
            topology,
            "subject trimmed, then thinned by expiring events",
            lambda run: _trim_then_thin(run, room_id, sender, old, recent),
        )
    finally:
        publisher.stop_publisher()
    details = figures.fault_details
    assert details["old"]["errors"] == ["resync_required"], f"a short replay, no resync: {figures.line()}"
    assert details["recent"]["errors"] == [] and details["recent"]["expected"], figures.line()
    assert details["held"][room_subject(room_id)] == MAX_MSGS_PER_SUBJECT, figures.line()  # it was trimmed
    figures.check()
