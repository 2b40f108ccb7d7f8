"""The asyncio load client: many WebSockets that record what they receive, and REST senders.

Every benchmark message carries the text `bench:<seq>`; `Receipts` keeps, per seq, which socket got
it when, and counts frames that arrive out of order per (socket, room) when the senders send one
room's messages one after the other (the next once the previous REST call answered: the seq order
is the send order). With concurrent sends to a room, `disagreements()` counts the member sockets
that got the room's messages in another order than its first member.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field

from bench.wsclient import WebSocket, WebSocketClosedError

SEQ = re.compile(r'"text": ?"bench:(\d+)"')
CURSOR = re.compile(r'"cursor": ?"(\d+)"')


@dataclass
class Receipts:
    room_of: dict[int, int] = field(default_factory=dict)  # seq -> room index
    at: dict[int, list[tuple[int, float]]] = field(default_factory=lambda: defaultdict(list))
    last: dict[tuple[int, int], int] = field(default_factory=dict)  # (socket, room) -> highest seq
    out_of_order: int = 0
    error_frames: list[str] = field(default_factory=list)
    arrivals: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))  # socket -> seqs

    def record(self, socket: int, seq: int, now: float) -> None:
        self.at[seq].append((socket, now))
        self.arrivals[socket].append(seq)
        room = self.room_of.get(seq, -1)
        key = (socket, room)
        previous = self.last.get(key, -1)
        if seq < previous:
            self.out_of_order += 1
        else:
            self.last[key] = seq

    def disagreements(self, members: list[list[int]]) -> int:
        """Member sockets whose arrival order of their room's messages differs from the first member's."""
        count = 0
        for group in members:
            if not group:
                continue
            room_seqs = {s for s, r in self.room_of.items() if r == members.index(group)}
            reference = [s for s in self.arrivals.get(group[0], []) if s in room_seqs]
            for index in group[1:]:
                seen = [s for s in self.arrivals.get(index, []) if s in room_seqs]
                common = set(seen) & set(reference)
                if [s for s in seen if s in common] != [s for s in reference if s in common]:
                    count += 1
        return count


@dataclass
class Client:
    index: int
    url: str
    headers: dict[str, str]
    ws: WebSocket | None = None
    cursor: str = ""
    task: asyncio.Task[None] | None = None
    closed_code: int | None = None
    connected_at: float = 0.0
    dropped: bool = False
    stopping: bool = False


async def _reader(client: Client, receipts: Receipts) -> None:
    assert client.ws is not None
    try:
        while True:
            raw = await client.ws.recv()
            now = time.monotonic()
            if '"cursor"' in raw:
                found = CURSOR.findall(raw)
                if found:
                    client.cursor = found[-1]
            if raw.startswith('{"error"'):
                receipts.error_frames.append(raw[:300])
            elif "bench:" in raw:
                match = SEQ.search(raw)
                if match:
                    receipts.record(client.index, int(match.group(1)), now)
    except WebSocketClosedError as exc:
        client.closed_code = exc.code
        client.dropped = not client.stopping
    except (ConnectionError, asyncio.IncompleteReadError, OSError):
        client.dropped = not client.stopping


async def open_client(client: Client, receipts: Receipts, timeout: float = 60.0) -> None:
    client.stopping = False
    client.dropped = False
    client.ws = await WebSocket.connect(client.url, headers=client.headers, timeout=timeout)
    first = await asyncio.wait_for(client.ws.recv(), timeout)
    if '"connected"' not in first:
        raise ConnectionError(f"socket {client.index}: first frame {first[:200]}")
    client.connected_at = time.monotonic()
    client.task = asyncio.create_task(_reader(client, receipts))


async def open_all(clients: list[Client], receipts: Receipts, batch: int = 100) -> float:
    """Opens the sockets `batch` at a time; returns the seconds it took."""
    began = time.monotonic()
    for start in range(0, len(clients), batch):
        await asyncio.gather(*(open_client(c, receipts) for c in clients[start : start + batch]))
    return time.monotonic() - began


async def close_all(clients: list[Client]) -> None:
    for client in clients:
        client.stopping = True
    await asyncio.gather(*(c.ws.close() for c in clients if c.ws is not None), return_exceptions=True)
    for client in clients:
        if client.task is not None:
            client.task.cancel()
    await asyncio.gather(*(c.task for c in clients if c.task is not None), return_exceptions=True)
    for client in clients:
        client.ws = None
        client.task = None


IDLE_REUSE_SECONDS = 5.0


class HttpPool:
    """Keep-alive HTTP/1.1 connections to some ports, `size` at most (requests with a body or none)."""

    def __init__(self, ports: list[int], size: int = 64) -> None:
        self.ports = ports
        # (reader, writer, idle since): a connection the server closed, or idle long enough that it
        # may close it meanwhile, is not reused (a request on it would fail with nothing read).
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.slots = asyncio.Semaphore(size)
        self.opened = 0

    def _reusable(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        while self.idle:
            reader, writer, since = self.idle.pop()
            if not reader.at_eof() and not writer.is_closing() and time.monotonic() - since < IDLE_REUSE_SECONDS:
                return reader, writer
            writer.close()
        return None

    async def post(self, path: str, body: bytes, headers: dict[str, str], method: str = "POST") -> int:
        async with self.slots:
            reusable = self._reusable()
            if reusable is not None:
                reader, writer = reusable
            else:
                port = self.ports[self.opened % len(self.ports)]
                self.opened += 1
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                status, keep = await _exchange(reader, writer, method, path, body, headers)
            except BaseException:
                writer.close()
                raise
            if keep:
                self.idle.append((reader, writer, time.monotonic()))
            else:
                writer.close()
            return status

    def close(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()
        self.idle.clear()


async def _exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    method: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
) -> tuple[int, bool]:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
    if "content-length" in fields:
        await reader.readexactly(int(fields["content-length"]))
    elif fields.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.read()
        return status, False
    return status, fields.get("connection", "").lower() != "close"
