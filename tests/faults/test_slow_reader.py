"""Slow readers under load: a few sockets on one daphne stop reading while their room gets large
messages. Once CHAT_STREAM_MAX_SEND_BUFFER bytes wait for one of them (the default, 1 MiB), the
server closes it with 4008 `slow_consumer`, or aborts it when it cannot even read the close
(chatproject/daphne_frames.py), instead of buffering for it without bound; the daphne's memory is
reported before, at its peak and after. The room's other sockets get every message once, in order;
each slow reader, reading again, reconnects once with its cursor and gets the rest, once, in order."""

from __future__ import annotations

import asyncio
import json
import socket as sockets
import time
import uuid
from dataclasses import dataclass, field

import pytest

from bench.harness import rss_kib
from bench.wsclient import WebSocket, WebSocketClosedError
from streaming.jetstream import connect, stream_state
from tests.faults.figures import Window
from tests.faults.harness import Run, make_users, run_fault
from tests.faults.load import stream_url
from tests.faults.topology import Topology
from tests.servers import api_post

pytestmark = [pytest.mark.faults, pytest.mark.timeout(400)]

VICTIM = 0  # the daphne of the slow readers (the big messages are sent through the other)
SLOW = 4
SENDS = 60
TEXT = "é" * 16_000  # a ~130 KB frame (JSON escapes it, and the ciphertext rides along)
READ_TIMEOUT_SECONDS = 20.0
# A slow reader reading again gets the rest in one reconnect: its replay (megabytes, several times
# the send buffer's bound) goes out at its pace (before, each reconnect got ~8 frames and a 4008).
RECONNECTS = 1
CLOSE_WAIT_SECONDS = 3.0  # after the sends: the close handshake of a socket that reads nothing times out
SLOW_CONSUMER_LOGGED = "it does not read"  # chatproject/daphne_frames.py's warning

User = tuple[int, str]


@dataclass
class Reader:
    """A socket of the room and the room's big messages it got (their numbers, in arrival order)."""

    user: User
    name: str
    port: int
    got: list[int] = field(default_factory=list)
    cursor: str = ""
    ended: str = ""
    ws: WebSocket | None = None

    async def open(self) -> None:
        url = stream_url(self.port, self.name, self.cursor)
        self.ws = await WebSocket.connect(url, headers={"Authorization": f"Token {self.user[1]}"}, timeout=30)
        first = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
        assert first.get("connected") is True, first

    def stop_reading(self) -> None:
        """Reads nothing more: the kernel's buffers fill up, then the server's."""
        assert self.ws is not None
        self.ws.writer.transport.pause_reading()  # type: ignore[attr-defined]
        self.ws.writer.get_extra_info("socket").setsockopt(sockets.SOL_SOCKET, sockets.SO_RCVBUF, 4096)

    def read_again(self) -> None:
        assert self.ws is not None
        self.ws.writer.transport.resume_reading()  # type: ignore[attr-defined]

    async def read(self, tag: str, *, until: int) -> None:
        """Reads until it has `until` big messages, the server ends the socket, or a timeout."""
        assert self.ws is not None
        try:
            while len(self.got) < until:
                frame = json.loads(await asyncio.wait_for(self.ws.recv(), READ_TIMEOUT_SECONDS))
                self.cursor = str(frame.get("cursor") or self.cursor)
                text = str((frame.get("message") or {}).get("text") or "")
                if text.startswith(tag):
                    self.got.append(int(text[len(tag) :].split(" ", 1)[0]))
        except WebSocketClosedError as closed:
            self.ended = f"close {closed.code}"
        except (ConnectionError, asyncio.IncompleteReadError):
            self.ended = "aborted"
        except TimeoutError:
            self.ended = "still open"

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    def complete(self) -> bool:
        return self.got == list(range(SENDS))


async def _stream_end(nats_url: str) -> str:
    nc = await connect(name="faults-slow-readers", url=nats_url)
    try:
        return str((await stream_state(nc.jetstream())).last_seq)
    finally:
        await nc.close()


def _room(topology: Topology, sender: User, members: list[User]) -> str:
    body = {"type": "group", "name": "slow readers", "participants": [u for u, _ in members]}
    return str(api_post(topology.url(1 - VICTIM), sender[1], "room/create", body)["room"]["id"])


class Memory:
    """The RSS of a process, sampled until stopped: the first and highest sample."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = self.peak = rss_kib(pid)

    async def sample(self) -> None:
        while True:
            self.peak = max(self.peak, rss_kib(self.pid))
            await asyncio.sleep(0.2)


async def _slow_readers(topology: Topology, sender: User, slow: list[User], healthy: list[User], room: str) -> Window:
    tag = f"big {uuid.uuid4().hex[:8]} #"
    ports = topology.daphne_ports
    others = [Reader(u, f"healthy-{i}", ports[i % len(ports)]) for i, u in enumerate(healthy)]
    stalled = [Reader(u, f"slow-{i}", ports[VICTIM]) for i, u in enumerate(slow)]
    for reader in [*others, *stalled]:
        await reader.open()
    cursor = await _stream_end(topology.nats_url)
    for reader in [*others, *stalled]:
        reader.cursor = cursor  # as clients that have synced: whatever they miss comes back on a reconnect
    for reader in stalled:
        reader.stop_reading()
    reading = [asyncio.create_task(r.read(tag, until=SENDS)) for r in others]
    daphne = topology.daphnes[VICTIM]
    assert daphne.proc is not None
    memory = Memory(daphne.proc.pid)
    sampler = asyncio.create_task(memory.sample())
    log_offset = daphne.log.stat().st_size

    start = time.monotonic()
    for n in range(SENDS):
        body = {"room_id": room, "text": f"{tag}{n} {TEXT}"}
        await asyncio.to_thread(api_post, topology.url(1 - VICTIM), sender[1], "send", body)
    await asyncio.sleep(CLOSE_WAIT_SECONDS)
    for reader in stalled:
        reader.read_again()
    await asyncio.gather(*(r.read(tag, until=SENDS) for r in stalled))
    end = time.monotonic()
    await asyncio.sleep(2.0)  # the aborted connections' buffers are freed
    sampler.cancel()
    after = rss_kib(memory.pid)
    with daphne.log.open("rb") as log:
        log.seek(log_offset)
        logged = log.read().decode(errors="replace").count(SLOW_CONSUMER_LOGGED)
    await asyncio.gather(*reading)

    ended = {r.name: r.ended for r in stalled}
    read_before = {r.name: len(r.got) for r in stalled}
    reconnects: dict[str, list[str]] = {}
    for reader in stalled:  # as a client does: reconnect with its cursor until it has the rest
        reconnects[reader.name] = []
        while not reader.complete() and len(reconnects[reader.name]) < RECONNECTS:
            await reader.close()
            await reader.open()
            reader.ended = ""
            await reader.read(tag, until=SENDS)
            reconnects[reader.name].append(reader.ended or f"complete ({len(reader.got)})")
    for reader in [*others, *stalled]:
        await reader.close()
    note = (
        f"{SLOW} sockets on daphne-{VICTIM} stop reading while their room gets {SENDS} messages of ~130 KB: "
        f"ended {sorted(set(ended.values()))}, having read {sorted(read_before.values())}; daphne-{VICTIM} RSS "
        f"{memory.before // 1024} MB before, {memory.peak // 1024} MB at the peak, {after // 1024} MB after"
    )
    details = {
        "ended": ended,
        "read_before_the_close": read_before,
        "slow_consumers_logged": logged,
        "rss_kib": {"before": memory.before, "peak": memory.peak, "after": after},
        "slow_reconnects": reconnects,
        "slow_complete_after_reconnect": {r.name: r.complete() for r in stalled},
        "slow_got": {r.name: r.got for r in stalled if not r.complete()},
        "others_complete": {r.name: r.complete() for r in others},
        "others_got": {r.name: r.got for r in others if not r.complete()},
    }
    return Window(start, end, note=note, details=details)


def test_slow_readers_are_closed_and_everyone_else_gets_everything(topology: Topology) -> None:
    users = make_users(1 + SLOW + 2)
    sender, slow, healthy = users[0], users[1 : 1 + SLOW], users[1 + SLOW :]
    room = _room(topology, sender, slow + healthy)

    def stop_reading(run: Run) -> Window:
        return asyncio.run(_slow_readers(run.topology, sender, slow, healthy, room))

    figures = run_fault(topology, "slow readers", stop_reading)
    details = figures.fault_details
    assert set(details["ended"].values()) <= {"close 4008", "aborted"}, f"not closed: {figures.line()}"
    assert details["slow_consumers_logged"] == SLOW, figures.line()
    assert all(n < SENDS for n in details["read_before_the_close"].values()), figures.line()
    assert all(details["others_complete"].values()), f"the others missed messages: {details['others_got']}"
    assert all(details["slow_complete_after_reconnect"].values()), f"short after reconnecting: {details['slow_got']}"
    figures.check()
