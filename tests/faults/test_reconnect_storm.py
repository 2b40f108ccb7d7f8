"""A reconnect storm under load: 500 sockets with cursors (100 users with five sockets each, ten of
them in each load room, spread over both daphnes) lose their connections at the same moment, as a
network cut does, stay away while their rooms get messages, and all reconnect at once with their
cursors. Each must get what it missed exactly once and in its room's order (the replays wait their
turn: CHAT_STREAM_REPLAY_CONCURRENCY; the handshakes are served meanwhile), and presence must be
right again. Reported: the time until every socket had caught up (recovery, caught up), the
handshakes' p50 and p99, the connects that failed."""

from __future__ import annotations

import asyncio
import resource
import time

import pytest

from bench.harness import cpu_seconds
from tests.faults.figures import Window
from tests.faults.harness import ROOMS, Run, run_fault
from tests.faults.load import Receiver
from tests.faults.topology import Topology

pytestmark = [pytest.mark.faults, pytest.mark.timeout(400)]

CROWD_PER_ROOM = 10
DEVICES = 5
AWAY_SECONDS = 3.0
BACK_TIMEOUT_SECONDS = 60.0


async def _drop_all(crowd: list[Receiver]) -> asyncio.Event:
    """Cuts every crowd socket at once; none reconnects before the gate (returned) opens."""
    gate = asyncio.Event()
    for receiver in crowd:
        receiver.gate = gate
    for receiver in crowd:
        receiver.drop()
    return gate


async def _open(gate: asyncio.Event, crowd: list[Receiver]) -> None:
    for receiver in crowd:
        receiver.gate = None
    gate.set()


def _cpu(run: Run) -> dict[str, float]:
    """CPU seconds so far: each daphne's, and this process's (the load client: is it the bottleneck?)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = {"load client": usage.ru_utime + usage.ru_stime}
    for i, daphne in enumerate(run.topology.daphnes):
        cpu[f"daphne-{i}"] = cpu_seconds(daphne.proc.pid) if daphne.proc is not None else 0.0
    return cpu


def _storm(run: Run) -> Window:
    crowd = run.crowd()
    start = time.monotonic()
    gate = run.call(_drop_all(crowd))
    time.sleep(AWAY_SECONDS)
    away = sum(1 for r in crowd if not r.open)
    end = time.monotonic()
    cpu_before = _cpu(run)
    run.call(_open(gate, crowd))
    deadline = end + BACK_TIMEOUT_SECONDS
    while not all(r.open for r in crowd) and time.monotonic() < deadline:
        time.sleep(0.05)
    back = sum(1 for r in crowd if r.open)
    back_s = time.monotonic() - end
    cpu = {name: round(seconds - cpu_before[name], 2) for name, seconds in _cpu(run).items()}
    note = (
        f"{len(crowd)} sockets cut at once, away {end - start:.1f}s ({away} closed), then all reconnecting "
        f"with their cursors: {back} open again after {back_s:.1f}s"
    )
    details = {"sockets": len(crowd), "away": away, "back": back, "back_s": round(back_s, 2), "cpu_s_until_back": cpu}
    return Window(start, end, note=note + f"; CPU seconds meanwhile {cpu}", details=details)


def test_a_reconnect_storm_of_500_sockets_gets_each_what_it_missed_once_in_order(topology: Topology) -> None:
    figures = run_fault(
        topology, "500-socket reconnect storm", _storm, crowd_per_room=CROWD_PER_ROOM, crowd_devices=DEVICES
    )
    details = figures.fault_details
    sockets = ROOMS * CROWD_PER_ROOM * DEVICES
    assert details["sockets"] == details["away"] == details["back"] == sockets, figures.line()
    dropped = sum(n for how, n in figures.closes.items() if how.endswith(" dropped"))
    assert dropped == sockets, figures.line()
    assert figures.handshakes >= sockets, figures.line()
    assert "resync_required" not in figures.error_frames, f"a replay was refused: {figures.line()}"
    figures.check()
