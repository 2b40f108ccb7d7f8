"""Graceful SIGTERM for daphne: stop accepting, let in-flight requests finish, close sockets with 1001.

On SIGTERM daphne stops its reactor at once: requests in flight get no answer, sockets get no close
frame (clients wait for their ping timeout before reconnecting), and the on-commit publisher is cut
off. Twisted waits for what a "before shutdown" trigger returns, and daphne's own trigger cancels
every application; ours runs first:

1. the listening ports close (a load balancer moves new connections to the other processes);
2. every open WebSocket gets close 1001 "going away", so its client reconnects elsewhere at once
   (with its cursor: nothing is lost);
3. it waits, up to CHAT_SHUTDOWN_GRACE_SECONDS, for the HTTP requests in flight to be answered and
   the sockets to finish their close handshake and their consumers to end (unregistered from presence);
4. the process's publisher publishes what it holds (the relay would otherwise, later).

Then daphne cancels whatever is left, as before. Only when daphne is the server; idempotent.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kernel.metrics import mark_process_dead

logger = logging.getLogger(__name__)

CLOSE_GOING_AWAY = 1001
POLL_SECONDS = 0.05


def grace_seconds() -> float:
    from django.conf import settings

    return float(getattr(settings, "CHAT_SHUTDOWN_GRACE_SECONDS", 10.0))


def drain_on_sigterm() -> None:
    try:
        from autobahn.websocket.protocol import WebSocketProtocol
        from daphne import cli
        from daphne.http_protocol import WebRequest
        from twisted.internet import defer
    except ImportError:  # another ASGI server: it has its own shutdown
        return
    base = cli.CommandLineInterface.server_class
    if getattr(base, "drains_on_shutdown", False):
        return

    def busy(connections: dict[Any, Any]) -> int:
        count = 0
        for protocol in list(connections):
            if isinstance(protocol, WebRequest):
                count += not protocol.finished and not getattr(protocol, "_disconnected", False)
            elif isinstance(protocol, WebSocketProtocol):
                # Closed, and its consumer done with the disconnect (it unregisters the connection
                # from presence): cancelled before that, its user would stay "online" for the TTL.
                instance = (connections.get(protocol) or {}).get("application_instance")
                closing = instance is not None and not instance.done()
                count += protocol.state != WebSocketProtocol.STATE_CLOSED or closing
        return count

    class Server(base):  # type: ignore[misc, valid-type]  # daphne ships no types
        drains_on_shutdown = True

        def kill_all_applications(self) -> Any:
            drained = defer.Deferred.fromFuture(asyncio.ensure_future(self.drain()))
            drained.addErrback(lambda failure: logger.warning("shutdown: drain failed: %s", failure.value))
            drained.addCallback(lambda _: base.kill_all_applications(self))
            return drained

        async def drain(self) -> None:
            from twisted.internet import reactor, tcp

            for reader in reactor.getReaders():  # type: ignore[misc]  # the installed reactor (asyncio)
                if isinstance(reader, tcp.Port):
                    reader.stopListening()
            sockets = [
                p
                for p in list(self.connections)
                if isinstance(p, WebSocketProtocol) and p.state == WebSocketProtocol.STATE_OPEN
            ]
            for socket in sockets:
                # (sendClose takes only 1000 and 3000-4999 from an application; 1001 is the server's own)
                socket.sendCloseFrame(code=CLOSE_GOING_AWAY, reasonUtf8=b"going_away", isReply=False)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + grace_seconds()
            logger.info("shutdown: closing %d socket(s); %d connection(s) busy", len(sockets), busy(self.connections))
            while (left := busy(self.connections)) and loop.time() < deadline:
                await asyncio.sleep(POLL_SECONDS)
            if left:
                logger.warning("shutdown: %d connection(s) still busy after %.0f s", left, grace_seconds())
            from streaming.publisher import stop_publisher

            await loop.run_in_executor(None, stop_publisher)
            mark_process_dead()  # its open-socket and replay gauges leave the multi-process sums

    cli.CommandLineInterface.server_class = Server
