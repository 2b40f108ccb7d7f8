"""Steps on the chat pages that several browser tests share."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from playwright.sync_api import Locator, expect

from tests.e2e.conftest import Person

ROOM_URL = re.compile(r".*/rooms/([0-9a-f-]{36})/$")


def wait_live(who: Person, timeout: float = 10_000) -> None:
    """Waits until the page's stream socket is connected (the heartbeat frame arrived)."""
    expect(who.page.locator("body")).to_have_attribute("data-connection", "live", timeout=timeout)


def create_group(owner: Person, name: str, members: Sequence[Person]) -> str:
    """Creates a group through the create-room page; returns its id (the owner is on the room page)."""
    page = owner.page
    owner.goto("/rooms/new/?type=group")
    page.check('#create-room-form input[name="type"][value="group"]')
    page.fill("#room-name", name)
    for member in members:
        page.check(f'input[name="participants"][value="{member.user.id}"]')
    page.click("#create-submit")
    page.wait_for_url(ROOM_URL)
    match = ROOM_URL.match(page.url)
    assert match is not None
    return match.group(1)


def open_room(who: Person, room_id: str) -> None:
    who.goto(f"/rooms/{room_id}/")
    wait_live(who)


def send(who: Person, text: str) -> None:
    """Types `text` in the send box and presses Enter (newlines with Shift+Enter)."""
    box = who.page.locator("#composer-text")
    for i, line in enumerate(text.split("\n")):
        if i:
            box.press("Shift+Enter")
        if line:
            box.press_sequentially(line)
    box.press("Enter")


def message(who: Person, text: str) -> Locator:
    """The message bubbles on the page whose text is exactly `text`."""
    return who.page.locator("#messages .msg").filter(
        has=who.page.locator(".msg-text", has_text=re.compile("^" + re.escape(text) + "$"))
    )


def room_item(who: Person, room_id: str) -> Locator:
    return who.page.locator(f'#room-list .room-item[data-room-id="{room_id}"]')


def assert_fits_viewport(page: Any) -> None:
    """No horizontal scrolling: the page fits its viewport."""
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
