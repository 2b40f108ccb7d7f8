"""The WebSocket stream `/ws/chat/v1/stream?client_id=...&room_id=...&cursor=...` (SPEC.md §5).

A thin interface: the rules live in streaming.rules (typing frames: streaming.typing_indicator), reads
in streaming.selectors (through database_sync_to_async), JetStream reads in streaming.replay. The
connection:
- answers an error frame and closes: 4001 without a valid session/token, 4000 without client_id,
  4003 when `room_id` is not a room of the user (existence is not revealed);
- joins `user.<id>` and `room.<id>` of the rooms it streams (the one asked for, or all of the
  user's), registers in the stream registry (push skips live users), sends `{"connected": true}` at
  once and, through the process's one heartbeat ticker (streaming.heartbeat), every
  CHAT_STREAM_HEARTBEAT_SECONDS;
- with `cursor`, first replays what the user missed after it (its rooms and direct subject, in
  stream order), then goes live; a cursor JetStream no longer covers gets `resync_required`;
- per live event: drops duplicates, replays a gap first when the event's `prev` shows one was lost,
  then applies the per-event rules; every event frame carries its `cursor`, and is sent as the
  bridge (or replay) encoded it, once per event: a connection only decides, it does not re-encode
  (nor hop to a thread per event: see dispatch());
- takes client frames `{"typing": {"room_id", "is_typing"}}` (members only, rate-limited) and
  `{"ping": ...}` (answered with `{"pong": ...}`), at most CHAT_STREAM_FRAME_RATE per 10 s (more get
  one `rate_limited` error frame per window and are ignored); binary, non-JSON, too deep or unknown
  frames get an error frame, frames over CHAT_STREAM_MAX_FRAME_BYTES an error frame and close 4009
  (streaming.frame_limits.decode_frame); a user's streams beyond CHAT_MAX_SOCKETS_PER_USER are refused (4029);
- closes with 4001 once its token or session no longer holds (streaming.revocation): at once on a
  `stream.recheck`, else at the next heartbeat's batch check;
- closes with 4013 (try again later) after a `service_unavailable` error frame when a service it
  needs does not answer (kernel.exceptions.UNAVAILABLE: the database or its pool, Redis, Cassandra),
  at the handshake or later, with one warning line; the client reconnects with its cursor and gets
  what it missed (a reconnect replay waiting on the database is not turned into `resync_required`).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from domain.access import is_room_member
from events.subjects import direct_subject, room_subject
from kernel.errors import NotFound
from kernel.exceptions import UNAVAILABLE
from kernel.metrics import (
    STREAM_EVENT_LATENCY,
    STREAM_EVENTS_DELIVERED,
    STREAM_GAPS,
    STREAM_REPLAYS,
    STREAM_RESYNC_REQUIRED,
    STREAM_SOCKETS_OPEN,
)
from streaming import frame_limits, rules, selectors, typing_indicator
from streaming.db import db_async
from streaming.envelope import GROUP_MESSAGE_TYPE, StreamItem, room_group, user_group
from streaming.heartbeat import HEARTBEAT_TEXT, process_ticker
from streaming.jetstream import MAX_AGE_SECONDS, NatsUnavailableError
from streaming.nats_client import shared_connection
from streaming.registry import get_registry
from streaming.replay import ResyncRequiredError, read_after, stream_bounds
from streaming.revocation import RECHECK_MESSAGE_TYPE, Credential, credential_of, invalid_credentials
from streaming.rules import Action, StreamCursor, Verdict, error_frame, frame_text_of

logger = logging.getLogger(__name__)

CLOSE_CLIENT_ID_NEEDED = 4000
CLOSE_UNAUTHENTICATED = 4001
CLOSE_ROOM_NOT_ALLOWED = 4003
RESYNC_MESSAGE = "Missed events cannot be replayed: sync again."
_LEAVING: set[asyncio.Task[None]] = set()  # disconnects of killed consumers, held until done
# The last event whose stored→socket latency this process observed: the sockets of a fan-out that
# send the same event after it do not observe it again (a histogram per socket would cost 3x the
# delivery counter; interleaved events may each be observed a few times).
_latency_observed: tuple[str, int] = ("", 0)


def _param(params: dict[str, list[str]], name: str) -> str:
    values = params.get(name) or [""]
    return values[0].strip()


class StreamConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]  # channels ships no types
    user_id: int | None = None
    cursor: StreamCursor | None = None
    credential: Credential | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.registered = False  # in the stream registry (presence), until disconnect() takes it out
        self.joined: set[str] = set()

    async def connect(self) -> None:
        self.user_id = None
        self.cursor = None
        self.room_subjects: set[str] = set()
        self.single_room: uuid.UUID | None = None
        self.typing_limiter: typing_indicator.TypingLimiter | None = None  # at the first typing frame
        self.frame_limiter: frame_limits.FrameLimiter | None = None  # at the first client frame
        # Per room, the user's membership as update_visibility() reads it (loaded at the room's first
        # update_message; dropped when the user joins or leaves the room).
        self.memberships: dict[str, rules.Membership | None] = {}
        await self.accept()

        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self._refuse(CLOSE_UNAUTHENTICATED, "invalid_token", "Authentication required.")
            return
        params = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.client_id = _param(params, "client_id")
        if not self.client_id:
            await self._refuse(CLOSE_CLIENT_ID_NEEDED, "client_id_needed", "The client_id query parameter is required.")
            return
        if len(await get_registry().connections(int(user.pk))) >= frame_limits.max_sockets_per_user():
            await self._refuse(
                frame_limits.CLOSE_TOO_MANY_CONNECTIONS,
                "too_many_connections",
                f"At most {frame_limits.max_sockets_per_user()} open streams per user: close another first.",
            )
            return
        room_param = _param(params, "room_id")
        try:
            self.single_room = uuid.UUID(room_param) if room_param else None
            room_ids = await db_async(selectors.stream_room_ids)(user_id=user.pk, room_id=self.single_room)
        except (ValueError, NotFound):
            await self._refuse(CLOSE_ROOM_NOT_ALLOWED, "not_found", "Room not found.")
            return

        self.user_id = int(user.pk)
        self.credential = credential_of(self.scope, self.user_id)
        self.direct_subject = direct_subject(self.user_id)
        self.room_subjects = {room_subject(r) for r in room_ids}
        # The stream's end BEFORE joining the groups: whatever is stored after it is this connection's,
        # live or (forwarded before the groups were joined) caught up from JetStream below.
        bounds = await self._bounds()
        await self._join([user_group(self.user_id), *(room_group(r) for r in room_ids)])
        await get_registry().register(self.user_id, self.channel_name)
        self.registered = True
        STREAM_SOCKETS_OPEN.inc()
        await self.send(text_data=HEARTBEAT_TEXT)

        cursor_param = _param(params, "cursor")
        if not cursor_param or not await self._replay_from(cursor_param, bounds):
            await self._go_live(bounds)
        process_ticker().join(self)

    async def _go_live(self, bounds: tuple[int, int] | None) -> None:
        """From the stream's end at connect on: what the groups were joined too late for is read back."""
        self.cursor = StreamCursor(floor=bounds[1] if bounds else None)
        if bounds is not None:
            for item in await self._read(subjects=self._subjects(), after=bounds[1], quiet=True):
                await self._process(item, live=False)

    def _subjects(self) -> list[str]:
        return [self.direct_subject, *sorted(self.room_subjects)]

    async def dispatch(self, message: dict[str, Any]) -> None:
        """channels' dispatch, but a live event skips its sweep of stale database connections (a
        thread hop per socket per event): this consumer reaches the database only through db_async,
        which sweeps around every call."""
        kind = message.get("type")
        try:
            if kind == GROUP_MESSAGE_TYPE:
                await self.stream_event(message)
            elif kind == RECHECK_MESSAGE_TYPE:
                await self.stream_recheck(message)
            else:
                await super().dispatch(message)
        except UNAVAILABLE as exc:
            if kind == "websocket.disconnect":
                raise
            await self._unavailable(exc)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:  # also when the server cancels the application without a disconnect
            process_ticker().leave(self)
            if self.registered or self.joined:
                # Killed before its disconnect ran (daphne's application_close_timeout: a connect
                # stuck on a dependency when the client left): the leaving is done in a task of its
                # own, which the cancellation that cut this one short cannot reach.
                _LEAVING.add(task := asyncio.get_running_loop().create_task(self.disconnect(1006)))
                task.add_done_callback(_LEAVING.discard)

    async def disconnect(self, code: int) -> None:
        process_ticker().leave(self)  # first: no heartbeat, no refresh after the unregister below
        if self.registered and self.user_id is not None:
            self.registered = False
            STREAM_SOCKETS_OPEN.dec()
            try:
                await get_registry().unregister(self.user_id, self.channel_name)
            except Exception:
                logger.warning("stream: unregister of %s failed", self.channel_name, exc_info=True)
        for group in list(self.joined):
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:
                logger.warning("stream: group_discard %s failed", group, exc_info=True)
        self.joined.clear()

    # --- client frames -----------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.cursor is None:
            return
        if self.frame_limiter is None:
            self.frame_limiter = frame_limits.FrameLimiter()
        if not self.frame_limiter.allow():
            if self.frame_limiter.should_tell():
                await self.send_json(error_frame("rate_limited", "Too many frames: slow down.", ""))
            return
        content = frame_limits.decode_frame(text_data, bytes_data)
        if isinstance(content, frame_limits.FrameRefusal):
            if content.close_code is not None:
                await self._refuse(content.close_code, content.code, content.message)
            else:
                await self.send_json(error_frame(content.code, content.message))
            return
        if "ping" in content:
            await self.send_json({"pong": content["ping"]})
        elif "typing" in content:
            await self._typing(content["typing"])
        else:
            await self.send_json(error_frame("invalid_request_data", "Unknown frame: send typing or ping."))

    async def _typing(self, value: Any) -> None:
        assert self.user_id is not None
        parsed = typing_indicator.parse_typing(value)
        if parsed is None:
            await self.send_json(error_frame("invalid_request_data", "typing needs room_id and is_typing."))
            return
        room_id, is_typing = parsed
        if room_subject(room_id) not in self.room_subjects and not await db_async(is_room_member)(
            user_id=self.user_id, room_id=room_id
        ):
            await self.send_json(error_frame("not_found", "Room not found."))
            return
        if self.typing_limiter is None:
            self.typing_limiter = typing_indicator.TypingLimiter()
        if not self.typing_limiter.allow(str(room_id), is_typing):
            return
        try:
            nc = await shared_connection()
            await typing_indicator.typing_publish(nc, user_id=self.user_id, room_id=room_id, is_typing=is_typing)
        except Exception as exc:  # ephemeral: a lost typing frame is not worth an error
            logger.warning("stream: typing of user %s in %s not published: %s", self.user_id, room_id, exc)

    # --- events from the bridge ------------------------------------------------------------------

    async def stream_event(self, message: dict[str, Any]) -> None:
        """Channel-layer message `stream.event` (streaming.envelope.StreamItem.group_message)."""
        if self.cursor is None:
            return
        await self._process(StreamItem.from_group_message(message), live=True)

    async def _process(
        self, item: StreamItem, *, live: bool, visible: bool = True, also_subjects: frozenset[str] = frozenset()
    ) -> None:
        """Delivers an item of the connection's subjects (or of `also_subjects`: rooms left while away)."""
        assert self.cursor is not None
        if item.subject != self.direct_subject and item.subject not in self.room_subjects | also_subjects:
            return
        check = self.cursor.check(item)
        if check.verdict is Verdict.DUPLICATE:
            return
        if check.verdict is Verdict.GAP and live:
            await self._replay_gap(item, after=check.after)
        self.cursor.mark(item)
        if visible and await self._apply(item) and live and item.stored_at is not None:
            _observe_latency(item)

    async def _apply(self, item: StreamItem) -> bool:
        """Sends the item's frame if the rules let this connection see it; True if it did."""
        assert self.user_id is not None
        action = rules.event_action(event=item.view, actor_user_id=item.actor_user_id, user_id=self.user_id)
        if action is Action.DROP:
            return False
        try:
            room_id = uuid.UUID(str(item.view["room_id"]))
        except ValueError:
            return False
        if action in (Action.JOIN, Action.LEAVE):
            self.memberships.pop(str(room_id), None)
        elif not await self._may_see(item, room_id):
            return False
        if action in (Action.ATTACH_ROOM, Action.JOIN):
            room = await db_async(selectors.stream_room)(user_id=self.user_id, room_id=room_id)
            if room is None:
                return False  # not (any more) a member: the room is not this user's to see
            await self.send(text_data=frame_text_of(item, room=room))
            STREAM_EVENTS_DELIVERED.inc()
            if (
                action is Action.JOIN
                and rules.joins_streaming(event=item.view, actor_user_id=item.actor_user_id, user_id=self.user_id)
                and self.single_room in (None, room_id)
            ):
                await self._start_room(room_id, after=item.seq)
            return True
        await self.send(text_data=item.text)
        STREAM_EVENTS_DELIVERED.inc()
        if action is Action.LEAVE and rules.leaves_streaming(event=item.view, user_id=self.user_id):
            await self._stop_room(room_id)
        return True

    async def _may_see(self, item: StreamItem, room_id: uuid.UUID) -> bool:
        """An edit or reaction carries the whole message: it reaches only users REST would show it to
        (joined after it was sent, hidden for them: no), live and replayed alike."""
        assert self.user_id is not None
        if "update_message" not in item.view:
            return True
        key = str(room_id)
        if key not in self.memberships:
            found = await db_async(selectors.stream_membership)(user_id=self.user_id, room_id=room_id)
            self.memberships[key] = rules.Membership(*found) if found else None
        membership = self.memberships[key]
        verdict = rules.update_visibility(item.view, user_id=self.user_id, membership=membership)
        if verdict is rules.Visibility.VISIBLE:
            return True
        if membership is None:
            return False  # not an active member (any more): REST shows them nothing of the room
        try:
            message_id = uuid.UUID(str(item.view["update_message"]["id"]))
        except (KeyError, TypeError, ValueError):
            return False
        return bool(await db_async(selectors.message_visible)(user_id=self.user_id, message_id=message_id))

    # --- rooms joining and leaving the connection --------------------------------------------------

    async def _join(self, groups: list[str]) -> None:
        new = [g for g in groups if g not in self.joined]
        await asyncio.gather(*(self.channel_layer.group_add(g, self.channel_name) for g in new))
        self.joined.update(new)

    async def _start_room(self, room_id: uuid.UUID, *, after: int) -> None:
        """Streams a room from now on, without a reconnect; replays what it missed since `after`."""
        assert self.cursor is not None
        subject = room_subject(room_id)
        if subject in self.room_subjects:
            return
        self.room_subjects.add(subject)
        await self._join([room_group(room_id)])
        self.cursor.start_subject(subject, after)
        # Events of the room forwarded between the join and our group_add reached no group of ours.
        for item in await self._read(subjects=[subject], after=after, quiet=True):
            await self._process(item, live=False)

    async def _stop_room(self, room_id: uuid.UUID) -> None:
        subject = room_subject(room_id)
        self.room_subjects.discard(subject)
        group = room_group(room_id)
        if group in self.joined:
            self.joined.discard(group)
            await self.channel_layer.group_discard(group, self.channel_name)

    # --- replay ------------------------------------------------------------------------------------

    async def _bounds(self) -> tuple[int, int] | None:
        try:
            nc = await shared_connection()
            return await stream_bounds(nc.jetstream())
        except Exception as exc:
            logger.warning("stream: JetStream unavailable at connect: %s", exc)
            return None

    async def _read(
        self, *, subjects: list[str], after: int, before: int | None = None, quiet: bool = False
    ) -> list[StreamItem]:
        """read_after(); on failure sends `resync_required` (unless quiet) and returns nothing."""
        try:
            nc = await shared_connection()
            return await read_after(nc.jetstream(), subjects=subjects, after=after, before=before)
        except (ResyncRequiredError, NatsUnavailableError) as exc:
            message = str(exc)
        except Exception as exc:
            logger.exception("stream: replay of %s after %d failed", subjects[:3], after)
            message = f"replay failed: {exc!r}"
        if not quiet:
            STREAM_RESYNC_REQUIRED.inc()
            await self.send_json(error_frame("resync_required", RESYNC_MESSAGE, message))
        return []

    async def _replay_from(self, cursor_param: str, bounds: tuple[int, int] | None) -> bool:
        """The reconnect replay: everything of the user's subjects after the client's cursor.

        False (after a `resync_required` frame) when it cannot be done: the caller goes live then.
        """
        assert self.user_id is not None
        try:
            cursor = int(cursor_param)
            if cursor < 0:
                raise ValueError
        except ValueError:
            STREAM_RESYNC_REQUIRED.inc()
            await self.send_json(error_frame("resync_required", "Unknown cursor: sync again.", cursor_param))
            return False
        if bounds is None:
            STREAM_RESYNC_REQUIRED.inc()
            await self.send_json(error_frame("resync_required", RESYNC_MESSAGE))
            return False
        STREAM_REPLAYS.labels(kind="reconnect").inc()
        try:
            nc = await shared_connection()
            # The stream's end now (not at connect): the groups are joined, later events come live.
            # Rooms left while away too: their events up to the user's own room_leave are theirs.
            left = await db_async(selectors.left_room_ids)(user_id=self.user_id, within_seconds=MAX_AGE_SECONDS)
            left_subjects = frozenset(room_subject(r) for r in left)
            items = await read_after(nc.jetstream(), subjects=[*self._subjects(), *left_subjects], after=cursor)
        except UNAVAILABLE:
            raise  # the client reconnects with the same cursor (dispatch closes with 4013)
        except Exception as exc:
            if not isinstance(exc, ResyncRequiredError | NatsUnavailableError):
                logger.exception("stream: replay after cursor %d failed", cursor)
            STREAM_RESYNC_REQUIRED.inc()
            await self.send_json(error_frame("resync_required", RESYNC_MESSAGE, str(exc)))
            return False
        self.cursor = StreamCursor(floor=cursor)
        verdicts = rules.replay_visible(items, user_id=self.user_id, left_room_ids=[str(r) for r in left])
        for item, visible in zip(items, verdicts, strict=True):
            await self._process(item, live=False, visible=visible, also_subjects=left_subjects)
        self.cursor.floor = max(bounds[1], cursor)
        return True

    async def _replay_gap(self, item: StreamItem, *, after: int) -> None:
        """Live delivery skipped events on the item's subject: send them first, from JetStream."""
        assert self.cursor is not None
        logger.info("stream: gap on %s after #%d (next #%d); replaying", item.subject, after, item.seq)
        STREAM_GAPS.inc()
        STREAM_REPLAYS.labels(kind="gap").inc()
        for missed in await self._read(subjects=[item.subject], after=after, before=item.seq):
            if self.cursor.check(missed).verdict is not Verdict.DUPLICATE:
                self.cursor.mark(missed)
                await self._apply(missed)

    # --- revocation (streaming.revocation) -------------------------------------------------------

    async def stream_recheck(self, message: dict[str, Any]) -> None:
        """The user's token, account or session changed: close unless this connection's still holds."""
        credential = self.credential
        if credential is None:
            return
        ended = str(message.get("ended_session") or "")
        if (credential.kind == "session" and credential.key == ended) or credential in await db_async(
            invalid_credentials
        )([credential]):
            await self.revoke()

    async def revoke(self) -> None:
        self.credential = None  # closing: not checked again
        await self._refuse(
            CLOSE_UNAUTHENTICATED, "invalid_token", "Signed out, or the token was revoked: sign in again."
        )

    # --- heartbeat (streaming.heartbeat calls it for every connection of the process) ---------------

    async def heartbeat(self) -> None:
        await self.send(text_data=HEARTBEAT_TEXT)

    async def _unavailable(self, exc: Exception) -> None:
        """A service the stream needs does not answer: no traceback, one line; the client retries."""
        logger.warning(
            "stream: service unavailable, closing %s with %d: %r",
            self.channel_name,
            frame_limits.CLOSE_TRY_AGAIN_LATER,
            exc,
        )
        self.cursor = None  # delivers nothing more: the client's reconnect replays from its cursor
        process_ticker().leave(self)
        await self._refuse(
            frame_limits.CLOSE_TRY_AGAIN_LATER,
            "service_unavailable",
            "A service the chat needs does not answer: reconnect shortly.",
        )

    async def _refuse(self, code: int, error_code: str, message: str) -> None:
        await self.send_json(error_frame(error_code, message))
        await self.close(code)


def _observe_latency(item: StreamItem) -> None:
    """Observes stored→socket, unless the last observation of this process was of the same event."""
    global _latency_observed
    key = (item.subject, item.seq)
    if key != _latency_observed and item.stored_at is not None:
        _latency_observed = key
        STREAM_EVENT_LATENCY.observe(max(time.time() - item.stored_at, 0.0))
