"""Fixtures of the live-stream suite: real NATS, Redis and PostgreSQL.

- The suite runs its OWN nats-server (a free port, a temporary data dir), so it can inspect and
  restart it without touching the shared one; tests that stop NATS start yet another one.
- The channel layer is channels_redis' pubsub layer on REDIS_URL, with a prefix of its own (Redis
  pub/sub ignores the db number), and the stream registry uses REDIS_URL's db.
- Sockets run in-process (channels' WebsocketCommunicator on chatproject.asgi.application); bridges
  run as `manage.py chat_bridge` subprocesses on the test database; tests that need them use
  transactional databases so the subprocesses see the rows.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from channels.layers import channel_layers
from django.conf import settings

from streaming import nats_client, publisher
from streaming.embedded import EmbeddedNats, free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="package", autouse=True)
def _stream_services() -> Iterator[dict[str, str]]:
    """One private NATS for the suite; the pubsub layer with a private prefix; publish on commit."""
    if not settings.REDIS_URL:
        raise pytest.UsageError("The streaming tests need REDIS_URL (real Redis), e.g. redis://127.0.0.1:6379/3")
    data_dir = tempfile.mkdtemp(prefix="chat-test-nats-")
    server = EmbeddedNats(data_dir=data_dir, port=free_port())
    url = server.start()
    prefix = f"chattest{uuid.uuid4().hex[:8]}"
    saved = {
        name: getattr(settings, name)
        for name in ("NATS_URL", "CHAT_PUBLISH_ON_COMMIT", "CHANNEL_LAYERS", "CHAT_STREAM_HEARTBEAT_SECONDS")
    }
    settings.NATS_URL = url
    settings.CHAT_PUBLISH_ON_COMMIT = True
    settings.CHAT_STREAM_HEARTBEAT_SECONDS = 1.0
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [settings.REDIS_URL], "prefix": prefix},
        }
    }
    channel_layers.backends = {}
    publisher.stop_publisher()
    nats_client.forget_connections()
    try:
        yield {"nats_url": url, "channel_prefix": prefix}
    finally:
        publisher.stop_publisher()
        nats_client.forget_connections()
        for name, value in saved.items():
            setattr(settings, name, value)
        channel_layers.backends = {}
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def stream_env(_stream_services: dict[str, str]) -> dict[str, str]:
    return _stream_services


@pytest.fixture(autouse=True)
def _fresh_registry_and_layer() -> Iterator[None]:
    """Each test starts with an empty registry db and a channel layer bound to its own loop."""
    import redis

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    channel_layers.backends = {}
    nats_client.forget_connections()
    from streaming import registry

    registry._registry_for.cache_clear()
    yield
    channel_layers.backends = {}


def database_url() -> str:
    """The DATABASE_URL of the test database (subprocesses use it)."""
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(),
        REDIS_URL=settings.REDIS_URL,
        NATS_URL=settings.NATS_URL,
        CHAT_CHANNEL_LAYER_PREFIX=settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
        CHAT_PUBLISH_ON_COMMIT="1",
        CHAT_STREAM_HEARTBEAT_SECONDS=str(settings.CHAT_STREAM_HEARTBEAT_SECONDS),
        CHAT_PUSH_BACKEND=settings.CHAT_PUSH_BACKEND,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class BridgeProcess:
    """A `manage.py chat_bridge` subprocess; `start()` waits until it consumes."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.args = args
        self.env = env
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def start(self, timeout: float = 30.0) -> BridgeProcess:
        self.output = []
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "chat_bridge", *self.args],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        ready = threading.Event()
        running = threading.Event()

        def pump() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)
                if "running" in line and "chat_bridge" in line:
                    running.set()
                    ready.set()
            ready.set()  # end of output: the process is gone

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(timeout) or not running.is_set():
            self.kill()
            raise AssertionError("chat_bridge did not start:\n" + "".join(self.output[-40:]))
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def terminate(self, timeout: float = 20.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(timeout)

    @property
    def log(self) -> str:
        return "".join(self.output)


@pytest.fixture
def bridge(_stream_services: dict[str, str]) -> Iterator[Callable[..., BridgeProcess]]:
    """bridge(partition=0, partitions=1, extra=[...]) starts a bridge subprocess (stopped at the end).

    The durable prefix is unique per test, so each test's bridges start at the stream's end.
    """
    started: list[BridgeProcess] = []
    prefix = f"test-{uuid.uuid4().hex[:10]}"

    def start(
        *, partition: int = 0, partitions: int = 1, extra: list[str] | None = None, env: dict[str, str] | None = None
    ) -> BridgeProcess:
        args = ["--partition", str(partition), "--partitions", str(partitions), "--durable-prefix", prefix]
        proc = BridgeProcess(args + (extra or []), subprocess_env(**(env or {})))
        started.append(proc)
        return proc.start()

    yield start
    for proc in started:
        proc.kill()
        print(f"--- chat_bridge {' '.join(proc.args)}\n{proc.log}")  # shown when the test fails
    errors = [line for proc in started for line in proc.output if " ERROR " in line or "Traceback" in line]
    assert not errors, "the bridge logged errors:\n" + "".join(errors)


@pytest.fixture
def run_async() -> Callable[..., Any]:
    """Runs a coroutine to completion from sync test code."""

    def run(coro: Any) -> Any:
        return asyncio.run(coro)

    return run
