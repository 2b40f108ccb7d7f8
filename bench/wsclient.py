"""A minimal asyncio WebSocket client (RFC 6455 text frames), enough for the benchmarks and manual
checks against a real daphne: no dependency beyond the standard library."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
from typing import Any
from urllib.parse import urlsplit


class WebSocketClosedError(Exception):
    def __init__(self, code: int | None) -> None:
        super().__init__(f"closed with {code}")
        self.code = code


class WebSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.close_code: int | None = None

    @classmethod
    async def connect(cls, url: str, *, headers: dict[str, str] | None = None, timeout: float = 10.0) -> WebSocket:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, limit=2**22), timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{k}: {v}" for k, v in (headers or {}).items()),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        status_line = head.split(b"\r\n", 1)[0].decode()
        if " 101 " not in status_line:
            writer.close()
            raise ConnectionError(f"handshake refused: {status_line}")
        return cls(reader, writer)

    async def send_json(self, data: Any) -> None:
        await self._send(0x1, json.dumps(data).encode())

    async def _send(self, opcode: int, payload: bytes) -> None:
        header = bytes([0x80 | opcode])
        length = len(payload)
        if length < 126:
            header += bytes([0x80 | length])
        elif length < 2**16:
            header += bytes([0x80 | 126]) + struct.pack("!H", length)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", length)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(header + mask + masked)
        await self.writer.drain()

    async def recv(self) -> str:
        """The next text message; answers pings; raises WebSocketClosedError on close."""
        message = b""
        while True:
            first, second = await self.reader.readexactly(2)
            opcode, fin = first & 0x0F, first & 0x80
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
            if second & 0x80:  # servers do not mask, but be lenient
                mask = await self.reader.readexactly(4)
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(await self.reader.readexactly(length)))
            else:
                data = await self.reader.readexactly(length)
            if opcode == 0x8:
                self.close_code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                raise WebSocketClosedError(self.close_code)
            if opcode == 0x9:
                await self._send(0xA, data)
                continue
            if opcode == 0xA:
                continue
            message += data
            if fin:
                return message.decode()

    async def recv_json(self) -> Any:
        return json.loads(await self.recv())

    async def close(self) -> None:
        try:
            await self._send(0x8, struct.pack("!H", 1000))
        except (ConnectionError, RuntimeError):
            pass
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass
