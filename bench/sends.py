"""A send run (S1, S2): REST sends at a rate to rooms of open sockets; latency, losses, order, CPU."""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from typing import Any

from bench.harness import CpuMeter, percentile
from bench.loadclient import Client, Receipts, close_all, open_all
from bench.targets import Target


def stats_ms(values: list[float], prefix: str) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {
        f"{prefix}_p50_ms": round(percentile(ms, 50), 1),
        f"{prefix}_p99_ms": round(percentile(ms, 99), 1),
        f"{prefix}_max_ms": round(max(ms), 1) if ms else float("nan"),
    }


async def wait_delivered(expected: dict[int, set[int]], receipts: Receipts, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = dict(expected)
    while pending and time.monotonic() < deadline:
        pending = {s: t for s, t in pending.items() if len({i for i, _ in receipts.at.get(s, [])} & t) < len(t)}
        if pending:
            await asyncio.sleep(0.2)


async def send_run(
    target: Target,
    *,
    sockets: int,
    room_size: int,
    rate: float,
    duration: float,
    drain: float,
    serialize: bool = True,
) -> dict[str, Any]:
    """Opens `sockets` sockets in rooms of `room_size`, sends rate × duration messages, each to a
    random room by one of its members, and measures. `serialize`: one room's sends one after the
    other (out of order = a lower seq after a higher one); otherwise open loop at the rate (out of
    order = a member socket that saw its room's messages in another order than the first member)."""
    layout = await asyncio.to_thread(target.prepare, sockets, room_size)
    receipts = Receipts()
    clients: list[Client] = [target.client(i) for i in range(sockets)]
    open_seconds = await open_all(clients, receipts)
    await asyncio.sleep(1)
    pool = target.pool()
    rooms = len(layout.members)
    locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
    sent_at: dict[int, float] = {}
    rest: list[float] = []
    errors: list[str] = []
    expected: dict[int, set[int]] = {}

    async def send_one(seq: int, room: int) -> None:
        async with locks[room if serialize else seq]:
            started = time.monotonic()
            sent_at[seq] = started
            try:
                status = await target.send(pool, seq, room)
            except Exception as exc:
                errors.append(repr(exc))
                return
            rest.append(time.monotonic() - started)
            if status != 200:
                errors.append(f"HTTP {status}")

    total = int(rate * duration)
    meter = CpuMeter(target.cpu_pids())
    meter.start()
    begin = time.monotonic()
    tasks = []
    for seq in range(total):
        room = random.randrange(rooms)
        receipts.room_of[seq] = room
        expected[seq] = set(layout.members[room])
        delay = begin + seq / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send_one(seq, room)))
    await asyncio.gather(*tasks)
    send_seconds = time.monotonic() - begin
    await wait_delivered(expected, receipts, drain)
    cpu = meter.stop()
    await asyncio.sleep(0.5)  # late duplicates
    dropped = sum(1 for c in clients if c.dropped)
    await close_all(clients)
    pool.close()

    latencies: list[float] = []
    last_member: list[float] = []
    lost = duplicated = 0
    for seq, targets in expected.items():
        counts: dict[int, int] = defaultdict(int)
        firsts: list[float] = []
        for index, at in receipts.at.get(seq, []):
            counts[index] += 1
            if counts[index] == 1 and index in targets and seq in sent_at:
                firsts.append(at - sent_at[seq])
        latencies += firsts
        missing = sum(1 for t in targets if counts.get(t, 0) == 0)
        lost += missing
        duplicated += sum(c - 1 for c in counts.values() if c > 1)
        if firsts and not missing:
            last_member.append(max(firsts))
    return {
        "sockets": sockets,
        "rooms": rooms,
        "rate_asked": rate,
        "sent": total,
        "rate_achieved": round(total / send_seconds, 1),
        "open_s": round(open_seconds, 1),
        "deliveries": sum(len(t) for t in expected.values()),
        **stats_ms(latencies, "delivery"),
        **stats_ms(last_member, "last_member"),
        **stats_ms(rest, "rest"),
        "lost": lost,
        "duplicated": duplicated,
        "serialized_per_room": serialize,
        "out_of_order": receipts.out_of_order if serialize else receipts.disagreements(layout.members),
        "send_errors": len(errors),
        "first_errors": errors[:3],
        "dropped_sockets": dropped,
        "cpu_pct": cpu,
    }
