"""The bridge: JetStream stream `CHAT_EVENTS` → channel-layer groups (DESIGN.md "Events" 3).

One bridge process holds ONE durable push consumer on the stream (not one per client, as the
original did). For each event it decodes the envelope once, encodes the sockets' frame text once (a
socket sends it as it is, envelope.StreamItem) and `group_send`s it, with the few fields the
per-connection rules read, to `room.<id>` (room subjects) or `user.<id>` (direct subjects) with its
stream sequence (the sockets' cursor) and `prev`, the sequence of the previous event it sent on the
same subject, which lets a socket notice that the channel layer dropped one (it then replays the gap
from JetStream). A `status_update` SENT goes to its sender's user group only, outside that chain
(envelope.route). The bridge acks an event only after the send; if the channel layer fails it
retries in place, so the order is never broken by a redelivery.

Several bridges, per-room order kept: `--partition i --partitions N`. A subject belongs to partition
`crc32(subject) % N`; bridge i owns durable `chat-bridge-p<i>of<N>`, which delivers the whole stream
in order, forwards the events of its own subjects and acks the others unseen. Every event of a room
(or of a user's direct subject) therefore goes through exactly one bridge, in stream order, while the
rooms spread over N processes. Each bridge reads the whole stream (cheap: decoding is done only for
owned events), and one process per partition may run (a second one is refused: the durable is
bound). Changing N starts new durables (from new events on); delete the old ones by hand.

Restarts: a durable push consumer would redeliver the events a dead bridge left unacked only after
the ack wait, AFTER newer ones, so at start-up a bridge resets its durable to its ack floor
(JetStream ADR-60): delivery resumes, in order, at the first unacked event. Events the dead bridge had
sent but not acked are sent again; sockets drop them by sequence. The `prev` of the first event of a
subject after a restart is looked up in JetStream (direct get: the last message on the subject before
it, skipping the ones routed off the chain).

Push: with a push handler the bridge also runs a second durable per partition
(`...-push-p<i>of<N>`, room subjects only) that hands `message` events to streaming.push; its claims
are unique per (event, user), so a redelivery never notifies twice. It is a separate consumer so that
slow push back ends (webhooks) never hold up live delivery; under load run it in a process of its own
(`chat_bridge --push-only` next to `chat_bridge --no-push`): its storage work would otherwise compete
with live forwarding for the interpreter.

Shutdown (SIGTERM): the subscriptions are drained (the events already received are forwarded and
acked), then the connection closes.

Metrics (kernel.metrics): each forwarded event counts once; every BRIDGE_CONSUMER_POLL_SECONDS the
bridge reads its durables' info and sets their pending (lag) and ack-pending gauges.
"""

from __future__ import annotations

import asyncio
import json
import logging
import zlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from channels.layers import get_channel_layer
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError

from events.subjects import ROOM_SUBJECT_PREFIX
from kernel.metrics import BRIDGE_CONSUMER_ACK_PENDING, BRIDGE_CONSUMER_PENDING, BRIDGE_EVENTS_FORWARDED
from streaming.envelope import (
    Envelope,
    EnvelopeError,
    StreamItem,
    decode_envelope,
    decode_envelope_of,
    item_subject,
    route,
)
from streaming.jetstream import STREAM_NAME, ensure_stream

logger = logging.getLogger(__name__)

DURABLE_PREFIX = "chat-bridge"
MAX_ACK_PENDING = 4096
ACK_WAIT_SECONDS = 30.0
PREV_CACHE_SIZE = 200_000
BRIDGE_CONSUMER_POLL_SECONDS = 5.0
STREAM_SUBJECT_ANY = f"{ROOM_SUBJECT_PREFIX}.*"


class BridgeError(RuntimeError):
    """The bridge cannot start (the message says why)."""


def partition_of(subject: str, partitions: int) -> int:
    """The partition owning a subject: stable across processes and restarts."""
    return zlib.crc32(subject.encode()) % partitions if partitions > 1 else 0


def durable_name(prefix: str, partition: int, partitions: int, kind: str = "") -> str:
    return f"{prefix}{'-' + kind if kind else ''}-p{partition}of{partitions}"


async def previous_on_subject(nc: Client, subject: str, seq: int, *, tries: int = 8) -> int | None:
    """The sequence of the last stored event on `subject` before `seq` that the bridge sent to the
    subject's own group (0: none); None if unknown. Skips events routed elsewhere (SENT statuses)."""
    before = seq
    for _ in range(tries):
        if before <= 1:
            return 0
        request = json.dumps({"multi_last": [subject], "up_to_seq": before - 1, "batch": 1}).encode()
        try:
            reply = await nc.request(f"$JS.API.DIRECT.GET.{STREAM_NAME}", request, timeout=2.0)
        except Exception as exc:
            logger.warning("bridge: cannot look up the event before %s #%d: %s", subject, seq, exc)
            return None
        headers = reply.headers or {}
        if "Nats-Sequence" not in headers:
            return 0 if headers.get("Status") in ("404", "204") else None
        found = int(headers["Nats-Sequence"])
        try:
            _, chained = route(subject, decode_envelope(reply.data).event)
        except EnvelopeError:
            chained = True
        if chained:
            return found
        before = found
    return None


class PrevTracker:
    """The last forwarded sequence per subject (bounded LRU; misses are looked up in JetStream)."""

    def __init__(self, nc: Client, size: int = PREV_CACHE_SIZE) -> None:
        self._nc = nc
        self._size = size
        self._last: OrderedDict[str, int] = OrderedDict()

    async def prev(self, subject: str, seq: int) -> int | None:
        known = self._last.get(subject)
        if known is not None and known < seq:
            self._last.move_to_end(subject)
            return known
        return await previous_on_subject(self._nc, subject, seq)

    def forwarded(self, subject: str, seq: int) -> None:
        self._last[subject] = seq
        self._last.move_to_end(subject)
        if len(self._last) > self._size:
            self._last.popitem(last=False)


PushHandler = Callable[[Envelope, str, int], Awaitable[None]]


class Bridge:
    """One partition of the bridge, running in the current event loop (a command, or `runchat`)."""

    def __init__(
        self,
        nc: Client,
        *,
        partition: int = 0,
        partitions: int = 1,
        durable_prefix: str = DURABLE_PREFIX,
        channel_layer: Any = None,
        push_handler: PushHandler | None = None,
        push_kinds: tuple[str, ...] = ("message",),
        live: bool = True,
    ) -> None:
        if partitions < 1 or not 0 <= partition < partitions:
            raise BridgeError(f"--partition must be in 0..{partitions - 1} (got {partition} of {partitions})")
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream()
        self.partition = partition
        self.partitions = partitions
        self.durable = durable_name(durable_prefix, partition, partitions)
        self.push_durable = durable_name(durable_prefix, partition, partitions, "push")
        self.layer = channel_layer or get_channel_layer()
        self.push_handler = push_handler
        self.push_kinds = push_kinds  # the event types the push handler wants (others are acked unseen)
        self.live = live
        self.prev = PrevTracker(nc)
        self.forwarded = 0
        self._subs: list[Any] = []
        self._durables: list[str] = []
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = False
        self._stopped = asyncio.Event()

    # --- life cycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        await ensure_stream(self.js)
        durables = []
        if self.live:
            await self._bind(self.durable, None, self._on_event)
            durables.append(self.durable)
        if self.push_handler is not None:
            await self._bind(self.push_durable, f"{ROOM_SUBJECT_PREFIX}.*", self._on_push_event)
            durables.append(self.push_durable)
        if not durables:
            raise BridgeError("nothing to do: neither live forwarding nor push")
        self._durables = durables
        self._watcher = asyncio.create_task(self._watch_consumers())
        logger.info(
            "bridge: partition %d of %d consuming %s (durables %s)",
            self.partition,
            self.partitions,
            STREAM_NAME,
            ", ".join(durables),
        )

    async def _bind(self, durable: str, filter_subject: str | None, cb: Callable[[Msg], Awaitable[None]]) -> None:
        for attempt in range(20):
            try:
                info = await self.js.consumer_info(STREAM_NAME, durable)
            except NotFoundError:
                config = api.ConsumerConfig(
                    durable_name=durable,
                    deliver_policy=api.DeliverPolicy.NEW,
                    ack_policy=api.AckPolicy.EXPLICIT,
                    ack_wait=ACK_WAIT_SECONDS,
                    max_ack_pending=MAX_ACK_PENDING,
                    deliver_subject=self.nc.new_inbox(),
                    filter_subject=filter_subject,
                    flow_control=True,
                    idle_heartbeat=5.0,
                )
                await self.js.add_consumer(STREAM_NAME, config)
                break
            if info.push_bound:
                # A SIGKILLed predecessor's interest lingers for a moment; a live twin does not go away.
                if attempt == 19:
                    raise BridgeError(f"durable {durable} is in use: another bridge runs this partition")
                await asyncio.sleep(0.25)
                continue
            if info.num_ack_pending:
                reset = await self.js.reset_consumer(STREAM_NAME, durable)
                logger.info("bridge: %s resumes at #%s (ack floor)", durable, reset.reset_seq)
            break

        async def guarded(msg: Msg) -> None:
            # nats-py hands a callback's exception to the error callback: log it here, with context.
            try:
                await cb(msg)
            except Exception:
                logger.exception("bridge: %s failed on %s; it will be redelivered", durable, msg.subject)

        sub = await self.js.subscribe(
            filter_subject or STREAM_SUBJECT_ANY, durable=durable, stream=STREAM_NAME, cb=guarded, manual_ack=True
        )
        self._subs.append(sub)

    def stop(self) -> None:
        """Asks the bridge to stop (signal handlers call it); `run()` then drains and returns."""
        self._stopping = True
        self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    async def run(self) -> None:
        """Starts, serves until stop(), then drains the subscriptions (in-flight events finish)."""
        await self.start()
        await self._stopped.wait()
        await self.drain()

    async def _watch_consumers(self) -> None:
        """Sets the consumer gauges from JetStream's consumer info, until the bridge drains."""
        while True:
            for durable in self._durables:
                try:
                    info = await self.js.consumer_info(STREAM_NAME, durable, timeout=2.0)
                except Exception as exc:
                    logger.debug("bridge: no consumer info of %s: %r", durable, exc)
                    continue
                BRIDGE_CONSUMER_PENDING.labels(durable=durable).set(info.num_pending or 0)
                BRIDGE_CONSUMER_ACK_PENDING.labels(durable=durable).set(info.num_ack_pending or 0)
            await asyncio.sleep(BRIDGE_CONSUMER_POLL_SECONDS)

    async def drain(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        for sub in self._subs:
            try:
                await sub.drain()
            except Exception:
                logger.debug("bridge: drain failed", exc_info=True)
        self._subs.clear()
        logger.info("bridge: partition %d stopped after forwarding %d event(s)", self.partition, self.forwarded)

    # --- events ----------------------------------------------------------------------------------

    def owns(self, subject: str) -> bool:
        return partition_of(subject, self.partitions) == self.partition

    async def _on_event(self, msg: Msg) -> None:
        subject = msg.subject
        if not self.owns(subject):
            await msg.ack()
            return
        seq = msg.metadata.sequence.stream
        try:
            envelope = decode_envelope(msg.data)
        except EnvelopeError as exc:
            logger.error("bridge: dropping %s #%d: %s", subject, seq, exc)
            await msg.ack()
            return
        group, chained = route(subject, envelope.event)
        if group is None:
            await msg.ack()
            return
        item = StreamItem.of_event(  # the socket frame's text is encoded here, once for every socket
            subject=item_subject(subject),
            seq=seq,
            prev=await self.prev.prev(subject, seq) if chained else None,
            actor_user_id=envelope.actor_user_id,
            event=envelope.event,
            chained=chained,
            stored_at=msg.metadata.timestamp.timestamp(),
        )
        if not await self._send(group, item.group_message()):
            return  # stopping: not acked, delivered again after the restart
        if chained:
            self.prev.forwarded(subject, seq)
        self.forwarded += 1
        BRIDGE_EVENTS_FORWARDED.inc()
        await msg.ack()

    async def _send(self, group: str, message: dict[str, Any]) -> bool:
        """group_send, retried in place until it works (order first); False if stopping meanwhile."""
        delay = 0.05
        while True:
            try:
                await self.layer.group_send(group, message)
                return True
            except Exception:
                logger.exception("bridge: group_send to %s failed; retrying in %.2f s", group, delay)
            if self._stopping:
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _on_push_event(self, msg: Msg) -> None:
        if not self.owns(msg.subject) or self.push_handler is None:
            await msg.ack()
            return
        try:
            envelope = decode_envelope_of(msg.data, self.push_kinds)
        except EnvelopeError:
            envelope = None  # logged by the live consumer
        if envelope is None:
            await msg.ack()
            return
        seq = msg.metadata.sequence.stream
        try:
            await self.push_handler(envelope, msg.subject, seq)
        except Exception:
            logger.exception("bridge: push for %s #%d failed; retrying later", msg.subject, seq)
            await msg.nak(delay=5.0)
            return
        await msg.ack()
