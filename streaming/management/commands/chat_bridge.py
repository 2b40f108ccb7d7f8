"""`python manage.py chat_bridge`: JetStream → channel layer (streaming/bridge.py explains the design)."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.core.management.base import BaseCommand, CommandError

from kernel.metrics import mark_process_dead
from streaming.bridge import DURABLE_PREFIX, Bridge, BridgeError
from streaming.jetstream import NatsUnavailableError, connect
from streaming.push import PUSH_EVENT_KINDS, bridge_push_handler, push_sweeper
from streaming.relay import Relay

logger = logging.getLogger("streaming.bridge")


class Command(BaseCommand):
    help = "Forward the JetStream chat events to the channel layer (one partition of the bridge)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--partition", type=int, default=0, help="this bridge's partition, 0..N-1")
        parser.add_argument("--partitions", type=int, default=1, help="how many bridges share the stream")
        parser.add_argument("--durable-prefix", default=DURABLE_PREFIX, help="durable consumer names' prefix")
        parser.add_argument("--no-push", action="store_true", help="do not send push notifications")
        parser.add_argument("--push-only", action="store_true", help="only push notifications (no live forwarding)")
        parser.add_argument("--relay", action="store_true", help="also run the outbox relay in this process")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["no_push"] and options["push_only"]:
            raise CommandError("--no-push and --push-only exclude each other")
        if not options["push_only"] and isinstance(get_channel_layer(), InMemoryChannelLayer):
            raise CommandError(
                "The in-memory channel layer lives inside one process: set REDIS_URL, or use `runchat`, "
                "which runs the bridge inside the web process."
            )
        try:
            asyncio.run(self._run(options))
        except NatsUnavailableError as exc:
            raise CommandError(f"chat_bridge: {exc}") from exc
        except BridgeError as exc:
            raise CommandError(f"chat_bridge: {exc}") from exc

    async def _run(self, options: dict[str, Any]) -> None:
        nc = await connect(name=f"chat-bridge-p{options['partition']}of{options['partitions']}")
        bridge = Bridge(
            nc,
            partition=options["partition"],
            partitions=options["partitions"],
            durable_prefix=options["durable_prefix"],
            push_handler=None if options["no_push"] else bridge_push_handler,
            push_kinds=PUSH_EVENT_KINDS,
            live=not options["push_only"],
        )
        relay = Relay(nc=nc) if options["relay"] else None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, bridge.stop)
        tasks = []
        try:
            await bridge.start()
            if relay is not None:
                tasks.append(asyncio.create_task(relay.run()))
            if not options["no_push"]:
                tasks.append(asyncio.create_task(push_sweeper()))
            # A log line, not command output: with LOG_FORMAT=json every line of the process is JSON.
            logger.info("chat_bridge: partition %d of %d running", bridge.partition, bridge.partitions)
            await bridge.wait_stopped()
        finally:
            if relay is not None:
                relay.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await bridge.drain()
            await nc.drain()
            mark_process_dead()
