"""Replay: the stored events of some subjects after a cursor, read from JetStream (not the outbox).

A socket replays when a client reconnects with a cursor (everything of its rooms and its direct
subject after the cursor) and when it notices a gap on a subject during live delivery. Events come
from an ephemeral ordered push consumer filtered on the subjects, starting at `after + 1`, read up to
the stream's last sequence at the time of the call (later events arrive live).

`ResyncRequiredError` means the stream no longer holds everything after the cursor: the stream's first
sequence moved past it (age limit), a subject kept only its last MAX_MSGS_PER_SUBJECT events and
all of them are newer than the cursor (older ones may be gone), the cursor lies beyond the stream's
end (another stream), or the replay would be larger than CHAT_REPLAY_MAX_EVENTS.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

from django.conf import settings
from nats.js import JetStreamContext, api

from streaming.envelope import EnvelopeError, StreamItem, decode_envelope
from streaming.jetstream import MAX_MSGS_PER_SUBJECT, STREAM_NAME

logger = logging.getLogger(__name__)

READ_TIMEOUT_SECONDS = 5.0


class ResyncRequiredError(Exception):
    """The events after the cursor are no longer all stored: the client must re-sync over REST."""


def replay_max_events() -> int:
    return int(getattr(settings, "CHAT_REPLAY_MAX_EVENTS", 5000))


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
    Raises ResyncRequiredError (see the module docstring).
    """
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
                envelope = decode_envelope(msg.data)
            except EnvelopeError as exc:
                logger.warning("replay: skipping %s #%d: %s", msg.subject, seq, exc)
            else:
                items.append(
                    StreamItem.of_event(
                        subject=msg.subject,
                        seq=seq,
                        prev=last_of.get(msg.subject),
                        actor_user_id=envelope.actor_user_id,
                        event=envelope.event,
                    )
                )
            last_of[msg.subject] = seq
            if seq >= end or meta.num_pending == 0:
                break
    finally:
        try:
            await sub.unsubscribe()
        except Exception:
            logger.debug("replay: unsubscribe failed", exc_info=True)
    return items
