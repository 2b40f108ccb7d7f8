"""S5: clients with a cursor go away, their rooms get messages, all come back at once with their cursor.

Measures the time until every client has caught up (got every missed message, replayed from its
cursor), and what the reconnect cost the database: pg_stat_database counters of the bench database
across the reconnect phase, minus the idle rate measured just before (relay, push sweeper).
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

from bench import data
from bench.harness import CpuMeter, percentile
from bench.loadclient import Client, Receipts, close_all, open_all, open_client
from bench.sends import wait_delivered
from bench.targets import Project, Target


async def _send_rooms(target: Project, receipts: Receipts, rooms: list[int], per_room: int, first: int) -> int:
    """per_room messages to each room, one room's one after the other, rooms in parallel."""
    pool = target.pool()
    seq = first
    plans: dict[int, list[int]] = defaultdict(list)
    for _ in range(per_room):
        for room in rooms:
            receipts.room_of[seq] = room
            plans[room].append(seq)
            seq += 1
    failures = 0

    async def room_sender(room: int) -> None:
        nonlocal failures
        for s in plans[room]:
            if await target.send(pool, s, room) != 200:
                failures += 1

    await asyncio.gather(*(room_sender(r) for r in rooms))
    pool.close()
    return failures


async def reconnect_run(
    target: Target, *, clients_count: int, room_size: int, missed: int, settle: float
) -> dict[str, Any]:
    if not isinstance(target, Project):
        raise TypeError("the project only: the baseline has no cursor and no storage")
    layout = await asyncio.to_thread(target.prepare, clients_count, room_size)
    rooms = list(range(len(layout.members)))
    receipts = Receipts()
    clients: list[Client] = [target.client(i) for i in range(clients_count)]
    await open_all(clients, receipts)
    # One live message per room gives every client a cursor.
    await _send_rooms(target, receipts, rooms, 1, 0)
    await wait_delivered({r: set(layout.members[r]) for r in rooms}, receipts, 30)
    cursors = [c.cursor for c in clients]
    no_cursor = sum(1 for c in cursors if not c)
    await close_all(clients)
    await asyncio.sleep(2)

    first = len(rooms)
    failures = await _send_rooms(target, receipts, rooms, missed, first)
    wanted: dict[int, set[int]] = defaultdict(set)  # client -> seqs missed
    for seq in range(first, first + missed * len(rooms)):
        for index in layout.members[receipts.room_of[seq]]:
            wanted[index].add(seq)
    idle_rate, before = await data.quiet_counters(target.config.database, settle=settle)

    fresh = Receipts(room_of=receipts.room_of)
    back = [target.client(i, cursor=cursors[i]) for i in range(clients_count)]
    meter = CpuMeter(target.cpu_pids())
    meter.start()
    began = time.monotonic()
    opened = await asyncio.gather(*(open_client(c, fresh, timeout=120) for c in back), return_exceptions=True)
    connect_failures = [repr(r) for r in opened if isinstance(r, BaseException)]
    # A refused connect (the listen backlog overflowed) is retried, as a client would.
    retry = [c for c, r in zip(back, opened, strict=True) if isinstance(r, BaseException)]
    for _ in range(3):
        if not retry:
            break
        await asyncio.sleep(0.5)
        again = await asyncio.gather(*(open_client(c, fresh, timeout=120) for c in retry), return_exceptions=True)
        retry = [c for c, r in zip(retry, again, strict=True) if isinstance(r, BaseException)]
    connected_s = time.monotonic() - began
    await _wait_caught_up(fresh, wanted, 120)
    got = _got(fresh)
    caught_up: list[float] = []
    after_connect: list[float] = []
    missing = 0
    for index in range(clients_count):
        times = {s: at for s, at in got[index].items() if s in wanted[index]}
        missing += len(wanted[index]) - len(times)
        if len(times) == len(wanted[index]) and times:
            caught_up.append(max(times.values()) - began)
            after_connect.append(max(times.values()) - back[index].connected_at)
    phase = time.monotonic() - began
    cpu = meter.stop()
    await asyncio.sleep(settle)
    after = data.pg_counters(target.config.database)
    duplicated = sum(len(r) - len({i for i, _ in r}) for r in fresh.at.values())
    await close_all(back)
    raw = data.counters_delta(before, after)
    net = data.net_of_idle(before, after, idle_rate, phase + settle)
    return {
        "clients": clients_count,
        "rooms": len(rooms),
        "missed_per_client": missed,
        "clients_without_cursor": no_cursor,
        "send_failures": failures,
        "connects_refused_then_retried": len(connect_failures),
        "connect_failures": len(retry),
        "first_connect_failures": connect_failures[:3],
        "all_connected_s": round(connected_s, 2),
        "all_caught_up_s": round(max(caught_up), 2) if caught_up else float("nan"),
        "caught_up_p50_s": round(percentile(caught_up, 50), 2),
        "caught_up_p99_s": round(percentile(caught_up, 99), 2),
        "replay_after_connect_p50_ms": round(1000 * percentile(after_connect, 50), 1),
        "replay_after_connect_p99_ms": round(1000 * percentile(after_connect, 99), 1),
        "lost": missing,
        "duplicated": duplicated,
        "out_of_order": fresh.out_of_order,
        "error_frames": len(fresh.error_frames),
        "first_error_frames": fresh.error_frames[:2],
        "db_delta": raw,
        "db_delta_net_of_idle": net,
        "db_xact_per_client": round(net["xact_commit"] / clients_count, 1),
        "db_tup_fetched_per_client": round(net["tup_fetched"] / clients_count, 1),
        "cpu_pct": cpu,
    }


def _got(fresh: Receipts) -> dict[int, dict[int, float]]:
    """Per client: seq -> first receipt time."""
    got: dict[int, dict[int, float]] = defaultdict(dict)
    for seq, receipts in fresh.at.items():
        for index, at in receipts:
            got[index].setdefault(seq, at)
    return got


async def _wait_caught_up(fresh: Receipts, wanted: dict[int, set[int]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = _got(fresh)
        if all(wanted[i] <= got[i].keys() for i in wanted):
            return
        await asyncio.sleep(0.1)
