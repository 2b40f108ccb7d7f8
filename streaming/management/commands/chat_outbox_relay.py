"""`python manage.py chat_outbox_relay`: republishes outbox events that were not published."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from kernel.metrics import mark_process_dead
from streaming.jetstream import NatsUnavailableError
from streaming.relay import GRACE_SECONDS, INTERVAL_SECONDS, Relay

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Publish the outbox events that stayed unpublished (NATS down, process killed); prune old ones."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--interval", type=float, default=INTERVAL_SECONDS, help="seconds between passes")
        parser.add_argument("--grace", type=float, default=GRACE_SECONDS, help="leave younger events to the publisher")

    def handle(self, *args: Any, interval: float, grace: float, **options: Any) -> None:
        try:
            asyncio.run(self._run(interval, grace))
        except NatsUnavailableError as exc:
            raise CommandError(f"chat_outbox_relay: {exc}") from exc

    async def _run(self, interval: float, grace: float) -> None:
        relay = Relay(interval=interval, grace=grace)
        await relay.connect()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, relay.stop)
        # A log line, not command output: with LOG_FORMAT=json every line of the process is JSON.
        logger.info("chat_outbox_relay: running")
        try:
            await relay.run()
        finally:
            mark_process_dead()
