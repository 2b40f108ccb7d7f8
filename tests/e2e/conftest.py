"""Browser tests: Playwright (PyPI) driving Debian's Chromium against a real server.

The server runs as subprocesses on the real services, pointed at pytest-django's test database
(tests/servers.py): daphne with the ASGI app (HTTP pages, REST API, WebSocket stream) and `manage.py
chat_bridge` (JetStream → channel layer). Tests use `transactional_db`, so what they create is
committed and seen by the server. Screenshots of each step go to test-artifacts/e2e/<test>/
(git-ignored), with the server logs in test-artifacts/e2e/server/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests import servers
from tests.servers import ChatServer, api_post

__all__ = ["ChatServer", "api_post", "started_server"]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "pass-1234"
SERVER_LOGS = ARTIFACTS / "server"


@contextmanager
def started_server(**env: str) -> Iterator[ChatServer]:
    """A ChatServer with these environment variables over the tests' own, stopped at the end."""
    with servers.started_server(SERVER_LOGS, **env) as server:
        yield server


@pytest.fixture(scope="module")
def chat_server(django_db_setup: None, django_db_blocker: Any) -> Iterator[ChatServer]:
    """The chat served on the test database by daphne and the bridge, for one test module."""
    if not (ROOT / "streaming" / "management" / "commands" / "chat_bridge.py").exists():
        pytest.fail("manage.py chat_bridge is missing: the live stream has not landed")
    server = ChatServer(SERVER_LOGS)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _fast_password_hashing() -> None:
    """Overrides tests/conftest.py's MD5 hasher: the server subprocesses check the passwords of the
    login page with the default hashers of the settings."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium, for one test module.

    Playwright's sync API marks an event loop as running in this thread while it is started, and
    Django then refuses ORM calls (factories, the database flush between tests) as "async unsafe".
    Those calls are plain synchronous code between browser steps, so the guard is lifted for the
    module, and Playwright is stopped at its end so that no other test module runs with it.
    """
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/chromium.sh (the Makefile's test target does)")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:80]


@dataclass
class Steps:
    """Numbered screenshots of a test's pages, one per step, in test-artifacts/e2e/<test>/."""

    folder: Path
    count: int = 0

    def shot(self, page: Any, name: str) -> None:
        self.count += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{_slug(name)}.png"), full_page=True)


@pytest.fixture
def steps(request: pytest.FixtureRequest) -> Steps:
    folder = ARTIFACTS / _slug(request.node.name)
    for old in folder.glob("*.png"):
        old.unlink()
    return Steps(folder=folder)


@dataclass
class Person:
    """A user with a browser context of their own, logged in through the login page."""

    user: Any
    context: Any
    page: Any
    base: str
    dialogs: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    sockets: list[str] = field(default_factory=list)

    def on_dialog(self, dialog: Any) -> None:
        """Records and dismisses a dialog (alert, confirm): the pages must never open one."""
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    @property
    def name(self) -> str:
        return str(self.user.chat_profile.display_name)

    def goto(self, path: str) -> None:
        self.page.goto(self.base + path)


@pytest.fixture
def person(chat_server: ChatServer, browser: Any, transactional_db: None) -> Iterator[Callable[..., Person]]:
    """person("alice") → a user logged in in a fresh browser context (closed after the test)."""
    from tests.factories import UserFactory

    made: list[Person] = []

    def make(username: str, *, display_name: str | None = None, viewport: dict[str, int] | None = None) -> Person:
        user = UserFactory(username=username, profile={"display_name": display_name or username.title()})
        context = browser.new_context(viewport=viewport or {"width": 1000, "height": 760})
        context.set_default_timeout(10_000)
        page = context.new_page()
        who = Person(user=user, context=context, page=page, base=chat_server.url)
        page.on("dialog", who.on_dialog)
        page.on("console", lambda m: who.console_errors.append(m.text) if m.type == "error" else None)
        page.on("websocket", lambda ws: who.sockets.append(ws.url))
        page.goto(f"{chat_server.url}/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{chat_server.url}/")
        made.append(who)
        return who

    yield make
    for who in made:
        who.context.close()
    # The pages run under the Content-Security-Policy: nothing of theirs may be refused by it.
    refused = [e for who in made for e in who.console_errors if "Content Security Policy" in e]
    assert not refused, refused
