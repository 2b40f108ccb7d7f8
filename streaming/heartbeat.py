"""The stream's heartbeat: one ticker per process (per event loop), not one task per socket.

Every CHAT_STREAM_HEARTBEAT_SECONDS each open stream connection of the process gets the heartbeat
frame `{"connected": true}`: the interval is cut into steps of CHAT_STREAM_REGISTRY_CHECK_SECONDS and
each step beats one slice of the connections (the n-th to join is in slice n mod steps), so a process
with thousands of sockets sends a few hundred frames a second instead of all of them at once (a
burst of 1,000 frames held live events back ~0.15 s). After the last slice the ticker refreshes all
their registry entries in one round trip (StreamRegistry.refresh_many) and re-checks their tokens and
sessions in one batch of queries (streaming.revocation.revalidate), so an idle socket costs neither a
task nor a call of its own.
Between heartbeats it checks every CHAT_STREAM_REGISTRY_CHECK_SECONDS that the registry still holds
its entries (one EXISTS): after a Redis restart or flush it re-registers them at once, so push does
not take connected users for offline until the next heartbeat. The ticker runs while it has
connections and stops with the last one. A connection that is closing
may refuse the frame: that is expected, so it is noted without a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from typing import Protocol

from django.conf import settings

from kernel.log_context import detached
from streaming.registry import get_registry
from streaming.revocation import Credential, revalidate

logger = logging.getLogger(__name__)

HEARTBEAT_TEXT = json.dumps({"connected": True})
YIELD_EVERY = 200  # heartbeats sent between two yields to the event loop: live events keep flowing
MAX_STEPS = 60  # slices of a heartbeat interval, at most


def heartbeat_seconds() -> float:
    return float(getattr(settings, "CHAT_STREAM_HEARTBEAT_SECONDS", 15.0))


def registry_check_seconds() -> float:
    return float(getattr(settings, "CHAT_STREAM_REGISTRY_CHECK_SECONDS", 1.0))


class Beating(Protocol):
    """A stream connection, as the ticker sees it."""

    @property
    def channel_name(self) -> str: ...

    @property
    def user_id(self) -> int | None: ...

    @property
    def credential(self) -> Credential | None: ...

    async def heartbeat(self) -> None:
        """Sends the heartbeat frame."""

    async def revoke(self) -> None:
        """Closes the connection: its credential no longer holds."""


class HeartbeatTicker:
    """The heartbeat of the connections of one event loop (see the module docstring)."""

    def __init__(self) -> None:
        self._members: dict[Beating, int] = {}  # each member's join number (its slice), in join order
        self._joined = 0
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._members)

    def join(self, member: Beating) -> None:
        self._members[member] = self._joined
        self._joined += 1
        if self._task is None or self._task.done():
            # Detached: it serves every connection, not the one whose join started it (its log lines).
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._run(), name="stream-heartbeat", context=detached())

    def leave(self, member: Beating) -> None:
        self._members.pop(member, None)
        if not self._members and self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            steps = max(1, min(MAX_STEPS, round(heartbeat_seconds() / registry_check_seconds())))
            step_seconds = heartbeat_seconds() / steps
            for step in range(steps):
                beat = loop.time() + step_seconds
                while (left := beat - loop.time()) > 0:
                    await asyncio.sleep(min(left, registry_check_seconds()))
                    await self.repair_registry()
                try:
                    await self._beat([m for m, n in list(self._members.items()) if n % steps == step])
                    if step == steps - 1:
                        await self._refresh_and_revalidate()
                except Exception:
                    logger.exception("stream: heartbeat of %d connection(s) failed", len(self._members))

    async def repair_registry(self) -> bool:
        """Re-registers every connection at once if the registry lost them (Redis restarted or was
        flushed): presence is right again within a check, not at the next heartbeat. True if it did."""
        try:
            if await get_registry().intact():
                return False
            await self.refresh_registry()
        except Exception as exc:  # Redis still down: the next check tries again
            logger.debug("stream: registry check failed: %r", exc)
            return False
        logger.info("stream: registry was empty (Redis restarted?): %d connection(s) re-registered", len(self))
        return True

    def _entries(self) -> list[tuple[int, str]]:
        return [(m.user_id, m.channel_name) for m in self._members if m.user_id is not None]

    async def refresh_registry(self, entries: list[tuple[int, str]] | None = None) -> None:
        entries = self._entries() if entries is None else entries
        if entries:
            await get_registry().refresh_many(entries)

    async def tick(self) -> None:
        """One whole heartbeat at once: the frame to every connection, then one registry refresh and
        one credential check for them all."""
        await self._beat(list(self._members))
        await self._refresh_and_revalidate()

    async def _beat(self, members: list[Beating]) -> None:
        for sent, member in enumerate(members, start=1):
            if member not in self._members:
                continue  # closed while the others were beating
            try:
                await member.heartbeat()
            except Exception as exc:
                logger.info("stream: no heartbeat for %s (closing): %r", member.channel_name, exc)
            if sent % YIELD_EVERY == 0:
                await asyncio.sleep(0)

    async def _refresh_and_revalidate(self) -> None:
        entries = self._entries()
        if not entries:
            return
        try:
            await self.refresh_registry(entries)
        except Exception as exc:
            logger.warning("stream: registry refresh of %d connection(s) failed: %r", len(entries), exc)
        try:
            revoked = await revalidate(list(self._members))
        except Exception as exc:
            logger.warning("stream: credential check of %d connection(s) failed: %r", len(entries), exc)
        else:
            if revoked:
                logger.info("stream: closed %d connection(s) whose token or session is gone", revoked)


_tickers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, HeartbeatTicker] = weakref.WeakKeyDictionary()


def process_ticker() -> HeartbeatTicker:
    """The ticker of the running event loop (one per process outside tests)."""
    loop = asyncio.get_running_loop()
    ticker = _tickers.get(loop)
    if ticker is None:
        ticker = _tickers[loop] = HeartbeatTicker()
    return ticker
