"""Publishing outbox events to JetStream (DESIGN.md "Events" 1).

After a unit of work commits, `events.emit` hands its events to `publish_on_commit()`, which
passes them to the process's background publisher and returns at once: a request never waits for
NATS and never fails because of it. The publisher is a daemon thread with its own asyncio loop and
one NATS connection; it publishes each batch with `publish_async` (pipelined, acks gathered together),
then marks the rows published. Whatever it could not publish (NATS down, timeout, process killed)
stays unpublished in the outbox, where the relay (streaming/relay.py) finds it. JetStream drops a
republish of an event it already has (header `Nats-Msg-Id` = event_id), so a row published twice
(relay racing the publisher, crash between publish and mark) is stored once.

A subject's events reach JetStream in the order they were stored, across outages and processes:
before a batch, the publisher publishes the outbox's older unpublished events of the batch's subjects
(one outbox query; another process's events still in flight are published twice, and JetStream keeps
one), and after it (re)connects to NATS it publishes every older unpublished event at once, without
waiting for the relay. While older events of a subject cannot be published, its new ones stay in the
outbox behind them (the relay holds a subject's later rows behind one in back-off: streaming/relay.py).

An event that can never be published as it is (over the server's max_payload, or malformed) is
dead-lettered: logged once as an error, counted (`chat_events_dead_lettered_total`), and marked with
its error and a retry a century away, so it neither blocks nor loops the relay (the services refuse
such events before they are stored: events.builders; this is the backstop for a server whose
max_payload is below CHAT_EVENT_MAX_BYTES).

Publish-on-commit is on when `CHAT_PUBLISH_ON_COMMIT` is (default: when NATS_URL is set).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections
from django.utils import timezone
from nats.aio.client import Client
from nats.errors import MaxPayloadError
from nats.js import JetStreamContext

from kernel.metrics import EVENTS_DEAD_LETTERED, EVENTS_PUBLISHED
from storage import get_repository
from storage.records import OutboxRecord
from streaming.envelope import MSG_ID_HEADER, encode_envelope
from streaming.jetstream import STREAM_NAME, connect, ensure_stream, nats_url

logger = logging.getLogger(__name__)

BATCH_MAX = 500
ACK_TIMEOUT_SECONDS = 5.0
RECORD_DELAY_SECONDS = 0.2
RETRY_BASE_SECONDS = 1.0
RETRY_MAX_SECONDS = 300.0


# A dead-lettered event is never retried by itself: its retry is this far away (the outbox admin's
# "retry now" still republishes it, say after the server's max_payload was raised).
DEAD_LETTER_DELAY = timedelta(days=365 * 100)


@dataclass
class BatchResult:
    published: list[uuid.UUID] = field(default_factory=list)
    failed: dict[uuid.UUID, str] = field(default_factory=dict)
    # Events that can never be published as they are (over the server's max_payload, or malformed).
    dead: dict[uuid.UUID, str] = field(default_factory=dict)

    def merge(self, other: BatchResult) -> None:
        self.published += other.published
        self.failed.update(other.failed)
        self.dead.update(other.dead)


async def publish_batch(
    js: JetStreamContext, records: Sequence[OutboxRecord], *, timeout: float = ACK_TIMEOUT_SECONDS
) -> BatchResult:
    """Publishes the events in order and waits for their acks; never raises.

    Pipelined across subjects, one at a time within a subject: a subject's next event goes only once
    the previous one is acked, and not at all after one failed (it waits behind it in the outbox).
    Otherwise, while JetStream elects a new stream leader, an early publish can fail and a later one
    of the same room succeed: the room's order broken.
    """
    result = BatchResult()
    queues: dict[str, list[OutboxRecord]] = {}
    for record in records:
        queues.setdefault(record.subject, []).append(record)
    while queues:
        pending: list[tuple[OutboxRecord, asyncio.Future[Any]]] = []
        for subject in list(queues):
            record = queues[subject].pop(0)
            if not queues[subject]:
                del queues[subject]
            future = await _publish_one(js, record, result, timeout=timeout)
            if future is not None:
                pending.append((record, future))
            elif record.event_id in result.failed:
                _fail_behind(queues.pop(subject, []), result)
        if pending:
            await asyncio.wait([f for _, f in pending], timeout=timeout)
        for record, future in pending:
            if not future.done():
                future.cancel()
                result.failed[record.event_id] = "no ack from JetStream in time"
            elif future.cancelled():
                result.failed[record.event_id] = "publish cancelled"
            elif future.exception() is not None:
                result.failed[record.event_id] = f"ack: {future.exception()!r}"
            else:
                result.published.append(record.event_id)
                continue
            _fail_behind(queues.pop(record.subject, []), result)
    if result.published:
        EVENTS_PUBLISHED.inc(len(result.published))
    return result


async def _publish_one(
    js: JetStreamContext, record: OutboxRecord, result: BatchResult, *, timeout: float
) -> asyncio.Future[Any] | None:
    """The ack's future of one publish, or None (recorded as dead or failed in `result`)."""
    try:
        body = encode_envelope(actor_user_id=record.actor_user_id, data=record.data, payload=record.payload)
    except Exception as exc:  # json_format.ParseError: no retry will encode it
        result.dead[record.event_id] = f"malformed event: {exc!r}"
        return None
    try:
        return await js.publish_async(
            record.subject,
            body,
            wait_stall=timeout,
            stream=STREAM_NAME,
            headers={MSG_ID_HEADER: str(record.event_id)},
        )
    except MaxPayloadError:
        result.dead[record.event_id] = f"{len(body)} bytes, over the NATS server's max_payload"
    except Exception as exc:
        result.failed[record.event_id] = f"publish: {exc!r}"
    return None


def _fail_behind(records: list[OutboxRecord], result: BatchResult) -> None:
    for record in records:
        result.failed[record.event_id] = "not published: an earlier event of its subject failed"


def retry_at(attempts: int, *, now: datetime) -> datetime:
    """Exponential back-off of a failed event after `attempts` tries (1 s, 2 s, 4 s ... 5 min)."""
    return now + timedelta(seconds=min(RETRY_BASE_SECONDS * 2 ** max(attempts, 0), RETRY_MAX_SECONDS))


def record_outcome(result: BatchResult, *, attempts: dict[uuid.UUID, int] | None = None) -> None:
    """Marks the published rows and schedules a retry of the failed ones (sync: it writes storage)."""
    repo = get_repository()
    now = timezone.now()
    if result.published:
        repo.outbox_mark_published(result.published, at=now)
    # One update per (error, attempts): a failed batch costs a handful of queries, not one per row.
    groups: dict[tuple[str, int], list[uuid.UUID]] = {}
    for event_id, error in result.failed.items():
        groups.setdefault((error, (attempts or {}).get(event_id, 0)), []).append(event_id)
    for (error, tries), ids in groups.items():
        repo.outbox_mark_failed(ids, error=error, retry_at=retry_at(tries, now=now))
    for event_id, error in result.dead.items():
        logger.error("outbox: event %s dead-lettered, not retried: %s", event_id, error)
        EVENTS_DEAD_LETTERED.labels(reason="max_payload" if "max_payload" in error else "malformed").inc()
        repo.outbox_mark_failed([event_id], error=f"dead-lettered: {error}", retry_at=now + DEAD_LETTER_DELAY)


class Publisher:
    """The background publisher of one process (see the module docstring)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._loop = asyncio.new_event_loop()
        # (when submitted, events): no events asks for a drain only; None asks the loop to stop.
        self._queue: asyncio.Queue[tuple[datetime, list[OutboxRecord]] | None] | None = None
        self._thread = threading.Thread(target=self._thread_main, name="chat-outbox-publisher", daemon=True)
        # Storage calls run in one worker thread of their own: never in the event loop's thread.
        self._db = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="chat-publisher-db")
        self._ready = threading.Event()
        self._stopping = False
        self._unrecorded = BatchResult()
        self._recorder: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(5)

    def submit(self, records: Sequence[OutboxRecord]) -> None:
        """Queues events for publishing; returns at once and never raises."""
        if not records or self._stopping:
            return
        try:
            self._loop.call_soon_threadsafe(self._enqueue, timezone.now(), list(records))
        except RuntimeError:  # the loop is closed: the relay will publish them
            logger.warning("publisher stopped; %d event(s) left to the relay", len(records))

    def stop(self, timeout: float = 5.0) -> None:
        """Publishes what is queued (within `timeout`), closes the connection and ends the thread."""
        if self._stopping:
            return
        self._stopping = True
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._enqueue_stop)
            self._thread.join(timeout)
        try:  # the worker's database connection must not outlive the publisher (e.g. a test database)
            self._db.submit(connections.close_all).result(timeout)
        except Exception:
            logger.debug("publisher: closing the database connection failed", exc_info=True)
        self._db.shutdown(wait=False)

    # --- the publisher thread --------------------------------------------------------------------

    def _enqueue(self, submitted_at: datetime, records: list[OutboxRecord]) -> None:
        assert self._queue is not None
        self._queue.put_nowait((submitted_at, records))

    def _enqueue_stop(self) -> None:
        assert self._queue is not None
        self._queue.put_nowait(None)

    async def _on_reconnect(self) -> None:
        """Publishes what was left while disconnected at once, not when the next event comes."""
        self._enqueue(timezone.now(), [])

    def _thread_main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._queue = asyncio.Queue()
        self._ready.set()
        try:
            self._loop.run_until_complete(self._run())
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    async def _run(self) -> None:
        assert self._queue is not None
        backoff = 0.5
        while True:
            try:
                # pending_size=0: a publish while reconnecting fails (the event waits in the outbox and
                # goes out in order) instead of sitting in nats-py's buffer, sent ahead of the backlog.
                nc = await connect(
                    name="chat-publisher", url=self.url, reconnected_cb=self._on_reconnect, pending_size=0
                )
                js = nc.jetstream()
                await ensure_stream(js)
            except Exception as exc:
                # NATS is down: whatever arrives meanwhile stays in the outbox for the relay.
                logger.warning("publisher: %s; retrying in %.1f s (events wait in the outbox)", exc, backoff)
                if await self._drop_until(backoff):
                    return
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 0.5
            try:
                await self._publish_loop(nc, js)
                return
            except Exception:
                logger.exception("publisher: connection lost; reconnecting")
            finally:
                try:
                    await nc.close()
                except Exception:  # already closed
                    pass

    async def _drop_until(self, delay: float) -> bool:
        """While disconnected: forget queued events (the relay owns them) for `delay`. True: stop."""
        assert self._queue is not None
        deadline = self._loop.time() + delay
        while True:
            remaining = deadline - self._loop.time()
            if remaining <= 0:
                return False
            try:
                item = await asyncio.wait_for(self._queue.get(), remaining)
            except TimeoutError:
                return False
            if item is None:
                return True

    async def _publish_loop(self, nc: Client, js: JetStreamContext) -> None:
        assert self._queue is not None
        await self._on_reconnect()  # (re)connected: what was left meanwhile goes first
        while True:
            item = await self._queue.get()
            stop = item is None
            submitted_at, batch = item or (timezone.now(), [])
            # Per subject, when the batch's first event of it was submitted (after its commit).
            firsts = {r.subject: submitted_at for r in reversed(batch)}
            while not stop and not self._queue.empty() and len(batch) < BATCH_MAX:
                more = self._queue.get_nowait()
                stop = more is None
                if more is not None:
                    for record in more[1]:
                        firsts.setdefault(record.subject, more[0])
                    batch.extend(more[1])
            if not nc.is_connected:
                if batch:
                    # Reconnecting: the rows stay in the outbox, unmarked, and go first once connected.
                    logger.warning("publisher: NATS disconnected; %d event(s) left in the outbox", len(batch))
            elif not await self._drain_before(js, batch, submitted_at, firsts):
                if batch:
                    logger.warning("publisher: %d event(s) left in the outbox behind older ones", len(batch))
            elif batch:
                result = await publish_batch(js, batch)
                if result.failed:
                    logger.warning("publisher: %d event(s) not published, left to the relay", len(result.failed))
                self._unrecorded.merge(result)
                if self._recorder is None or self._recorder.done():
                    delay = 0.0 if stop else RECORD_DELAY_SECONDS
                    self._recorder = asyncio.create_task(self._record_soon(delay))
            if stop:
                if self._recorder is not None:
                    await self._recorder
                return

    async def _drain_before(
        self, js: JetStreamContext, batch: list[OutboxRecord], submitted_at: datetime, firsts: dict[str, datetime]
    ) -> bool:
        """Publishes first the outbox's unpublished events of the batch's subjects stored before the
        batch's first event of their subject (`firsts`: when it was submitted, after its commit); of
        every subject stored before `submitted_at` when `batch` is empty (after a reconnect). False:
        some of them could not be published, so `batch` must wait behind them."""
        subjects = set(firsts) if batch else None
        before = max(firsts.values()) if batch else submitted_at
        skip = {r.event_id for r in batch} | set(self._unrecorded.published)  # ours, in flight
        while True:
            try:
                older = await self._loop.run_in_executor(self._db, _unpublished, before, subjects, skip)
                if subjects is not None:  # a batch coalesced from several requests: each subject's own bound
                    older = [r for r in older if r.created_at is None or r.created_at < firsts[r.subject]]
            except Exception as exc:
                # Storage unreachable even on a fresh connection: no process can store newer events
                # either, so the batch goes now rather than wait for the database.
                logger.warning("publisher: cannot read the outbox (%r); publishing %d event(s)", exc, len(batch))
                return True
            if not older:
                return True
            logger.info("publisher: publishing %d older event(s) from the outbox first", len(older))
            result = await publish_batch(js, older)
            await self._loop.run_in_executor(self._db, self._record, result)
            if result.failed:
                return False
            skip.update(r.event_id for r in older)
            if len(older) < BATCH_MAX:
                return True

    async def _record_soon(self, delay: float) -> None:
        """Marks the outcome of every batch of the last `delay` seconds in one go: one UPDATE for a
        burst, not one per request. The relay's grace period covers rows not yet marked."""
        while True:
            await asyncio.sleep(delay)
            result, self._unrecorded = self._unrecorded, BatchResult()
            if not result.published and not result.failed and not result.dead:
                # Idle: let the database connection go (a process that publishes rarely holds none).
                await self._loop.run_in_executor(self._db, connections.close_all)
                return  # (what arrived while the last one was written is written by this loop)
            await self._loop.run_in_executor(self._db, self._record, result)

    @staticmethod
    def _record(result: BatchResult) -> None:
        try:
            record_outcome(result)
        except DatabaseError as exc:
            # The rows stay unpublished; the relay republishes them and JetStream drops the copies.
            logger.warning("publisher: could not mark %d event(s) published: %r", len(result.published), exc)
            close_old_connections()
        except Exception:
            logger.exception("publisher: could not mark %d event(s) published", len(result.published))
            close_old_connections()


def _unpublished(created_before: datetime, subjects: set[str] | None, skip: set[uuid.UUID]) -> list[OutboxRecord]:
    """The older unpublished events to publish first (a second try on a fresh connection: the first
    use of a pooled connection after a database restart fails)."""
    for attempt in (1, 2):
        try:
            return get_repository().outbox_unpublished(
                limit=BATCH_MAX, now=timezone.now(), created_before=created_before, subjects=subjects, exclude=skip
            )
        except DatabaseError:
            close_old_connections()
            if attempt == 2:
                raise
    return []


_publisher: Publisher | None = None
_publisher_lock = threading.Lock()


def publish_on_commit_enabled() -> bool:
    return bool(getattr(settings, "CHAT_PUBLISH_ON_COMMIT", False)) and bool(getattr(settings, "NATS_URL", ""))


def get_publisher() -> Publisher:
    global _publisher
    with _publisher_lock:
        if _publisher is None:
            _publisher = Publisher(nats_url())
            _publisher.start()
        return _publisher


def stop_publisher(timeout: float = 5.0) -> None:
    """Stops the process's publisher (the next publish starts a new one, e.g. after NATS_URL changed)."""
    global _publisher
    with _publisher_lock:
        publisher, _publisher = _publisher, None
    if publisher is not None:
        publisher.stop(timeout)


def publish_on_commit(records: list[OutboxRecord]) -> None:
    """The after-commit listener: hands the events to the background publisher. Never raises."""
    if not publish_on_commit_enabled():
        return
    try:
        get_publisher().submit(records)
    except Exception:
        logger.exception("publisher unavailable; %d event(s) left to the relay", len(records))
