"""S6: InitialSync and GetRooms of a user who is a member of many rooms: latency and database queries.

Queries per call two ways: SQL statements counted in this process around the selector
(CaptureQueriesContext, exact), and pg_stat_database xact_commit / tup_fetched / tup_returned of
the bench database across the REST calls, minus the idle rate, divided by the calls (Django runs in
autocommit, so xact_commit counts statements outside transactions, plus pool checks).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench import data
from bench.harness import CpuMeter
from bench.sends import stats_ms
from bench.targets import Layout, Project, Target

PARTNERS = 20


def _seed(rooms: int) -> tuple[Layout, int]:
    users = data.make_users(1 + PARTNERS)
    members = [[0, 1 + i % PARTNERS] for i in range(rooms)]
    room_ids = data.make_rooms(users, members)
    for number, room_id in enumerate(room_ids):
        data.send_direct(users[members[number][1]][0], room_id, f"seed {number}")
    layout = Layout(members=members, rooms=room_ids, tokens=[t for _, t in users], user_ids=[u for u, _ in users])
    return layout, users[0][0]


def _in_process_queries(user_id: int) -> dict[str, int]:
    from kernel.pagination import Page
    from rooms import selectors

    return {
        "InitialSync": data.captured_queries(lambda: selectors.initial_sync(user_id=user_id, last_sync_timestamp=None)),
        "GetRooms": data.captured_queries(lambda: selectors.room_list(user_id=user_id, page=Page(page=1, limit=20))),
    }


async def queries_run(target: Target, *, rooms: int, calls: int, settle: float) -> dict[str, Any]:
    if not isinstance(target, Project):
        raise TypeError("the project only: the baseline has no cursor and no storage")
    print(f"  S6: seeding a user in {rooms} rooms (one message each) ...", flush=True)
    layout, user_id = await asyncio.to_thread(_seed, rooms)
    target.layout = layout
    in_process = await asyncio.to_thread(_in_process_queries, user_id)
    pool = target.pool(4)
    headers = {"Authorization": f"Token {layout.tokens[0]}", "Content-Type": "application/json"}
    endpoints = {
        "InitialSync": ("POST", "/api/chat/v1/sync", b"{}"),
        "GetRooms": ("GET", "/api/chat/v1/room/list", b""),
    }
    for method, path, body in endpoints.values():
        for _ in range(3):
            await pool.post(path, body, headers, method=method)
    idle_rate, _ = await data.quiet_counters(target.config.database, settle=settle)
    result: dict[str, Any] = {"rooms": rooms, "calls": calls, "queries_in_process": in_process}
    for name, (method, path, body) in endpoints.items():
        meter = CpuMeter(target.cpu_pids())
        await asyncio.sleep(settle)  # the previous endpoint's counters flushed
        before = data.pg_counters(target.config.database)
        meter.start()
        began = time.monotonic()
        latencies: list[float] = []
        statuses: set[int] = set()
        for _ in range(calls):
            started = time.monotonic()
            statuses.add(await pool.post(path, body, headers, method=method))
            latencies.append(time.monotonic() - started)
        phase = time.monotonic() - began
        cpu = meter.stop()
        await asyncio.sleep(settle)
        after = data.pg_counters(target.config.database)
        net = data.net_of_idle(before, after, idle_rate, phase + settle)
        result[name] = {
            **stats_ms(latencies, "call"),
            "statuses": sorted(statuses),
            "queries_per_call_in_process": in_process[name],
            "xact_per_call": round(net["xact_commit"] / calls, 1),
            "tup_fetched_per_call": round(net["tup_fetched"] / calls, 1),
            "tup_returned_per_call": round(net["tup_returned"] / calls, 1),
            "cpu_pct": cpu,
        }
    pool.close()
    return result
