"""The chat as an operator runs it, for the tests that need real processes: daphne (HTTP pages, REST
API, WebSocket stream) and `manage.py chat_bridge` (JetStream → channel layer) as subprocesses on the
real services, pointed at pytest-django's test database. Tests that use them take `transactional_db`,
so what they create is committed and seen by the servers.

`ChatServer` is one daphne and one bridge on the services of the run (the browser tests);
`Service` and the helpers below let a suite build a topology of its own (tests/faults).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]
ASGI_APPLICATION = "chatproject.asgi:application"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def database_url(*, host: str | None = None, port: int | None = None) -> str:
    """The DATABASE_URL of the test database; `host`/`port` to reach it another way (a proxy)."""
    db = settings.DATABASES["default"]
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = host or db.get("HOST") or "127.0.0.1"
    port = port or db.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{db['NAME']}"


def server_env(**overrides: str) -> dict[str, str]:
    """The environment of a server subprocess: the tests' own, on the test database."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        DATABASE_URL=database_url(),
        DJANGO_DEBUG="1",  # static files through Django (chatproject/urls.py)
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    """Waits until `url` answers 200; fails (with the log's end) if the process exits first."""
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


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it is still there after `timeout` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def daphne_command(port: int) -> list[str]:
    """daphne as an operator starts it: `-v 0` turns off its own access log (the app writes "chat.access")."""
    return [sys.executable, "-m", "daphne", "-v", "0", "-b", "127.0.0.1", "-p", str(port), ASGI_APPLICATION]


def bridge_command(durable_prefix: str, *extra: str) -> list[str]:
    """`manage.py chat_bridge` with durables of its own, running the outbox relay, without push."""
    command = [sys.executable, "manage.py", "chat_bridge", "--durable-prefix", durable_prefix]
    return [*command, "--relay", "--no-push", *extra]


class Service:
    """A subprocess whose output is appended to a log file; it can be killed and started again."""

    def __init__(self, name: str, args: list[str], *, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at_offset = 0  # the log's size when the current process started

    def start(self) -> subprocess.Popen[bytes]:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.started_at_offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.args, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        return self.proc

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        """What the current process wrote so far."""
        if not self.log.exists():
            return ""
        with self.log.open("rb") as log:
            log.seek(self.started_at_offset)
            return log.read().decode(errors="replace")

    def wait_output(self, text: str, timeout: float = 30.0) -> None:
        """Waits until the current process writes `text`; fails if it exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if not self.alive:
                raise RuntimeError(f"{self.name} exited before writing {text!r}:\n{self.output()[-3000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not write {text!r} within {timeout}s; see {self.log}")

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL, and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout)


def delete_durables(prefix: str) -> None:
    """Removes a run's bridge consumers from the shared JetStream server (they would outlive it)."""
    import asyncio
    import threading

    from streaming.jetstream import STREAM_NAME, connect

    async def delete() -> None:
        nc = await connect(name="test-cleanup")
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
            print(f"could not delete the bridge consumers {prefix}*: {exc}", file=sys.stderr)

    # A thread of its own: the caller may be running an event loop in this one (Playwright).
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=20)


class ChatServer:
    """daphne (HTTP + WebSocket) and the bridge, as subprocesses on the test database and the
    services of the run (their logs in `logs`)."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.logs.mkdir(parents=True, exist_ok=True)
        for old in self.logs.glob("*.log"):
            old.unlink()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Durables of our own: the NATS server is shared with other test runs and bridges.
        self.durable_prefix = f"e2e-{os.getpid()}-{self.port}"
        self.env = server_env()
        self.web: subprocess.Popen[bytes] | None = None
        self.bridge: subprocess.Popen[bytes] | None = None

    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen[bytes]:
        log = (self.logs / log_name).open("ab")
        return subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def start(self) -> None:
        self.bridge = self._spawn(bridge_command(self.durable_prefix), "bridge.log")
        self.start_web()

    def start_web(self) -> None:
        self.web = self._spawn(daphne_command(self.port), "daphne.log")
        wait_http(f"{self.url}/accounts/login/", self.web, self.logs / "daphne.log")

    def stop_web(self) -> None:
        if self.web is not None:
            stop_process(self.web)
            self.web = None

    def stop(self) -> None:
        self.stop_web()
        if self.bridge is not None:
            stop_process(self.bridge)
            self.bridge = None
            delete_durables(self.durable_prefix)


@contextmanager
def started_server(logs: Path, **env: str) -> Iterator[ChatServer]:
    """A ChatServer with these environment variables over the tests' own, stopped at the end."""
    server = ChatServer(logs)
    server.env.update(env)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def api_post(server: ChatServer | str, token: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST /api/chat/v1/<path> over HTTP with a token to a server (or a base URL); the JSON answer
    (HTTPError on 4xx/5xx)."""
    base = server if isinstance(server, str) else server.url
    request = urllib.request.Request(
        f"{base}/api/chat/v1/{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(json.loads(response.read()))
