"""Push notifications: recipients (SPEC §4 minus online users and the sender), once per event,
the database back end (and its admin), the webhook back end against a local HTTP server."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from streaming.envelope import Envelope
from streaming.models import PushNotification, PushStatus
from streaming.push import WebhookPushBackend, deliver, push_message_event
from tests.streaming.helpers import (
    StreamClient,
    create_group,
    create_p2p,
    make_users,
    rest,
    send_text,
    toggle_mute,
)

pytestmark = pytest.mark.django_db(transaction=True)



def _pushes(**filters: Any) -> list[PushNotification]:
    return list(PushNotification.objects.filter(**filters).order_by("user_id"))


async def _wait_pushes(message_id: str, count: int, timeout: float = 15.0) -> list[PushNotification]:
    deadline = time.monotonic() + timeout
    while True:
        found = await rest(_pushes)(message_id=message_id)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.1)


async def test_a_group_message_is_pushed_to_offline_members_who_have_not_muted_the_room(bridge) -> None:
    bridge()
    alice, online, muted, offline = await rest(make_users)(4)
    room = await rest(create_group)(alice, [online, muted, offline], "Team")
    await rest(toggle_mute)(muted, room["id"])
    socket = await StreamClient.open(online)
    try:
        await socket.wait_for(lambda f: f.get("connected") is True)
        message = await rest(send_text)(alice, room["id"], "lunch at noon?")
        await socket.wait_for(lambda f: "message" in f)
        pushes = await _wait_pushes(message["id"], 1)
        await asyncio.sleep(1)  # nothing else comes
        pushes = await rest(_pushes)(message_id=message["id"])
    finally:
        await socket.close()
    assert [p.user_id for p in pushes] == [offline.pk]
    push = pushes[0]
    assert push.text == "lunch at noon?"
    assert push.sender_id == str(alice.pk) and push.sender_name == alice.chat_profile.display_name
    assert push.room_id == room["id"] and push.room_name == "Team" and push.room_type == "group"
    assert push.status == PushStatus.SENT and push.attempts == 1


async def test_a_p2p_message_is_pushed_to_the_partner_unless_muted(bridge) -> None:
    bridge()
    alice, bob = await rest(make_users)(2)
    room = await rest(create_p2p)(alice, bob)
    first = await rest(send_text)(alice, room["id"], "ping")
    pushed = await _wait_pushes(first["id"], 1)
    assert [(p.user_id, p.room_name, p.text) for p in pushed] == [
        (bob.pk, alice.chat_profile.display_name, "ping")
    ]
    await rest(toggle_mute)(bob, room["id"])
    second = await rest(send_text)(alice, room["id"], "pong?")
    third = await rest(send_text)(bob, room["id"], "muted, but Alice is not")
    assert len(await _wait_pushes(third["id"], 1)) == 1
    assert await rest(_pushes)(message_id=second["id"]) == []


async def test_the_push_worker_follows_membership_changes_between_messages(bridge) -> None:
    """The push consumer caches each room's audience; room_join/room_leave/is_room_updated refresh it."""
    from tests.streaming.helpers import add_members, remove_members

    bridge()
    alice, bob, carol, dave = await rest(make_users)(4)
    room = await rest(create_group)(alice, [bob, carol], "moving")
    first = await rest(send_text)(alice, room["id"], "one")
    assert {p.user_id for p in await _wait_pushes(first["id"], 2)} == {bob.pk, carol.pk}
    await rest(add_members)(alice, room["id"], [dave])
    await rest(remove_members)(alice, room["id"], [carol])
    await rest(toggle_mute)(bob, room["id"])
    second = await rest(send_text)(alice, room["id"], "two")
    assert {p.user_id for p in await _wait_pushes(second["id"], 1)} == {dave.pk}
    await asyncio.sleep(1)
    assert {p.user_id for p in await rest(_pushes)(message_id=second["id"])} == {dave.pk}


def _envelope(room: dict, sender: Any, text: str) -> Envelope:
    return Envelope(
        actor_user_id=str(sender.pk),
        event={
            "event_id": str(uuid.uuid4()),
            "room_id": room["id"],
            "message": {
                "id": str(uuid.uuid4()),
                "room_id": room["id"],
                "type": "user_message",
                "text": text,
                "sender": {"id": str(sender.pk), "name": "Alice"},
            },
        },
    )


def test_an_event_is_pushed_once_however_often_it_is_delivered() -> None:
    alice, bob = make_users(2)
    room = create_group(alice, [bob], "once")
    envelope = _envelope(room, alice, "only once")
    assert push_message_event(envelope=envelope) == [bob.pk]
    assert push_message_event(envelope=envelope) == []
    assert len(_pushes(event_id=envelope.event["event_id"])) == 1


def test_system_messages_are_not_pushed() -> None:
    alice, bob = make_users(2)
    room = create_group(alice, [bob], "system")
    envelope = _envelope(room, alice, "Alice added Bob")
    envelope.event["message"]["type"] = "system_message"
    assert push_message_event(envelope=envelope) == []


class _Hook(BaseHTTPRequestHandler):
    statuses: list[int] = []
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append({"body": json.loads(body), "key": self.headers["Idempotency-Key"]})
        status = type(self).statuses.pop(0) if type(self).statuses else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Any:
    _Hook.statuses, _Hook.received = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/push", _Hook
    server.shutdown()
    server.server_close()


def test_the_webhook_back_end_posts_json_and_retries(webhook, settings) -> None:
    url, hook = webhook
    settings.CHAT_PUSH_BACKEND = "streaming.push.WebhookPushBackend"
    settings.CHAT_PUSH_WEBHOOK_URL = url
    from streaming.push import _backend_for

    _backend_for.cache_clear()
    alice, bob = make_users(2)
    room = create_group(alice, [bob], "hooked")
    hook.statuses = [500, 503]  # two failures, then success
    envelope = _envelope(room, alice, "via webhook")
    try:
        assert push_message_event(envelope=envelope) == [bob.pk]
    finally:
        _backend_for.cache_clear()
    assert len(hook.received) == 3
    body = hook.received[-1]["body"]
    assert body["user_id"] == str(bob.pk)
    assert body["text"] == "via webhook"
    assert body["sender"] == {"id": str(alice.pk), "name": "Alice"}
    assert body["room"] == {"id": room["id"], "name": "hooked", "type": "group"}
    assert hook.received[0]["key"] == f"{envelope.event['event_id']}:{bob.pk}"
    (push,) = _pushes(event_id=envelope.event["event_id"])
    assert push.status == PushStatus.SENT and push.backend == "streaming.push.WebhookPushBackend"


def test_a_webhook_that_keeps_failing_leaves_a_failed_notification_that_staff_can_resend(webhook, admin_client) -> None:
    url, hook = webhook
    alice, bob = make_users(2)
    room = create_group(alice, [bob], "down")
    hook.statuses = [500, 500, 500]
    backend = WebhookPushBackend(url, attempts=3)
    from streaming import push

    original = push.get_push_backend
    push.get_push_backend = lambda: backend  # type: ignore[assignment]
    try:
        envelope = _envelope(room, alice, "lost?")
        assert push_message_event(envelope=envelope) == []
        (failed,) = _pushes(event_id=envelope.event["event_id"])
        assert failed.status == PushStatus.FAILED and "HTTP 500" in failed.last_error
        assert len(hook.received) == 3
        # The admin lists it; its action sends it again (the webhook works again).
        page = admin_client.get("/admin/streaming/pushnotification/")
        assert page.status_code == 200 and "lost?" in page.content.decode()
        response = admin_client.post(
            "/admin/streaming/pushnotification/",
            {"action": "send_again", "_selected_action": [failed.pk]},
            follow=True,
        )
        assert response.status_code == 200
        (resent,) = _pushes(event_id=envelope.event["event_id"])
        assert resent.status == PushStatus.SENT and len(hook.received) == 4
    finally:
        push.get_push_backend = original  # type: ignore[assignment]


def test_deliver_sends_a_row_only_once_when_two_workers_race() -> None:
    alice, bob = make_users(2)
    room = create_group(alice, [bob], "race")
    row = PushNotification.objects.create(event_id=uuid.uuid4(), user=bob, room_id=room["id"], text="x")
    sent: list[int] = []

    class Counting(WebhookPushBackend):
        def __init__(self) -> None:
            pass

        def send(self, notification: PushNotification) -> None:
            sent.append(notification.pk)

    stale_copy = PushNotification.objects.get(pk=row.pk)
    assert deliver([row], backend=Counting()) == [bob.pk]
    assert deliver([stale_copy], backend=Counting()) == []
    assert sent == [row.pk]


def test_the_outbox_admin_lists_events_and_schedules_a_retry(admin_client, settings) -> None:
    from events.builders import room_event
    from events.emit import emit
    from storage import get_repository
    from storage.models import OutboxEvent

    settings.CHAT_PUBLISH_ON_COMMIT = False
    record = room_event("is_room_updated", True, room_id=uuid.uuid4(), actor_user_id=1)
    with get_repository().atomic():
        emit([record])
    assert admin_client.get("/admin/chat/outboxevent/").status_code == 200
    row = OutboxEvent.objects.get(event_id=record.event_id)
    admin_client.post("/admin/chat/outboxevent/", {"action": "retry_now", "_selected_action": [row.pk]})
    row.refresh_from_db()
    assert row.next_attempt_at is not None and row.last_error == "retry requested by staff"
