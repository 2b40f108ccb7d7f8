"""Replay: the stored events of some subjects after a cursor, read from JetStream (not the outbox).

A socket replays when a client reconnects with a cursor (everything of its rooms and its direct
subject after the cursor) and when it notices a gap on a subject during live delivery. Events come
from an ephemeral ordered push consumer filtered on the subjects, starting at `after + 1`, read up to
the stream's last sequence at the time of the call (later events arrive live).

At most CHAT_STREAM_REPLAY_CONCURRENCY replays of a process read JetStream at once (`replay_slots`);
the others wait their turn, in arrival order. A reconnect storm (hundreds of sockets coming back with
a cursor) then opens that many ordered consumers at a time instead of all of them at once, which
swamped JetStream's API (replays stalled, into `resync_required`) and the event loop that also
serves the handshakes. A socket that waits for its turn has already been accepted and sent
`{"connected": true}`; its live events wait in its channel-layer queue meanwhile, and the cursor
drops those the replay also brought (streaming.consumers).

`ResyncRequiredError` means the stream no longer holds everything after the cursor: the stream's first
sequence moved past it (age limit), a subject kept only its last MAX_MSGS_PER_SUBJECT events and
all of them are newer than the cursor (older ones may be gone), the cursor lies beyond the stream's
end (another stream), or the replay would be larger than CHAT_REPLAY_MAX_EVENTS.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from django.conf import settings
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api

from kernel.metrics import STREAM_REPLAYS_RUNNING, STREAM_REPLAYS_WAITING
from streaming.envelope import MSG_ID_HEADER, EnvelopeError, StreamItem, decode_envelope
from streaming.jetstream import MAX_MSGS_PER_SUBJECT, STREAM_NAME

logger = logging.getLogger(__name__)

READ_TIMEOUT_SECONDS = 5.0
DEFAULT_REPLAY_CONCURRENCY = 32
DECODED_EVENTS_BYTES = 8 * 1024 * 1024  # frames kept decoded per process (and ~512 bytes per entry)


class ResyncRequiredError(Exception):
    """The events after the cursor are no longer all stored: the client must re-sync over REST."""


def replay_max_events() -> int:
    return int(getattr(settings, "CHAT_REPLAY_MAX_EVENTS", 5000))


class ReplaySlots:
    """At most `limit` replays at once on one event loop; the others wait in arrival order
    (asyncio.Semaphore wakes its waiters first come, first served)."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._semaphore = asyncio.Semaphore(self.limit)
        self.running = 0
        self.waiting = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        self.waiting += 1
        STREAM_REPLAYS_WAITING.inc()
        try:
            await self._semaphore.acquire()
        finally:
            self.waiting -= 1
            STREAM_REPLAYS_WAITING.dec()
        self.running += 1
        STREAM_REPLAYS_RUNNING.inc()
        try:
            yield
        finally:
            self.running -= 1
            STREAM_REPLAYS_RUNNING.dec()
            self._semaphore.release()


_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ReplaySlots] = weakref.WeakKeyDictionary()


def replay_slots() -> ReplaySlots:
    """The running loop's replay slots (a daphne runs one loop: a bound per process)."""
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        limit = int(getattr(settings, "CHAT_STREAM_REPLAY_CONCURRENCY", DEFAULT_REPLAY_CONCURRENCY))
        slots = _slots[loop] = ReplaySlots(limit)
    return slots


class DecodedEvents:
    """The events replays decoded lately, by (stream sequence, event id): the members of a room who
    come back together replay the same events, decoded (and their frames encoded) once per process,
    not once per socket. The event id (the Nats-Msg-Id header) tells another stream's same sequence
    apart; a message without one is decoded every time. Least recently used first out, past
    `max_bytes` of frames."""

    ENTRY_BYTES = 512  # what an entry costs beside its frame's text (key, view, tuple), roughly

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._events: OrderedDict[tuple[int, str], tuple[str, dict[str, Any], str]] = OrderedDict()
        self._lock = threading.Lock()

    def item(self, msg: Msg, *, seq: int, prev: int | None) -> StreamItem:
        """The message as a StreamItem; raises EnvelopeError for a malformed one."""
        event_id = str((msg.headers or {}).get(MSG_ID_HEADER) or "")
        key = (seq, event_id)
        with self._lock:
            found = self._events.get(key) if event_id else None
            if found is not None:
                self._events.move_to_end(key)
        if found is not None:
            actor, view, text = found
            return StreamItem(msg.subject, seq, prev, actor, view, text)
        envelope = decode_envelope(msg.data)
        item = StreamItem.of_event(
            subject=msg.subject, seq=seq, prev=prev, actor_user_id=envelope.actor_user_id, event=envelope.event
        )
        if event_id:
            with self._lock:
                if key not in self._events:
                    self._events[key] = (item.actor_user_id, item.view, item.text)
                    self.bytes += len(item.text) + self.ENTRY_BYTES
                while self.bytes > self.max_bytes and self._events:
                    _, (_, _, text) = self._events.popitem(last=False)
                    self.bytes -= len(text) + self.ENTRY_BYTES
        return item


decoded_events = DecodedEvents(DECODED_EVENTS_BYTES)


async def stream_bounds(js: JetStreamContext) -> tuple[int, int]:
    """(first_seq, last_seq) of the stream now."""
    state = (await js.stream_info(STREAM_NAME)).state
    return int(state.first_seq or 0), int(state.last_seq or 0)


async def read_after(
    js: JetStreamContext,
    *,
    subjects: Sequence[str],
    after: int,
    before: int | None = None,
    bounds: tuple[int, int] | None = None,
) -> list[StreamItem]:
    """The stored events of `subjects` with after < seq (< before), in stream order.

    Each item's `prev` is the previous replayed event of its subject (None for the first one).
    Waits for one of the process's replay slots first. Raises ResyncRequiredError (see the module
    docstring).
    """
    async with replay_slots().slot():
        return await _read_after(js, subjects=subjects, after=after, before=before, bounds=bounds)


async def _read_after(
    js: JetStreamContext,
    *,
    subjects: Sequence[str],
    after: int,
    before: int | None,
    bounds: tuple[int, int] | None,
) -> list[StreamItem]:
    first, last = bounds if bounds is not None else await stream_bounds(js)
    if after > last:
        raise ResyncRequiredError(f"cursor {after} is beyond the stream's last sequence {last}")
    if after + 1 < first:
        raise ResyncRequiredError(f"events after cursor {after} expired (the stream starts at {first})")
    end = last if before is None else min(last, before - 1)
    if end <= after or not subjects:
        return []
    config = api.ConsumerConfig(
        deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=after + 1,
        filter_subjects=list(dict.fromkeys(subjects)),
        ack_policy=api.AckPolicy.NONE,
        inactive_threshold=5.0,
        mem_storage=True,
        num_replicas=1,
    )
    limit = replay_max_events()
    items: list[StreamItem] = []
    per_subject: Counter[str] = Counter()
    last_of: dict[str, int] = {}
    sub = await js.subscribe(subjects[0], stream=STREAM_NAME, config=config, ordered_consumer=True)
    try:
        info = await sub.consumer_info()
        delivered = (info.delivered.stream_seq or 0) if info.delivered else 0
        if not info.num_pending and delivered <= after:
            return []  # no stored event of these subjects after the cursor
        while True:
            try:
                msg = await sub.next_msg(timeout=READ_TIMEOUT_SECONDS)
            except TimeoutError:
                raise ResyncRequiredError("replay stalled (JetStream did not deliver in time)") from None
            meta = msg.metadata
            seq = meta.sequence.stream
            if seq > end:
                break
            per_subject[msg.subject] += 1
            if per_subject[msg.subject] >= MAX_MSGS_PER_SUBJECT:
                raise ResyncRequiredError(f"{msg.subject} kept only its last {MAX_MSGS_PER_SUBJECT} events")
            if len(items) >= limit:
                raise ResyncRequiredError(f"more than {limit} events to replay")
            try:
                items.append(decoded_events.item(msg, seq=seq, prev=last_of.get(msg.subject)))
            except EnvelopeError as exc:
                logger.warning("replay: skipping %s #%d: %s", msg.subject, seq, exc)
            last_of[msg.subject] = seq
            if seq >= end or meta.num_pending == 0:
                break
    finally:
        try:
            await sub.unsubscribe()
        except Exception:
            logger.debug("replay: unsubscribe failed", exc_info=True)
    return items
