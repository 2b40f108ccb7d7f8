"""One fault under load, and what it did: `run_fault(topology, name, fault)`.

The run: users and rooms (10 rooms of 4 members with sockets, each user in two rooms, half of them
with two devices, and two members who stay offline; `crowd_per_room` more members per room, with
`crowd_devices` sockets each, who only read), every socket open, a steady send load
(tests/faults/load.py) for WARMUP_SECONDS, the fault (a function run in a thread, given the `Run`,
returning its window), AFTER_SECONDS more of load; then the sends stop and the run waits (at most
RECOVERY_TIMEOUT_SECONDS) until every socket has every message of its rooms whose send answered 2xx,
and a moment more for late duplicates. Presence is then read from the registry (at most
PRESENCE_TIMEOUT_SECONDS to be right): a user is registered once per open socket, plus the sockets
a SIGKILLed process held (they live out their TTL: `Window.killed_daphne`), offline members not at
all; and again once every socket is closed.

The figures (tests/faults/figures.py): each run prints one line and appends a JSON line to
test-artifacts/faults/report.jsonl before its test makes its assertions (`Figures.check()`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from streaming.jetstream import connect, stream_state
from streaming.registry import RedisStreamRegistry
from tests import storage_probe as probe
from tests.factories import UserFactory, token_for
from tests.faults.figures import Figures, Observed, Window, figures_of
from tests.faults.load import Member, Population, Receiver, Room, Send, Senders, wait_until
from tests.faults.topology import Topology
from tests.servers import api_post

ROOMS = 10
ROOM_SIZE = 4  # members with sockets
SOCKET_USERS = 20  # each in ROOMS * ROOM_SIZE / SOCKET_USERS = 2 rooms
OFFLINE_USERS = 2
SEND_INTERVAL_SECONDS = 0.5  # per room: 10 rooms, ~20 sends/s in all
WARMUP_SECONDS = 4.0
AFTER_SECONDS = 6.0
RECOVERY_TIMEOUT_SECONDS = 60.0
QUIET_SECONDS = 1.5
PRESENCE_TIMEOUT_SECONDS = 10.0

T = TypeVar("T")


@dataclass
class Run:
    """What a fault works on: the topology, the load, the sockets (the fault runs in a thread of its
    own; `call()` runs a coroutine on the load's event loop and waits for it)."""

    topology: Topology
    senders: Senders
    receivers: list[Receiver]
    population: Population
    loop: asyncio.AbstractEventLoop

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def crowd(self) -> list[Receiver]:
        """The receivers of the crowd members (make_population's `crowd_per_room`)."""
        crowd = {m.index for m in self.population.crowd}
        return [r for r in self.receivers if r.member.index in crowd]


Fault = Callable[[Run], Window]


def make_users(count: int) -> list[tuple[int, str]]:
    """`count` new users: (id, token)."""
    return [(int(u.pk), token_for(u)) for u in (UserFactory() for _ in range(count))]


def make_population(topology: Topology, *, crowd_per_room: int = 0, crowd_devices: int = 1) -> Population:
    users = make_users(SOCKET_USERS + OFFLINE_USERS)
    daphnes = len(topology.daphnes)
    people = [
        Member(
            index=i,
            user_id=user_id,
            token=token,
            home=i % daphnes,
            devices=(0 if i >= SOCKET_USERS else 2 if i % 4 < 2 else 1),
        )
        for i, (user_id, token) in enumerate(users)
    ]
    members, offline = people[:SOCKET_USERS], people[SOCKET_USERS:]
    crowd = [
        Member(index=len(people) + i, user_id=user_id, token=token, home=i % daphnes, devices=crowd_devices)
        for i, (user_id, token) in enumerate(make_users(ROOMS * crowd_per_room))
    ]
    rooms: list[Room] = []
    room_members: dict[int, list[Member]] = {}
    for index in range(ROOMS):
        inside = [members[(ROOM_SIZE // 2 * index + k) % SOCKET_USERS] for k in range(ROOM_SIZE)]
        readers = crowd[index * crowd_per_room : (index + 1) * crowd_per_room]
        away = [offline[index % OFFLINE_USERS]] if index < 2 * OFFLINE_USERS else []
        participants = [m.user_id for m in inside[1:] + readers + away]
        body = {"type": "group", "name": f"fault room {index}", "participants": participants}
        created = api_post(topology.url(index % daphnes), inside[0].token, "room/create", body)
        rooms.append(Room(index=index, id=str(created["room"]["id"]), senders=inside))
        room_members[index] = inside + readers
    return Population(members=members + crowd, offline=offline, rooms=rooms, room_members=room_members, crowd=crowd)


async def _stream_last_seq(nats_url: str) -> int:
    nc = await connect(name="faults-load", url=nats_url)
    try:
        return int((await stream_state(nc.jetstream())).last_seq)
    finally:
        await nc.close()


def _missing(receivers: list[Receiver], population: Population, sends: list[Send]) -> int:
    """(message answered 2xx, socket of a member of its room) pairs not delivered yet."""
    got: dict[int, list[set[str]]] = defaultdict(list)
    for receiver in receivers:
        got[receiver.member.index].append({text for _, text in receiver.arrivals})
    return sum(
        1
        for s in sends
        if s.ok
        for m in population.room_members[s.room]
        for texts in got[m.index]
        if s.text not in texts
    )


class Presence:
    """What the registry (the suite's Redis) holds, against what it should."""

    def __init__(self, topology: Topology, population: Population, receivers: list[Receiver], window: Window) -> None:
        self.registry = RedisStreamRegistry(topology.redis_url)
        self.population = population
        self.receivers = receivers
        self.window = window

    def wanted(self) -> dict[int, int]:
        """Per user: open sockets, plus those a SIGKILLed daphne held (their entries live out their TTL)."""
        wanted = {m.user_id: 0 for m in [*self.population.members, *self.population.offline]}
        for receiver in self.receivers:
            killed = any(c.daphne == self.window.killed_daphne for c in receiver.closes)
            wanted[receiver.member.user_id] += int(receiver.open) + int(killed)
        return wanted

    async def found(self, user_ids: list[int]) -> dict[int, int]:
        return {u: len(await self.registry.connections(u)) for u in user_ids}

    async def settle(self) -> tuple[bool, str]:
        """Polls (a bounded while) until the registry is as wanted; (right, what is wrong)."""
        deadline = time.monotonic() + PRESENCE_TIMEOUT_SECONDS
        while True:
            wanted = self.wanted()
            found = await self.found(list(wanted))
            wrong = {u: (found[u], w) for u, w in wanted.items() if found[u] != w}
            if not wrong or time.monotonic() > deadline:
                return not wrong, "" if not wrong else f"user: (registered, wanted) {wrong}"
            await asyncio.sleep(0.25)

    async def close(self) -> None:
        await self.registry._async().aclose()


async def _observe(topology: Topology, population: Population, fault: Fault, run_id: str) -> Observed:
    ports = list(topology.daphne_ports)
    receivers = [Receiver(member=m, device=d, ports=ports) for m in population.members for d in range(m.devices)]
    for receiver in receivers:
        receiver.start()
    try:
        if not await wait_until(lambda: all(r.open for r in receivers), 60):
            closed = [(r.member.index, r.refusals[-3:], r.errors[-3:]) for r in receivers if not r.open]
            raise AssertionError(f"sockets did not open: {closed}")
        # As clients that have synced: from the stream's end on, wherever they reconnect.
        last_seq = await _stream_last_seq(topology.nats_url)
        for receiver in receivers:
            receiver.cursor = receiver.cursor or str(last_seq)
        senders = Senders(run=run_id, rooms=population.rooms, ports=ports, interval=SEND_INTERVAL_SECONDS)
        senders.start()
        await asyncio.sleep(WARMUP_SECONDS)
        loop = asyncio.get_running_loop()
        run = Run(topology=topology, senders=senders, receivers=receivers, population=population, loop=loop)
        window = await loop.run_in_executor(None, fault, run)
        await asyncio.sleep(AFTER_SECONDS)
        await senders.stop()
        await wait_until(lambda: _missing(receivers, population, senders.sends) == 0, RECOVERY_TIMEOUT_SECONDS)
        await asyncio.sleep(QUIET_SECONDS)
        await wait_until(lambda: all(r.open for r in receivers), PRESENCE_TIMEOUT_SECONDS)
        presence = Presence(topology, population, receivers, window)
        try:
            open_ok, open_wrong = await presence.settle()
            for receiver in receivers:
                await receiver.stop()
            closed_ok, closed_wrong = await presence.settle()
        finally:
            await presence.close()
    finally:
        for receiver in receivers:
            await receiver.stop()
    wrong = "; ".join(
        f"{when}: {what}" for when, what in (("sockets open", open_wrong), ("sockets closed", closed_wrong)) if what
    )
    return Observed(
        sends=senders.sends, receivers=receivers, window=window, presence_ok=open_ok and closed_ok, presence=wrong
    )


def stored_messages(population: Population, sends: list[Send]) -> tuple[set[str], Counter[str]]:
    """What storage holds of the run's rooms: the message ids, and how often each send's text."""
    texts = {s.text for s in sends}
    stored_ids: set[str] = set()
    stored_texts: Counter[str] = Counter()
    for room in population.rooms:
        for record in probe.messages(room_id=uuid.UUID(room.id)):
            stored_ids.add(str(record.id))
            if record.text in texts:
                stored_texts[record.text] += 1
    return stored_ids, stored_texts


def _log_sizes(topology: Topology) -> dict[str, int]:
    return {s.name: s.log.stat().st_size if s.log.exists() else 0 for s in topology.services}


def _errors_logged(topology: Topology, since: dict[str, int]) -> dict[str, int]:
    """Per service, the lines its processes logged at ERROR level (and tracebacks) during the run."""
    counts: dict[str, int] = defaultdict(int)
    for service in topology.services:
        if not service.log.exists():
            continue
        with service.log.open("rb") as log:
            log.seek(since.get(service.name, 0))
            for line in log.read().decode(errors="replace").splitlines():
                if " ERROR " in line or line.startswith("Traceback"):
                    counts[service.name] += 1
    return dict(counts)


def run_fault(
    topology: Topology, name: str, fault: Fault, *, crowd_per_room: int = 0, crowd_devices: int = 1
) -> Figures:
    """Runs the fault under load on a running topology; reports and returns the figures (the caller
    asserts: `figures.check()` and anything of its own)."""
    population = make_population(topology, crowd_per_room=crowd_per_room, crowd_devices=crowd_devices)
    since = _log_sizes(topology)
    observed = asyncio.run(_observe(topology, population, fault, uuid.uuid4().hex[:8]))
    stored_ids, stored_texts = stored_messages(population, observed.sends)
    figures = figures_of(
        name,
        population,
        observed,
        stored_ids=stored_ids,
        stored_texts=stored_texts,
        errors_logged=_errors_logged(topology, since),
    )
    figures.report()
    return figures
