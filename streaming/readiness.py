"""The NATS part of readiness (chatproject/health.py): JetStream answers an account request."""

from __future__ import annotations

import asyncio

import nats

from streaming.jetstream import nats_servers, nats_url


async def _quiet(exc: Exception) -> None:
    """The failure is the check's answer (raised by connect): nothing to log here."""


async def _account_info(timeout: float) -> None:
    nc = await nats.connect(
        nats_servers(nats_url()),
        connect_timeout=timeout,
        allow_reconnect=False,
        max_reconnect_attempts=1,
        error_cb=_quiet,
    )
    try:
        await nc.jetstream(timeout=timeout).account_info()
    finally:
        await nc.close()


def jetstream_ready(timeout: float) -> None:
    """Raises unless NATS_URL's server answers with JetStream within about `timeout` seconds.
    Runs its own event loop: call it from a thread of its own."""
    asyncio.run(asyncio.wait_for(_account_info(timeout), timeout))
