"""The outbox relay: republishes what the publisher left behind, and prunes old published rows.

An event stays unpublished when NATS was down at commit, when its publish timed out, or when the
process died before publishing. The relay polls `outbox_unpublished()` (oldest first), publishes the
rows older than a grace period (younger ones are the publisher's, in flight), marks them, and
schedules a failed row's next try with exponential back-off. A subject's events keep their order: a
row in back-off, or still the publisher's, holds back the later rows of its subject (`due_in_order`).
JetStream drops the copy of an event it already stored (Nats-Msg-Id = event_id), so racing the
publisher, or running two relays, is harmless.

Run it as `python manage.py chat_outbox_relay`, or in-process (`chat_bridge --relay`, `runchat`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from nats.aio.client import Client
from nats.js import JetStreamContext

from storage import get_repository
from storage.records import OutboxRecord
from streaming.db import db_async
from streaming.jetstream import connect, ensure_stream
from streaming.publisher import BATCH_MAX, publish_batch, record_outcome

logger = logging.getLogger(__name__)

GRACE_SECONDS = 5.0
INTERVAL_SECONDS = 1.0
PRUNE_INTERVAL_SECONDS = 600.0


def due_in_order(rows: Sequence[OutboxRecord], *, now: datetime, grace: float) -> list[OutboxRecord]:
    """The rows (oldest first) that may be published now, in order: per subject, those before its
    first row that is in back-off or younger than `grace` (the publisher's); the later rows of that
    subject wait behind it, so no subject's events are ever published out of order."""
    young = now - timedelta(seconds=grace)
    held: set[str] = set()
    due: list[OutboxRecord] = []
    for row in rows:
        if row.subject in held:
            continue
        if row.waiting(now) or (row.created_at is not None and row.created_at > young):
            held.add(row.subject)
            continue
        due.append(row)
    return due


@db_async
def _due(limit: int, grace: float) -> list[OutboxRecord]:
    now = timezone.now()
    return due_in_order(get_repository().outbox_unpublished(limit=limit, now=now), now=now, grace=grace)


@db_async
def prune_outbox() -> int:
    """Deletes published rows older than CHAT_OUTBOX_RETENTION_HOURS; returns how many."""
    hours = float(getattr(settings, "CHAT_OUTBOX_RETENTION_HOURS", 24.0))
    return get_repository().outbox_prune(published_before=timezone.now() - timedelta(hours=hours))


async def relay_once(js: JetStreamContext, *, limit: int = BATCH_MAX, grace: float = GRACE_SECONDS) -> int:
    """Publishes one batch of due events; returns how many it tried."""
    due = await _due(limit, grace)
    if not due:
        return 0
    result = await publish_batch(js, due)
    await db_async(record_outcome)(result, attempts={r.event_id: r.attempts for r in due})
    if result.failed:
        logger.warning("relay: %d of %d event(s) failed; retrying with back-off", len(result.failed), len(due))
    else:
        logger.info("relay: republished %d event(s)", len(due))
    return len(due)


class Relay:
    """The relay loop over one NATS connection (its own, or one it is given)."""

    def __init__(
        self,
        *,
        nc: Client | None = None,
        interval: float = INTERVAL_SECONDS,
        grace: float = GRACE_SECONDS,
    ) -> None:
        self._nc = nc
        self._own_connection = nc is None
        self.interval = interval
        self.grace = grace
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def connect(self) -> None:
        """Connects (raising NatsUnavailableError) and ensures the stream, unless given a connection."""
        if self._nc is None:
            self._nc = await connect(name="chat-outbox-relay", pending_size=0)  # (as the publisher's)
        await ensure_stream(self._nc.jetstream())

    async def run(self) -> None:
        if self._nc is None:
            await self.connect()
        assert self._nc is not None
        js = self._nc.jetstream()
        next_prune = 0.0
        loop = asyncio.get_running_loop()
        try:
            while not self._stop.is_set():
                busy = False
                try:
                    if loop.time() >= next_prune:
                        pruned = await prune_outbox()
                        if pruned:
                            logger.info("relay: pruned %d published event(s)", pruned)
                        next_prune = loop.time() + PRUNE_INTERVAL_SECONDS
                    # While disconnected, trying would only push the rows' retries further away.
                    if self._nc.is_connected:
                        busy = await relay_once(js, grace=self.grace) >= BATCH_MAX
                except Exception:
                    logger.exception("relay: pass failed")
                if not busy:
                    try:
                        await asyncio.wait_for(self._stop.wait(), self.interval)
                    except TimeoutError:
                        pass
        finally:
            if self._own_connection and self._nc is not None:
                await self._nc.close()


def outbox_retry_now(event_ids: list[uuid.UUID]) -> int:
    """Makes unpublished events due at once (a staff action); returns how many were asked for."""
    get_repository().outbox_mark_failed(event_ids, error="retry requested by staff", retry_at=timezone.now())
    return len(event_ids)
