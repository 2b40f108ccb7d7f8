"""Two users in two browser contexts, on the real server: live rooms, messages, read marks, typing,
reconnection after going offline, and message text that is never interpreted as HTML."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ChatServer, Person, Steps
from tests.e2e.pages import (
    ROOM_URL,
    assert_fits_viewport,
    create_group,
    message,
    open_room,
    room_item,
    send,
    wait_live,
)

pytestmark = pytest.mark.e2e

# An own message the server has: SENT, or READ already if the other side has the room open.
DELIVERED = re.compile("^(SENT|READ)$")


def test_group_appears_live_messages_arrive_read_marks_and_typing(
    person: Callable[..., Person], steps: Steps
) -> None:
    alice, bob = person("alice"), person("bob")
    wait_live(bob)
    steps.shot(bob.page, "bob-room-list-before")

    room_id = create_group(alice, "Weekend plans", [bob])
    steps.shot(alice.page, "alice-created-the-group")

    # Bob's room list shows the new group without a reload.
    expect(room_item(bob, room_id)).to_be_visible(timeout=5_000)
    expect(room_item(bob, room_id).locator('[data-role="name"]')).to_have_text("Weekend plans")
    steps.shot(bob.page, "bob-sees-the-group-appear")

    # A message while Bob is on the list: preview and unread badge update live.
    wait_live(alice)
    send(alice, "Anyone up for a hike?")
    expect(room_item(bob, room_id).locator('[data-role="preview"]')).to_have_text(
        "Alice: Anyone up for a hike?", timeout=5_000
    )
    expect(room_item(bob, room_id).locator('[data-role="unread"]')).to_have_text("1")
    steps.shot(bob.page, "bob-list-preview-and-unread-badge")

    # Bob opens the room: the first history page is there, and Alice sees the read mark.
    room_item(bob, room_id).locator("a").click()
    wait_live(bob)
    expect(message(bob, "Anyone up for a hike?")).to_have_count(1)
    expect(message(alice, "Anyone up for a hike?")).to_have_attribute("data-status", "READ", timeout=5_000)
    expect(message(alice, "Anyone up for a hike?").locator('[data-role="mark"]')).to_have_text("✓✓")
    steps.shot(alice.page, "alice-sees-read-mark")

    # A new message reaches Bob within a second.
    started = time.monotonic()
    send(alice, "Saturday, 9:00 at the station")
    expect(message(bob, "Saturday, 9:00 at the station")).to_be_visible(timeout=1_000)
    delivery = time.monotonic() - started
    assert delivery < 1.0, f"delivered in {delivery:.2f}s"
    expect(message(alice, "Saturday, 9:00 at the station")).to_have_attribute("data-status", "READ", timeout=5_000)
    steps.shot(bob.page, "bob-receives-live-message")

    # Typing shows on the other side; Shift+Enter breaks a line, Enter sends.
    bob.page.locator("#composer-text").press_sequentially("Count me")
    expect(alice.page.locator("#typing")).to_have_text("Bob is typing…", timeout=3_000)
    steps.shot(alice.page, "alice-sees-bob-typing")
    bob.page.locator("#composer-text").press("Shift+Enter")
    bob.page.locator("#composer-text").press_sequentially("in!")
    bob.page.locator("#composer-text").press("Enter")
    expect(message(alice, "Count me\nin!")).to_be_visible(timeout=3_000)
    expect(alice.page.locator("#typing")).to_have_text("")
    expect(bob.page.locator("#composer-text")).to_have_value("")
    steps.shot(alice.page, "alice-receives-multiline-reply")
    assert not alice.dialogs and not bob.dialogs


def test_offline_reader_gets_every_missed_message_exactly_once(person: Callable[..., Person], steps: Steps) -> None:
    alice, bob = person("alice"), person("bob")
    room_id = create_group(alice, "Reconnect", [bob])
    open_room(bob, room_id)
    wait_live(alice)
    send(alice, "before the outage")
    expect(message(bob, "before the outage")).to_be_visible(timeout=5_000)
    steps.shot(bob.page, "bob-online")

    bob.context.set_offline(True)
    expect(bob.page.locator("#conn-status")).to_be_visible(timeout=5_000)
    expect(bob.page.locator("body")).not_to_have_attribute("data-connection", "live")
    steps.shot(bob.page, "bob-offline-reconnecting")

    missed = ["missed one", "missed two", "missed three"]
    for text in missed:
        send(alice, text)
    for text in missed:
        expect(message(alice, text)).to_have_attribute("data-status", "SENT", timeout=5_000)
    steps.shot(alice.page, "alice-sent-three-while-bob-offline")

    sockets_before = len(bob.sockets)
    bob.context.set_offline(False)
    wait_live(bob, timeout=15_000)
    # The reconnect resumed from the last cursor (the server replays what was missed).
    assert len(bob.sockets) > sockets_before
    assert parse_qs(urlparse(bob.sockets[-1]).query).get("cursor", [""])[0]
    for text in missed:
        expect(message(bob, text)).to_have_count(1, timeout=5_000)
    bob.page.wait_for_timeout(1_000)  # late duplicates (replay + live) would show up by now
    texts = bob.page.locator("#messages .msg .msg-text").all_inner_texts()
    assert texts == ["before the outage", *missed]
    expect(bob.page.locator("#conn-status")).to_be_hidden()
    steps.shot(bob.page, "bob-back-with-all-three-once")


def test_message_markup_is_shown_as_text(person: Callable[..., Person], steps: Steps) -> None:
    alice, bob = person("alice"), person("bob")
    room_id = create_group(alice, "<b>Safe</b> room", [bob])
    open_room(bob, room_id)
    wait_live(alice)
    payload = "<script>alert(1)</script>"

    send(alice, payload)

    expect(message(bob, payload)).to_be_visible(timeout=5_000)
    expect(message(alice, payload)).to_be_visible()
    assert bob.page.locator("#messages script").count() == 0
    steps.shot(bob.page, "bob-sees-script-as-text")

    # Server-rendered too: the history page, the room list's preview and the room name.
    bob.page.reload()
    expect(message(bob, payload)).to_be_visible()
    expect(bob.page.locator("#room-title")).to_have_text("<b>Safe</b> room")
    bob.goto("/")
    expect(room_item(bob, room_id).locator('[data-role="preview"]')).to_have_text(f"Alice: {payload}")
    steps.shot(bob.page, "bob-room-list-preview-as-text")
    bob.page.wait_for_timeout(300)
    assert alice.dialogs == [] and bob.dialogs == []


def test_edit_delete_react_and_people_on_a_phone_sized_screen(person: Callable[..., Person], steps: Steps) -> None:
    alice = person("alice")
    bob = person("bob", viewport={"width": 360, "height": 740})
    carol = person("carol")
    room_id = create_group(alice, "Phone", [bob])
    open_room(bob, room_id)
    wait_live(alice)
    assert_fits_viewport(bob.page)

    send(bob, "helo")
    own = message(bob, "helo")
    expect(own).to_have_attribute("data-status", DELIVERED, timeout=5_000)
    expect(message(alice, "helo")).to_be_visible(timeout=5_000)
    steps.shot(bob.page, "bob-360px-room")

    # Edit (Enter saves), seen live by Alice.
    own.hover()
    own.locator('[data-action="edit"]').click()
    editor = own.locator(".msg-editor textarea")
    editor.fill("hello")
    editor.press("Enter")
    expect(message(alice, "hello").locator('[data-role="edited"]')).to_be_visible(timeout=5_000)
    steps.shot(alice.page, "alice-sees-the-edit")

    # A reaction by Alice, seen by Bob.
    theirs = message(alice, "hello")
    theirs.hover()
    theirs.locator('[data-action="react-menu"]').click()
    theirs.locator('.react-menu [data-reaction="👍"]').click()
    expect(message(bob, "hello").locator(".chip")).to_have_text("👍 1", timeout=5_000)
    steps.shot(bob.page, "bob-sees-the-reaction")

    # Delete (two clicks, no dialog), seen by Alice.
    own = message(bob, "hello")
    own.hover()
    own.locator('[data-action="delete"]').click()
    own.locator('[data-action="delete"]').click()
    expect(message(alice, "This message was deleted")).to_be_visible(timeout=5_000)
    steps.shot(alice.page, "alice-sees-the-delete")

    # People: Alice (owner) adds Carol, who sees the group appear on her room list.
    wait_live(carol)
    alice.page.click("#btn-people")
    alice.page.fill("#add-member-q", "carol")
    pick = f'#add-member-results .user-row[data-user-id="{carol.user.id}"] [data-action="add"]'
    alice.page.locator(pick).click()
    expect(alice.page.locator(f'#people-list .person[data-user-id="{carol.user.id}"]')).to_be_visible(timeout=5_000)
    expect(room_item(carol, room_id)).to_be_visible(timeout=5_000)
    steps.shot(alice.page, "alice-added-carol")

    # Bob opens the panel on the phone screen; it fits; he leaves the group.
    bob.page.click("#btn-people")
    expect(bob.page.locator(f'#people-list .person[data-user-id="{carol.user.id}"]')).to_be_visible()
    assert_fits_viewport(bob.page)
    steps.shot(bob.page, "bob-people-panel-360px")
    bob.page.click("#btn-leave")
    bob.page.click("#btn-leave")
    bob.page.wait_for_url(f"{bob.base}/")
    expect(room_item(bob, room_id)).to_have_count(0)
    expect(alice.page.locator(f'#people-list .person[data-user-id="{bob.user.id}"]')).to_have_count(0, timeout=5_000)
    steps.shot(alice.page, "alice-sees-bob-left")
    assert not bob.dialogs and not alice.dialogs


def test_load_older_pages_back_and_pinned_rooms_come_first(person: Callable[..., Person], steps: Steps) -> None:
    alice, bob = person("alice"), person("bob")
    older_room = create_group(alice, "Archive", [bob])
    create_group(alice, "Newer", [bob])
    # 35 messages in the first room, through the REST API with the page's session and CSRF token.
    alice.page.evaluate(
        """async ([roomId, count]) => {
            const csrf = document.querySelector('meta[name="csrf-token"]').content;
            for (let i = 1; i <= count; i += 1) {
                const res = await fetch("/api/chat/v1/send", {
                    method: "POST", credentials: "same-origin",
                    headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
                    body: JSON.stringify({room_id: roomId, text: `message ${i}`, sender_message_id: `m-${i}`}),
                });
                if (!res.ok) throw new Error(`send ${i}: ${res.status}`);
            }
        }""",
        [older_room, 35],
    )

    open_room(bob, older_room)
    texts = bob.page.locator("#messages .msg .msg-text")
    expect(texts).to_have_count(30)
    expect(texts.first).to_have_text("message 6")
    expect(texts.last).to_have_text("message 35")
    steps.shot(bob.page, "bob-first-history-page")
    bob.page.click("#load-older")
    expect(texts).to_have_count(35)
    assert texts.all_inner_texts() == [f"message {i}" for i in range(1, 36)]
    expect(bob.page.locator("#load-older")).to_be_hidden()
    steps.shot(bob.page, "bob-loaded-older-messages")

    # Pin the room with the older activity... it still comes first on Bob's list, marked pinned.
    bob.page.click("#btn-pin")
    expect(bob.page.locator("#btn-pin")).to_have_attribute("aria-pressed", "true")
    bob.goto("/")
    first = bob.page.locator("#room-list .room-item").first
    expect(first).to_have_attribute("data-room-id", older_room)
    expect(first.locator('[data-role="pinned"]')).to_be_visible()
    steps.shot(bob.page, "bob-pinned-room-first")


def test_direct_message_from_the_user_picker(person: Callable[..., Person], steps: Steps) -> None:
    alice, bob = person("alice"), person("bob")
    person("bert")
    wait_live(bob)

    alice.goto("/rooms/new/")
    alice.page.fill("#user-search", "bob")  # filters the server-rendered list as one types
    expect(alice.page.locator("#user-list .user-row:visible")).to_have_count(1)
    alice.page.check(f'input[name="participants"][value="{bob.user.id}"]')
    steps.shot(alice.page, "alice-picks-bob")
    alice.page.click("#create-submit")
    alice.page.wait_for_url(ROOM_URL)
    room_id = ROOM_URL.match(alice.page.url).group(1)  # type: ignore[union-attr]
    expect(alice.page.locator("#room-title")).to_have_text("Bob")
    wait_live(alice)
    send(alice, "hi Bob")

    item = room_item(bob, room_id)
    expect(item.locator('[data-role="name"]')).to_have_text("Alice", timeout=5_000)
    expect(item.locator('[data-role="preview"]')).to_have_text("hi Bob", timeout=5_000)
    steps.shot(bob.page, "bob-sees-the-direct-chat")

    # Asking for a direct chat with Bob again opens the same room.
    alice.goto("/rooms/new/")
    alice.page.check(f'input[name="participants"][value="{bob.user.id}"]')
    alice.page.click("#create-submit")
    alice.page.wait_for_url(f"{alice.base}/rooms/{room_id}/")
    expect(message(alice, "hi Bob")).to_have_count(1)


def test_server_restart_reconnects_and_a_failed_send_is_retried_once(
    person: Callable[..., Person], chat_server: ChatServer, steps: Steps
) -> None:
    alice, bob = person("alice"), person("bob")
    room_id = create_group(alice, "Restart", [bob])
    open_room(bob, room_id)
    wait_live(alice)
    send(alice, "before the restart")
    expect(message(bob, "before the restart")).to_be_visible(timeout=5_000)

    chat_server.stop_web()
    expect(bob.page.locator("#conn-status")).to_have_text("Reconnecting…", timeout=5_000)
    send(alice, "during the outage")
    failed = message(alice, "during the outage")
    expect(failed).to_have_attribute("data-status", "ERROR", timeout=5_000)
    steps.shot(alice.page, "alice-send-failed-server-down")
    steps.shot(bob.page, "bob-reconnecting")

    chat_server.start_web()
    wait_live(bob, timeout=20_000)
    wait_live(alice, timeout=20_000)
    assert parse_qs(urlparse(bob.sockets[-1]).query).get("cursor", [""])[0]
    failed.locator('[data-role="mark"]').click()  # retry, with the same sender_message_id
    expect(failed).to_have_attribute("data-status", DELIVERED, timeout=5_000)
    expect(message(bob, "during the outage")).to_have_count(1, timeout=5_000)
    send(alice, "after the restart")
    expect(message(bob, "after the restart")).to_have_count(1, timeout=5_000)
    steps.shot(bob.page, "bob-live-again")
