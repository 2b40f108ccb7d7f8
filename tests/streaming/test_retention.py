"""Ephemeral typing events never cost a room its stored history, and a replay is never silently short.

A room subject keeps its last MAX_MSGS_PER_SUBJECT events; a replay that finds that many after the
cursor asks for a resync. Typing events (short TTL) used to share the room's subject: they pushed
stored events out of retention, then expired, and a replay from an old cursor came back short with
no resync_required. They now have subjects of their own (CHAT_TYPING.<room_id>).
"""

from __future__ import annotations

import asyncio
import uuid

import nats
import pytest
from django.conf import settings

from events.builders import room_event
from events.subjects import room_subject, typing_subject
from streaming import typing_indicator
from streaming.envelope import MSG_ID_HEADER, encode_envelope, group_for_subject, item_subject, route
from streaming.jetstream import MAX_MSGS_PER_SUBJECT, STREAM_NAME, ensure_stream
from streaming.replay import ResyncRequiredError, read_after, stream_bounds

STORED = MAX_MSGS_PER_SUBJECT - 10  # a room subject ten events short of its limit


async def _publish_stored(js: nats.js.JetStreamContext, room_id: uuid.UUID, count: int) -> None:
    futures = []
    for _ in range(count):
        record = room_event("is_room_updated", True, room_id=room_id, actor_user_id=1)
        body = encode_envelope(actor_user_id=record.actor_user_id, data=record.data)
        futures.append(
            await js.publish_async(
                room_subject(room_id), body, stream=STREAM_NAME, headers={MSG_ID_HEADER: str(record.event_id)}
            )
        )
    await asyncio.gather(*futures)


async def test_expired_typing_never_shortens_a_replay_silently(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(typing_indicator, "TYPING_TTL_SECONDS", 1)
    room_id = uuid.uuid4()
    nc = await nats.connect(settings.NATS_URL)
    try:
        js = nc.jetstream()
        await ensure_stream(js)
        _, cursor = await stream_bounds(js)
        await _publish_stored(js, room_id, STORED)
        for i in range(20):  # more than the room subject's headroom
            await typing_indicator.typing_publish(nc, user_id=7, room_id=room_id, is_typing=i % 2 == 0)
        await asyncio.sleep(2.5)  # the typing events expire

        try:
            items = await read_after(js, subjects=[room_subject(room_id)], after=cursor)
        except ResyncRequiredError:
            items = None  # a resync is the other honest answer
        assert items is None or len(items) == STORED, f"replayed {len(items or [])} of {STORED}, no resync"
        assert items is not None  # and here nothing was lost: all of them replayed
        held = (await js.stream_info(STREAM_NAME, subjects_filter=room_subject(room_id))).state.subjects or {}
        assert held.get(room_subject(room_id)) == STORED  # typing took no room subject slots
    finally:
        await nc.close()


def test_typing_subjects_reach_the_room_group_outside_its_chain() -> None:
    room_id = uuid.uuid4()
    assert group_for_subject(typing_subject(room_id)) == f"room.{room_id}"
    assert route(typing_subject(room_id), {"typing": {"user_id": "7", "is_typing": True}}) == (f"room.{room_id}", False)
    assert item_subject(typing_subject(room_id)) == room_subject(room_id)
    assert item_subject(room_subject(room_id)) == room_subject(room_id)
