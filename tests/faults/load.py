"""The load client of the fault suite: a steady REST send load and receiving sockets, as clients do.

Senders: one task per room, each room's sends one after the other (the next only once the previous
answered, so the room's send order is defined), alternating the daphne they go to, so that order
across processes is exercised. A connection refused (a daphne that is gone or draining) goes to the
other daphne, as a load balancer would do; nothing is retried once sent (each attempt's outcome is
recorded: the status, or `dropped` / `reset` / `timeout` without one).

Receivers: one socket per member's device (some members have two), spread over both daphnes;
whenever one is closed it reconnects with the cursor of the last frame it got, to the daphne it was
on or else the other, and records every frame: message frames (text, arrival time), closes (code),
error frames (`resync_required`...), and each handshake's time (connect to `{"connected": true}`).
A fault can cut a receiver's connection as a network failure would (`drop()`) and hold its
reconnect behind a gate (a reconnect storm: every held socket comes back at once).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.wsclient import WebSocket, WebSocketClosedError

SEND_PATH = "/api/chat/v1/send"
SEND_TIMEOUT_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 30.0  # generous: a client that gives up on a slow handshake is another fault
RECONNECT_PAUSE_SECONDS = 0.2


@dataclass(frozen=True)
class Member:
    """A user with `devices` receiving sockets (none: a member who stays offline)."""

    index: int
    user_id: int
    token: str
    home: int  # the daphne its first device connects to (the next device: the next daphne)
    devices: int


@dataclass(frozen=True)
class Room:
    index: int
    id: str
    senders: list[Member]  # the members with a socket, who take turns sending


@dataclass
class Send:
    room: int
    n: int  # the room's send order
    text: str
    started: float
    daphne: int = -1  # the daphne that took the request
    answered: float = 0.0
    outcome: str = ""  # "2xx", a status ("503"), or "dropped", "reset", "timeout", "refused"
    message_id: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "2xx"


@dataclass
class Population:
    """The users and rooms of a run."""

    members: list[Member]  # with sockets
    offline: list[Member]
    rooms: list[Room]
    room_members: dict[int, list[Member]]  # room index -> its members with sockets
    crowd: list[Member] = field(default_factory=list)  # members (among `members`) who only read


class NotConnectedError(Exception):
    """The connection was refused: nothing was sent."""


def message_text(run: str, room: int, n: int) -> str:
    return f"fault {run} room {room} #{n}"


def stream_url(port: int, client_id: str, cursor: str = "") -> str:
    query = f"client_id={client_id}" + (f"&cursor={cursor}" if cursor else "")
    return f"ws://127.0.0.1:{port}/ws/chat/v1/stream?{query}"


async def _post(port: int, token: str, body: dict[str, Any], in_flight: list[int], daphne: int) -> tuple[int, bytes]:
    """One POST on a connection of its own (Connection: close): (status, body). While it waits for
    the answer, it counts in `in_flight[daphne]`."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), CONNECT_TIMEOUT_SECONDS)
    except (OSError, TimeoutError) as exc:
        raise NotConnectedError(str(exc)) from exc
    in_flight[daphne] += 1
    payload = json.dumps(body).encode()
    head = (
        f"POST {SEND_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Token {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    )
    try:
        writer.write(head.encode() + payload)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(-1), SEND_TIMEOUT_SECONDS)
    finally:
        in_flight[daphne] -= 1
        writer.close()
    if not raw:
        raise EOFError("closed without an answer")
    status_line, _, rest = raw.partition(b"\r\n")
    _, _, body_bytes = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), body_bytes


class Senders:
    """The room senders; `in_flight[d]`: requests sent to daphne d and not answered yet."""

    def __init__(self, *, run: str, rooms: list[Room], ports: list[int], interval: float) -> None:
        self.run = run
        self.rooms = rooms
        self.ports = ports
        self.interval = interval
        self.sends: list[Send] = []
        self.in_flight = [0] * len(ports)
        self.stopping = False
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self._room(room)) for room in self.rooms]

    async def stop(self) -> None:
        self.stopping = True
        await asyncio.gather(*self.tasks)

    async def _room(self, room: Room) -> None:
        loop = asyncio.get_running_loop()
        # Rooms start spread over one interval, so that the load is steady, not in bursts.
        next_at = loop.time() + self.interval * room.index / max(1, len(self.rooms))
        n = 0
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            if self.stopping:
                return
            await self._send(room, n)
            n += 1
            next_at = max(next_at + self.interval, loop.time())

    async def _send(self, room: Room, n: int) -> None:
        sender = room.senders[n % len(room.senders)]
        send = Send(room=room.index, n=n, text=message_text(self.run, room.index, n), started=time.monotonic())
        self.sends.append(send)
        preferred = (room.index + n) % len(self.ports)
        order = [preferred, *(d for d in range(len(self.ports)) if d != preferred)]
        body = {"room_id": room.id, "text": send.text}
        send.outcome = "refused"
        for daphne in order:
            try:
                status, answer = await _post(self.ports[daphne], sender.token, body, self.in_flight, daphne)
            except NotConnectedError:
                continue
            except ConnectionResetError:
                send.outcome = "reset"
            except (EOFError, asyncio.IncompleteReadError, ConnectionError):
                send.outcome = "dropped"
            except TimeoutError:
                send.outcome = "timeout"
            else:
                send.outcome = "2xx" if 200 <= status < 300 else str(status)
                if send.ok:
                    send.message_id = str(json.loads(answer)["message"]["id"])
            send.daphne = daphne
            break
        send.answered = time.monotonic()


@dataclass
class Close:
    at: float
    daphne: int
    how: str  # "close <code>" | "reset"


@dataclass(frozen=True)
class Handshake:
    started: float
    seconds: float  # from the connect to the `{"connected": true}` frame


@dataclass
class Receiver:
    """One socket of a member (a device: a member may have several), reconnecting whenever closed
    (once `gate` is open, when it has one)."""

    member: Member
    device: int
    ports: list[int]
    cursor: str = ""
    arrivals: list[tuple[float, str]] = field(default_factory=list)  # (monotonic time, message text)
    closes: list[Close] = field(default_factory=list)
    opened: list[float] = field(default_factory=list)  # when each connection got its first frame
    errors: list[str] = field(default_factory=list)  # error frame codes
    refusals: list[tuple[float, str]] = field(default_factory=list)  # failed (re)connects: (when, why)
    handshakes: list[Handshake] = field(default_factory=list)
    on: int | None = None  # the daphne of the open socket
    stopping: bool = False
    ws: WebSocket | None = None
    task: asyncio.Task[None] | None = None
    last_daphne: int = -1
    gate: asyncio.Event | None = None  # when set: no (re)connect before it is open
    dropping: bool = False

    @property
    def open(self) -> bool:
        return self.on is not None

    @property
    def name(self) -> str:
        return f"member {self.member.index} device {self.device}"

    @property
    def home(self) -> int:
        return (self.member.home + self.device) % len(self.ports)

    def url(self, daphne: int) -> str:
        return stream_url(self.ports[daphne], f"faults-{self.member.index}-{self.device}", self.cursor)

    def start(self) -> None:
        self.last_daphne = self.home
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self.stopping = True
        if self.ws is not None:
            await self.ws.close()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        self.on = None

    def drop(self) -> None:
        """Cuts the open connection as a network failure would (no close frame, a reset)."""
        if self.ws is not None:
            self.dropping = True
            self.ws.writer.transport.abort()

    async def _run(self) -> None:
        while not self.stopping:
            if self.gate is not None:
                await self.gate.wait()
            opened = await self._connect()
            if opened is None:
                await asyncio.sleep(RECONNECT_PAUSE_SECONDS)
                continue
            await self._read(*opened)

    async def _connect(self) -> tuple[WebSocket, int] | None:
        order = [self.last_daphne, *(d for d in range(len(self.ports)) if d != self.last_daphne)]
        headers = {"Authorization": f"Token {self.member.token}"}
        for daphne in order:
            started = time.monotonic()
            try:
                ws = await WebSocket.connect(self.url(daphne), headers=headers, timeout=CONNECT_TIMEOUT_SECONDS)
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
                self.refusals.append((started, f"{daphne}: {type(exc).__name__}"))
                continue
            try:
                first = json.loads(await asyncio.wait_for(ws.recv(), CONNECT_TIMEOUT_SECONDS))
            except (OSError, TimeoutError, asyncio.IncompleteReadError, WebSocketClosedError) as exc:
                self.refusals.append((started, f"{daphne}: {type(exc).__name__} before the first frame"))
                await ws.close()
                continue
            if first.get("connected") is not True:
                self._frame(first)
                await ws.close()
                continue
            self.ws, self.on, self.last_daphne = ws, daphne, daphne
            self.opened.append(time.monotonic())
            self.handshakes.append(Handshake(started=started, seconds=self.opened[-1] - started))
            return ws, daphne
        return None

    async def _read(self, ws: WebSocket, daphne: int) -> None:
        how = ""
        try:
            while True:
                self._frame(json.loads(await ws.recv()))
        except WebSocketClosedError as closed:
            how = f"close {closed.code}"
        except (OSError, asyncio.IncompleteReadError):
            how = "dropped" if self.dropping else "reset"
        finally:
            self.ws, self.on, self.dropping = None, None, False
            ws.writer.close()
        if not self.stopping:
            self.closes.append(Close(at=time.monotonic(), daphne=daphne, how=how))

    def _frame(self, frame: dict[str, Any]) -> None:
        if "cursor" in frame:
            self.cursor = str(frame["cursor"])
        if "message" in frame:
            self.arrivals.append((time.monotonic(), str((frame["message"] or {}).get("text") or "")))
        elif "error" in frame:
            self.errors.append(str((frame["error"] or {}).get("code") or ""))


async def wait_until(condition: Callable[[], bool], timeout: float, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(every)
    return True
