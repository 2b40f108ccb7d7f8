"""Browser tests: Playwright (PyPI) driving Debian's Chromium against a real server.

The server runs as subprocesses on the real services, pointed at pytest-django's test database:
daphne with the ASGI app (HTTP pages, REST API, WebSocket stream) and `manage.py chat_bridge`
(JetStream → channel layer). Tests use `transactional_db`, so what they create is committed and seen
by the server. Screenshots of each step go to test-artifacts/e2e/<test>/ (git-ignored), with the
server logs in test-artifacts/e2e/server/.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _database_url() -> str:
    db = settings.DATABASES["default"]
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}; see {log}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer {url} within {timeout}s; see {log}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _delete_durables(prefix: str) -> None:
    """Removes this run's bridge consumers from the shared JetStream server (they would outlive it)."""
    import asyncio
    import threading

    from streaming.jetstream import STREAM_NAME, connect

    async def delete() -> None:
        nc = await connect(name="e2e-cleanup")
        try:
            js = nc.jetstream()
            for info in await js.consumers_info(STREAM_NAME):
                if (info.name or "").startswith(prefix):
                    await js.delete_consumer(STREAM_NAME, info.name)
        finally:
            await nc.close()

    def run() -> None:
        try:
            asyncio.run(delete())
        except Exception as exc:  # cleanup only: a leftover consumer is not a test failure
            print(f"e2e: could not delete the bridge consumers {prefix}*: {exc}", file=sys.stderr)

    # A thread of its own: Playwright may be running an event loop in this one.
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=20)


class ChatServer:
    """daphne (HTTP + WebSocket) and the bridge, as subprocesses on the test database."""

    def __init__(self) -> None:
        self.logs = ARTIFACTS / "server"
        self.logs.mkdir(parents=True, exist_ok=True)
        for old in self.logs.glob("*.log"):
            old.unlink()
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Durables of our own: the NATS server is shared with other test runs and bridges.
        self.durable_prefix = f"e2e-{os.getpid()}-{self.port}"
        self.env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
        self.env.update(
            DATABASE_URL=_database_url(),
            DJANGO_DEBUG="1",  # static files through Django (chatproject/urls.py)
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            PYTHONUNBUFFERED="1",
        )
        self.web: subprocess.Popen[bytes] | None = None
        self.bridge: subprocess.Popen[bytes] | None = None

    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen[bytes]:
        log = (self.logs / log_name).open("ab")
        return subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def start(self) -> None:
        bridge_args = ["chat_bridge", "--durable-prefix", self.durable_prefix, "--relay", "--no-push"]
        self.bridge = self._spawn([sys.executable, "manage.py", *bridge_args], "bridge.log")
        self.start_web()

    def start_web(self) -> None:
        self.web = self._spawn(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "chatproject.asgi:application"],
            "daphne.log",
        )
        _wait_http(f"{self.url}/accounts/login/", self.web, self.logs / "daphne.log")

    def stop_web(self) -> None:
        if self.web is not None:
            _stop(self.web)
            self.web = None

    def stop(self) -> None:
        self.stop_web()
        if self.bridge is not None:
            _stop(self.bridge)
            self.bridge = None
            _delete_durables(self.durable_prefix)


@contextmanager
def started_server(**env: str) -> Iterator[ChatServer]:
    """A ChatServer with these environment variables over the tests' own, stopped at the end."""
    server = ChatServer()
    server.env.update(env)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def api_post(server: ChatServer, token: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST /api/chat/v1/<path> over HTTP with a token; the JSON answer (HTTPError on 4xx/5xx)."""
    request = urllib.request.Request(
        f"{server.url}/api/chat/v1/{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(json.loads(response.read()))


@pytest.fixture(scope="module")
def chat_server(django_db_setup: None, django_db_blocker: Any) -> Iterator[ChatServer]:
    """The chat served on the test database by daphne and the bridge, for one test module."""
    if not (ROOT / "streaming" / "management" / "commands" / "chat_bridge.py").exists():
        pytest.fail("manage.py chat_bridge is missing: the live stream has not landed")
    server = ChatServer()
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
