"""Push notifications of new messages (SPEC.md §4, DESIGN.md "Where we do better").

Recipients: the room's active participants who have not muted it (in p2p that is the partner unless
muted), minus the sender, minus users with a live stream connection (streaming.registry): they see
the message on their socket. The notification carries the decrypted text, the sender's name and the
room.

Exactly once: the bridge's push consumer calls `push_message_event()` for every `message` event; it
first claims one PushNotification row per (event, user) (unique), then delivers the claimed rows that
are still pending. A redelivered event finds its rows claimed and sends nothing twice. Push rows live
in the Django database on every storage back end, like users.

Back ends (CHAT_PUSH_BACKEND, a dotted path to a PushBackend subclass):
- `streaming.push.DatabasePushBackend` (default): the stored rows are the notifications (admin).
- `streaming.push.WebhookPushBackend`: POSTs each notification as JSON to CHAT_PUSH_WEBHOOK_URL,
  retrying with back-off (CHAT_PUSH_WEBHOOK_ATTEMPTS tries); a 2xx answer is success.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from collections import OrderedDict
from datetime import timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from kernel import crypto
from kernel.metrics import PUSH_FAILED, PUSH_SENT
from streaming.db import db_async
from streaming.envelope import Envelope
from streaming.models import PushNotification, PushStatus
from streaming.registry import get_registry
from streaming.selectors import push_audience, push_recipients

logger = logging.getLogger(__name__)

PUSHED_MESSAGE_TYPES = ("user_message", "contact")
STALE_PENDING_SECONDS = 60.0


class PushError(Exception):
    """A back end could not deliver a notification."""


def push_payload(notification: PushNotification) -> dict[str, Any]:
    """What a push back end delivers for one notification."""
    return {
        "id": notification.pk,
        "event_id": str(notification.event_id),
        "user_id": str(notification.user_id),
        "room": {"id": notification.room_id, "name": notification.room_name, "type": notification.room_type},
        "message_id": notification.message_id,
        "sender": {"id": notification.sender_id, "name": notification.sender_name},
        "title": notification.room_name or notification.sender_name,
        "text": notification.text,
    }


class PushBackend:
    """Delivers one notification; raises PushError when it could not."""

    def send(self, notification: PushNotification) -> None:
        raise NotImplementedError


class DatabasePushBackend(PushBackend):
    """The notifications are the stored rows: nothing leaves the server (development, staff review)."""

    def send(self, notification: PushNotification) -> None:
        return None


class WebhookPushBackend(PushBackend):
    """POSTs the JSON of push_payload() to CHAT_PUSH_WEBHOOK_URL, with retries and back-off."""

    def __init__(self, url: str | None = None, *, attempts: int | None = None, timeout: float = 5.0) -> None:
        self.url = url if url is not None else str(getattr(settings, "CHAT_PUSH_WEBHOOK_URL", ""))
        self.attempts = attempts or int(getattr(settings, "CHAT_PUSH_WEBHOOK_ATTEMPTS", 3))
        self.timeout = timeout
        if not self.url:
            raise PushError("CHAT_PUSH_WEBHOOK_URL is not set")

    def send(self, notification: PushNotification) -> None:
        body = json.dumps(push_payload(notification)).encode()
        error = ""
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(min(0.5 * 2 ** (attempt - 1), 10.0))
            request = urllib.request.Request(
                self.url,
                data=body,
                method="POST",
                headers={
                    "Content-Type": "application/json",
                    "Idempotency-Key": f"{notification.event_id}:{notification.user_id}",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - configured URL
                    if 200 <= response.status < 300:
                        return
                    error = f"HTTP {response.status}"
            except urllib.error.HTTPError as exc:
                error = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError) as exc:
                error = str(exc)
        raise PushError(f"webhook {self.url} failed after {self.attempts} attempts: {error}")


@cache
def _backend_for(path: str) -> PushBackend:
    backend: PushBackend = import_string(path)()
    return backend


def get_push_backend() -> PushBackend:
    return _backend_for(str(getattr(settings, "CHAT_PUSH_BACKEND", "streaming.push.DatabasePushBackend")))


def _message_text(message: dict[str, Any], room_encryption_data: str) -> str:
    """The decrypted text: the event's `text`, else the content decrypted with the room key."""
    if message.get("text"):
        return str(message["text"])
    content = str(message.get("content") or "")
    if not content:
        return ""
    try:
        return crypto.content_decrypt(content, crypto.encryption_data_unwrap(room_encryption_data))
    except Exception:
        logger.warning("push: cannot decrypt message %s", message.get("id"))
        return ""


class AudienceCache:
    """Per room, its record and its participants as push needs them (selectors.push_audience).

    The push consumer keeps it exact: it reads each room's subject in order, so it sees the events of
    every membership or mute change (room_join, room_leave, is_room_updated) before the messages that
    follow them, and drops the room's entry then. The TTL bounds what a change without an event
    (an edit outside the services) could leave stale. Used from the push thread only.
    """

    def __init__(self, *, ttl: float = 60.0, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[uuid.UUID, tuple[float, tuple[Any, list[tuple[int, bool]]] | None]] = OrderedDict()

    def get(self, room_id: uuid.UUID) -> tuple[Any, list[tuple[int, bool]]] | None:
        now = time.monotonic()
        hit = self._entries.get(room_id)
        if hit is not None and hit[0] > now:
            self._entries.move_to_end(room_id)
            return hit[1]
        found = push_audience(room_id=room_id)
        self._entries[room_id] = (now + self.ttl, found)
        self._entries.move_to_end(room_id)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return found

    def invalidate(self, room_id: uuid.UUID) -> None:
        self._entries.pop(room_id, None)


def push_message_event(*, envelope: Envelope, audiences: AudienceCache | None = None) -> list[int]:
    """Claims and delivers the pushes of one `message` event; returns the users notified by this call.

    `audiences`: the push consumer's cache of rooms' participants (else they are read from storage).
    """
    event = envelope.event
    message = event.get("message")
    if not message or message.get("type") not in PUSHED_MESSAGE_TYPES or message.get("is_deleted"):
        return []
    try:
        room_id = uuid.UUID(str(event.get("room_id") or message.get("room_id")))
        event_id = uuid.UUID(str(event.get("event_id")))
    except ValueError:
        return []
    sender = message.get("sender") or {}
    sender_id = str(sender.get("id") or envelope.actor_user_id)
    sender_pk = int(sender_id) if sender_id.isdigit() else None
    if audiences is None:
        found = push_recipients(room_id=room_id, sender_id=sender_pk)
    else:
        cached = audiences.get(room_id)
        found = None if cached is None else (cached[0], [u for u, muted in cached[1] if not muted and u != sender_pk])
    if found is None:
        return []
    room, recipients = found
    online = get_registry().online_users(recipients)
    offline = [u for u in recipients if u not in online]
    if not offline:
        return []
    backend = get_push_backend()
    text = _message_text(message, room.encryption_data)
    name = room.name if room.is_group else str(sender.get("name") or "")
    with transaction.atomic():
        PushNotification.objects.bulk_create(
            [
                PushNotification(
                    event_id=event_id,
                    user_id=user_id,
                    room_id=str(room_id),
                    room_name=name,
                    room_type=room.type,
                    message_id=str(message.get("id") or ""),
                    sender_id=sender_id,
                    sender_name=str(sender.get("name") or ""),
                    text=text,
                    backend=f"{type(backend).__module__}.{type(backend).__qualname__}",
                )
                for user_id in offline
            ],
            ignore_conflicts=True,
        )
    claimed = list(
        PushNotification.objects.filter(event_id=event_id, user_id__in=offline, status=PushStatus.PENDING, attempts=0)
    )
    return deliver(claimed, backend=backend)


def deliver(notifications: list[PushNotification], *, backend: PushBackend | None = None) -> list[int]:
    """Sends the notifications through the back end and records the outcome; returns the users sent to."""
    backend = backend or get_push_backend()
    sent: list[int] = []
    for notification in notifications:
        # Claim the try: only the caller whose update matched sends (no double send on a race).
        claimed = PushNotification.objects.filter(
            pk=notification.pk, status=PushStatus.PENDING, attempts=notification.attempts
        ).update(attempts=notification.attempts + 1)
        if not claimed:
            continue
        try:
            backend.send(notification)
        except Exception as exc:
            logger.warning("push: %s to user %s failed: %s", notification.message_id, notification.user_id, exc)
            PushNotification.objects.filter(pk=notification.pk).update(status=PushStatus.FAILED, last_error=str(exc))
            PUSH_FAILED.inc()
            continue
        PushNotification.objects.filter(pk=notification.pk).update(status=PushStatus.SENT, sent_at=timezone.now())
        PUSH_SENT.inc()
        sent.append(notification.user_id)
    return sent


def retry_stale_pushes(*, older_than: float = STALE_PENDING_SECONDS) -> int:
    """Delivers pending rows claimed by a process that died before sending; returns how many sent."""
    cutoff = timezone.now() - timedelta(seconds=older_than)
    stale = list(PushNotification.objects.filter(status=PushStatus.PENDING, created_at__lt=cutoff)[:200])
    return len(deliver(stale))


async def push_sweeper(interval: float = 60.0) -> None:
    """Runs forever: delivers, every `interval` s, push rows a dead process claimed but never sent (rare)."""
    while True:
        await asyncio.sleep(interval)
        try:
            await db_async(retry_stale_pushes)()
        except Exception:
            logger.exception("push sweeper failed")


# The push work of a bridge process runs in one thread of its own, which keeps its database
# connection (database_sync_to_async would open one per event when CONN_MAX_AGE is 0) and its
# audience cache; one thread also keeps the events' order (an invalidation before the next message).
_worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="chat-push")
_audiences = AudienceCache()
PUSH_EVENT_KINDS = ("message", "room_join", "room_leave", "is_room_updated")


def _push_in_worker(envelope: Envelope) -> list[int]:
    try:
        if "message" in envelope.event:
            return push_message_event(envelope=envelope, audiences=_audiences)
        try:
            _audiences.invalidate(uuid.UUID(str(envelope.event.get("room_id"))))
        except ValueError:
            pass
        return []
    except (DatabaseError, InterfaceError):
        connection.close()  # reconnect at the next event; this one is redelivered
        raise


async def bridge_push_handler(envelope: Envelope, subject: str, seq: int) -> None:
    """The bridge's push hook (events of PUSH_EVENT_KINDS), the work in the push thread."""
    await asyncio.get_running_loop().run_in_executor(_worker, _push_in_worker, envelope)
