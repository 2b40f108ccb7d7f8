"""`make run`: the whole chat from one command (daphne + the stream's workers).

With NATS_URL unset it starts an embedded nats-server (streaming/embedded.py) and stops it on exit.
The bridge, the outbox relay and push run inside daphne's own event loop when the channel layer is
the in-memory one (REDIS_URL unset: it reaches only this process's sockets) or NATS is embedded;
`--workers` / `--no-workers` override that (production runs `chat_bridge` processes instead).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels.routing import get_default_application
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from streaming.embedded import EmbeddedNats, EmbeddedNatsError
from streaming.publisher import stop_publisher
from streaming.workers import InProcessWorkers

logger = logging.getLogger("streaming.runchat")


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
        embedded: EmbeddedNats | None = None
        if not settings.NATS_URL:
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

        self.stdout.write(
            f"Chat serving on http://{host}:{port}/  (API docs: http://{host}:{port}/api/docs/)\n"
            "Create a user: .venv/bin/python manage.py createsuperuser\n"
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
        if failed or server.abort_start:
            raise CommandError(f"runchat stopped: {failed[0] if failed else 'could not listen'}")
