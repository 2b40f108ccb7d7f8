"""A TCP proxy in front of a server (PostgreSQL), in a thread of its own, that a test can take down:
`outage()` refuses new connections and cuts the open ones, `restore()` forwards again on the same
port. The servers reach the database only through it, so an outage of the shared PostgreSQL cluster
is simulated without stopping the cluster."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

CHUNK = 64 * 1024


class TcpProxy:
    def __init__(self, *, target_host: str, target_port: int, port: int) -> None:
        self.target = (target_host, target_port)
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=f"tcp-proxy-{port}", daemon=True)
        self.server: asyncio.Server | None = None
        self.pipes: set[asyncio.StreamWriter] = set()
        self.accepted = 0
        self.cut = 0

    def start(self) -> TcpProxy:
        self.thread.start()
        self.restore()
        return self

    def _call(self, coro: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def forwarding(self) -> bool:
        return self.server is not None

    def restore(self) -> None:
        """Listens (again) and forwards every new connection."""
        self._call(self._listen())

    def outage(self) -> int:
        """Stops listening (new connections are refused) and cuts every open connection; how many."""
        return int(self._call(self._take_down()))

    def stop(self) -> None:
        if self.thread.is_alive():
            self._call(self._take_down())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)

    async def _listen(self) -> None:
        if self.server is None:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self.port))
            self.server = await asyncio.start_server(self._accept, sock=sock)

    async def _take_down(self) -> int:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        pipes = list(self.pipes)
        for writer in pipes:
            writer.transport.abort()  # a reset, as a crashed server or a broken network leaves it
        self.pipes.clear()
        self.cut += len(pipes) // 2
        return len(pipes) // 2

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self.server is None:
            client_writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self.accepted += 1
        self.pipes.update((client_writer, upstream_writer))
        await asyncio.gather(
            self._pump(client_reader, upstream_writer),
            self._pump(upstream_reader, client_writer),
            return_exceptions=True,
        )
        self.pipes.difference_update((client_writer, upstream_writer))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(CHUNK):
                writer.write(data)
                await writer.drain()
        except OSError:
            writer.transport.abort()
        else:
            writer.close()  # the end of one direction is passed on
