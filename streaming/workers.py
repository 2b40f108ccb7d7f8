"""The bridge, the outbox relay and the push sweeper inside a process's own event loop (`runchat`).

The in-memory channel layer lives in one process and one loop, so on the embedded default the
bridge must run in the web server's loop for its group_send to reach the sockets.
"""

from __future__ import annotations

import asyncio
import logging

from nats.aio.client import Client

from streaming.bridge import Bridge
from streaming.jetstream import connect
from streaming.push import PUSH_EVENT_KINDS, bridge_push_handler, push_sweeper
from streaming.relay import Relay

logger = logging.getLogger(__name__)


class InProcessWorkers:
    def __init__(self, *, push: bool = True) -> None:
        self.push = push
        self.nc: Client | None = None
        self.bridge: Bridge | None = None
        self.relay: Relay | None = None
        self._relay_task: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.nc = await connect(name="chat-runchat-workers")
        self.bridge = Bridge(
            self.nc, push_handler=bridge_push_handler if self.push else None, push_kinds=PUSH_EVENT_KINDS
        )
        await self.bridge.start()
        self.relay = Relay(nc=self.nc)
        self._relay_task = asyncio.create_task(self.relay.run())
        if self.push:
            self._sweeper = asyncio.create_task(push_sweeper())

    async def stop(self) -> None:
        if self.relay is not None:
            self.relay.stop()
        if self._sweeper is not None:
            self._sweeper.cancel()
        tasks = [t for t in (self._relay_task, self._sweeper) if t is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.bridge is not None:
            self.bridge.stop()
            await self.bridge.drain()
        if self.nc is not None and not self.nc.is_closed:
            await self.nc.drain()
