"""Two bounds daphne lacks, set on its WebSocket factory and protocol.

A message over daphne's --websocket-max-message-size (1 MiB) is answered with a close frame.

daphne's protocol layer (autobahn) fails such a connection by dropping TCP (its `failByDrop` default),
so a client sees a reset and cannot tell why. With `failByDrop` off it first sends the close frame
1009 "message too big" (RFC 6455) and drops only if the client does not answer it. daphne exposes no
option for this; its Server builds the factory in run(), after importing the application, so the
factory class it uses is given the option here (only when daphne is the server; idempotent).

A socket's server-side buffer holds at most CHAT_STREAM_MAX_SEND_BUFFER bytes (and one frame):
Twisted buffers whatever is written to a transport, without limit, so a few clients that stop
reading would grow the process without bound until the ping timeout. A frame sent while the buffer
is over the bound waits for the client to take it below, up to CHAT_STREAM_SEND_WAIT_SECONDS: a
replay of megabytes to a client that reads goes out at the client's pace (before, it was cut at the
bound). A client that leaves the buffer full that long is closed with 4008 `slow_consumer`; the
frames over the bound are not buffered, and if the client does not answer the close frame within a
second (it reads nothing) the connection is aborted, which frees the buffer at once. The client
reconnects with its cursor and replays what it missed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

logger = logging.getLogger(__name__)

CLOSE_SLOW_CONSUMER = 4008
DRAIN_POLL_SECONDS = 0.005


def buffered_bytes(transport: Any) -> int:
    """What a Twisted transport holds that the peer has not taken yet (0 for a transport without)."""
    try:
        return len(transport.dataBuffer) - int(transport.offset) + int(transport._tempDataLen)
    except (AttributeError, TypeError):
        return 0


def send_buffer_limit() -> int:
    from django.conf import settings

    return int(getattr(settings, "CHAT_STREAM_MAX_SEND_BUFFER", 1024 * 1024))


def send_wait_seconds() -> float:
    from django.conf import settings

    return float(getattr(settings, "CHAT_STREAM_SEND_WAIT_SECONDS", 2.0))


def bound_websockets() -> None:
    try:
        from daphne import server
    except ImportError:  # another ASGI server: nothing to tune
        return
    base = server.WebSocketFactory
    if getattr(base, "closes_oversized_messages", False):
        return

    limit = send_buffer_limit()  # read once: not on every frame
    wait = send_wait_seconds()

    class WebSocketProtocol(base.protocol):  # type: ignore[misc, name-defined]  # daphne ships no types
        slow_closed = False

        async def room_to_send(self) -> None:
            """Returns once the buffer is under the bound, or the wait is over (serverSend then closes)."""
            deadline = time.monotonic() + wait
            while (
                not self.slow_closed
                and self.state == self.STATE_OPEN
                and buffered_bytes(self.transport) > limit
                and time.monotonic() < deadline
            ):
                await asyncio.sleep(DRAIN_POLL_SECONDS)

        def serverSend(self, content: Any, binary: bool = False) -> None:  # noqa: N802 (daphne's name)
            if self.slow_closed:
                return
            waiting = buffered_bytes(self.transport)
            if self.state == self.STATE_OPEN and waiting > limit:
                self.slow_closed = True
                logger.warning("stream: closing %s, it does not read (%d bytes waiting)", self.client_addr, waiting)
                self.sendClose(code=CLOSE_SLOW_CONSUMER, reason="slow_consumer")
                return
            super().serverSend(content, binary)

    class WebSocketFactory(base):  # type: ignore[misc, valid-type]  # daphne ships no types
        closes_oversized_messages = True
        protocol = WebSocketProtocol

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.setProtocolOptions(failByDrop=False)

    handle_reply = server.Server.handle_reply

    async def handle_reply_in_turn(self: Any, protocol: Any, message: dict[str, Any]) -> None:
        """daphne's handle_reply, but a frame for a socket with a full buffer waits its turn."""
        if message.get("type") == "websocket.send" and isinstance(protocol, WebSocketProtocol):
            await protocol.room_to_send()
        await handle_reply(self, protocol, message)

    server.WebSocketFactory = WebSocketFactory
    server.Server.handle_reply = handle_reply_in_turn
