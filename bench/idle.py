"""S3: idle sockets held open: memory per socket, idle CPU, sockets dropped."""

from __future__ import annotations

import asyncio
from typing import Any

from bench.harness import CpuMeter, rss_kib
from bench.loadclient import Client, Receipts, close_all, open_all
from bench.targets import Target


def daphne_rss(target: Target) -> int:
    return sum(rss_kib(p.pid) for p in target.services.of("daphne"))


async def idle_run(target: Target, *, sockets: int, hold: float, room_size: int = 10) -> dict[str, Any]:
    await asyncio.to_thread(target.prepare, sockets, room_size)
    receipts = Receipts()
    warm = [target.client(i) for i in range(min(10, sockets))]
    await open_all(warm, receipts)  # first-connection imports and pools are not per-socket memory
    await close_all(warm)
    await asyncio.sleep(2)
    before = daphne_rss(target)
    clients: list[Client] = [target.client(i) for i in range(sockets)]
    open_seconds = await open_all(clients, receipts)
    await asyncio.sleep(5)
    after_open = daphne_rss(target)
    meter = CpuMeter(target.cpu_pids())
    meter.start()
    await asyncio.sleep(hold)
    cpu = meter.stop()
    after_hold = daphne_rss(target)
    dropped = sum(1 for c in clients if c.dropped)
    codes = sorted({c.closed_code for c in clients if c.dropped}, key=str)
    await close_all(clients)
    return {
        "sockets": sockets,
        "hold_s": hold,
        "open_s": round(open_seconds, 1),
        "rss_before_mib": round(before / 1024, 1),
        "rss_after_mib": round(after_hold / 1024, 1),
        "kib_per_socket": round((after_open - before) / sockets, 1),
        "kib_per_socket_after_hold": round((after_hold - before) / sockets, 1),
        "idle_cpu_pct": cpu,
        "dropped_sockets": dropped,
        "close_codes": [str(c) for c in codes],
    }
