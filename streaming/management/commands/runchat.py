"""`make run`: the whole chat from one command (daphne + the stream's workers).

With NATS_URL unset it starts an embedded nats-server (streaming/embedded.py) and stops it on exit.
Before it starts anything it checks that its port is free and takes a lock on the embedded server's
data folder: a second `make run` fails at once with what to do, instead of announcing that it serves,
starting a second nats-server on the same JetStream files and only then failing to listen.
The bridge, the outbox relay and push run inside daphne's own event loop when the channel layer is
the in-memory one (REDIS_URL unset: it reaches only this process's sockets) or NATS is embedded;
`--workers` / `--no-workers` override that (production runs `chat_bridge` processes instead).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
from pathlib import Path
from typing import IO, Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels.routing import get_default_application
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kernel.metrics import forget_other_processes
from streaming.embedded import EmbeddedNats, EmbeddedNatsError, port_free
from streaming.publisher import stop_publisher
from streaming.workers import InProcessWorkers

logger = logging.getLogger("streaming.runchat")

LOCK_NAME = "runchat.lock"


def check_port(host: str, port: int) -> None:
    """Fails, naming the port and how to choose another, when something already listens there."""
    if not port_free(port, host):
        raise CommandError(
            f"port {port} on {host} is taken (another chat running, or another program): stop it, or "
            f"choose another port with `manage.py runchat --port {port + 1}` (`make run PORT={port + 1}`)"
        )


def lock_data_dir(data_dir: Path) -> IO[str]:
    """Locks the embedded NATS server's data folder for this process's life (the kernel drops the lock
    when the process exits, even killed): two nats-servers on one JetStream folder corrupt it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = (data_dir / LOCK_NAME).open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        lock.close()
        raise CommandError(
            f"the embedded NATS data folder {data_dir} is in use by another runchat: stop that one, or give "
            "this one a folder of its own (CHAT_NATS_DATA_DIR) or an external server (NATS_URL)"
        ) from exc
    return lock


class Command(BaseCommand):
    help = "Serve the chat (HTTP API, pages, WebSocket stream) with its stream workers, on one machine."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", dest="workers", action="store_true", default=None)
        parser.add_argument("--no-workers", dest="workers", action="store_false")

    def handle(self, *args: Any, host: str, port: int, workers: bool | None, **options: Any) -> None:
        # Local on purpose: daphne.server installs Twisted's asyncio reactor when imported, and must be
        # imported before anything imports Twisted's default reactor (not when Django lists commands).
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server
        from twisted.internet import defer
        from twisted.internet import reactor as twisted_reactor

        reactor: Any = twisted_reactor  # the module is typed as an interface
        check_port(host, port)
        # PROMETHEUS_MULTIPROC_DIR set: this one process is the whole chat, earlier runs' counts go.
        forget_other_processes()
        embedded: EmbeddedNats | None = None
        data_lock: IO[str] | None = None
        if not settings.NATS_URL:
            data_lock = lock_data_dir(Path(settings.CHAT_NATS_DATA_DIR))
            embedded = EmbeddedNats(data_dir=settings.CHAT_NATS_DATA_DIR, port=settings.CHAT_EMBEDDED_NATS_PORT)
            try:
                settings.NATS_URL = embedded.start()
            except EmbeddedNatsError as exc:
                raise CommandError(str(exc)) from exc
            settings.CHAT_PUBLISH_ON_COMMIT = True
            self.stdout.write(f"Embedded NATS JetStream on {settings.NATS_URL} (data: {embedded.data_dir})\n")
        if workers is None:
            workers = embedded is not None or isinstance(get_channel_layer(), InMemoryChannelLayer)

        application = get_default_application()  # settings.ASGI_APPLICATION
        in_process = InProcessWorkers() if workers else None
        failed: list[BaseException] = []

        def start_workers() -> None:
            assert in_process is not None
            task = asyncio.ensure_future(in_process.start())

            def started(done: asyncio.Future[None]) -> None:
                if done.exception() is not None:
                    failed.append(done.exception())  # type: ignore[arg-type]
                    logger.error("stream workers failed to start: %s", done.exception())
                    reactor.stop()
                else:
                    logger.info("bridge, relay and push running in-process")

            task.add_done_callback(started)

        def stop_workers() -> Any:
            assert in_process is not None
            return defer.Deferred.fromFuture(asyncio.ensure_future(in_process.stop()))

        if in_process is not None:
            reactor.callWhenRunning(start_workers)
            reactor.addSystemEventTrigger("before", "shutdown", stop_workers)

        base = f"http://{host}:{port}"
        self.stdout.write(
            f"Chat serving on {base}/  (API docs: {base}/api/docs/, the stream: {base}/api/docs/stream/)\n"
            f"Health: {base}/healthz  readiness: {base}/readyz  metrics: {base}/metrics\n"
            "Create a chat user: DJANGO_DEBUG=1 .venv/bin/python manage.py chat_user NAME --token"
            " (staff: createsuperuser)\n"
        )
        self.stdout.flush()
        server = Server(
            application=application,
            endpoints=build_endpoint_description_strings(host=host, port=port),
            signal_handlers=True,
            verbosity=1,
        )
        try:
            server.run()
        finally:
            stop_publisher()
            if embedded is not None:
                embedded.stop()
                self.stdout.write("Embedded NATS stopped.\n")
            if data_lock is not None:
                data_lock.close()
        if failed or server.abort_start:
            raise CommandError(f"runchat stopped: {failed[0] if failed else 'could not listen'}")
