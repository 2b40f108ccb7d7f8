"""One of the two daphne processes goes under load: SIGKILL (its sockets drop and reconnect to the
other with their cursors; its requests in flight are lost without an answer), or SIGTERM with sends
in flight (chatproject/daphne_shutdown.py: they are answered, its sockets get 1001 and move)."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from tests.faults.figures import Window
from tests.faults.harness import Run, run_fault
from tests.faults.load import Senders
from tests.faults.topology import SHUTDOWN_GRACE_SECONDS, Topology

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

VICTIM = 1


def _wait_for_sends_in_flight(senders: Senders, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while senders.in_flight[VICTIM] == 0 and time.monotonic() < deadline:
        time.sleep(0.002)
    return senders.in_flight[VICTIM]


def _kill_daphne(run: Run) -> Window:
    in_flight = _wait_for_sends_in_flight(run.senders)
    at = time.monotonic()
    run.topology.daphnes[VICTIM].kill()
    note = f"daphne-{VICTIM} SIGKILL with {in_flight} send(s) in flight"
    return Window(at, at, note=note, killed_daphne=VICTIM, details={"in_flight": in_flight})


def _terminate_daphne(run: Run) -> Window:
    in_flight = _wait_for_sends_in_flight(run.senders)
    start = time.monotonic()
    run.topology.signal_daphne(VICTIM, signal.SIGTERM)
    try:
        run.topology.daphnes[VICTIM].wait(timeout=SHUTDOWN_GRACE_SECONDS + 10)
    except subprocess.TimeoutExpired:
        exited = False
    else:
        exited = True
    end = time.monotonic()
    note = f"daphne-{VICTIM} SIGTERM with {in_flight} send(s) in flight, " + (
        f"exited after {end - start:.1f}s" if exited else "still running"
    )
    return Window(start, end, note=note, details={"in_flight": in_flight, "exited": exited})


def test_sigkill_of_a_daphne_moves_its_sockets_and_loses_nothing_answered(topology: Topology) -> None:
    figures = run_fault(topology, "daphne SIGKILL", _kill_daphne)
    figures.check()
    victim = f"daphne-{VICTIM}"
    # Every socket it held was cut (and came back on the other: figures.check() saw them all deliver).
    assert figures.closes == {f"{victim} reset": figures.sockets_at_start[victim]}, figures.line()


def test_sigterm_of_a_daphne_answers_its_sends_in_flight_and_closes_sockets_with_1001(topology: Topology) -> None:
    figures = run_fault(topology, "daphne SIGTERM", _terminate_daphne)
    figures.check()
    victim = f"daphne-{VICTIM}"
    assert figures.fault_details["exited"], f"still running after its grace period: {figures.line()}"
    in_flight = {how: n for how, n in figures.in_flight_at_fault.items() if how.startswith(victim)}
    assert list(in_flight) == [f"{victim} 2xx"], f"the sends in flight were not all answered: {figures.line()}"
    assert figures.not_2xx.get("dropped", 0) == 0, f"requests dropped without an answer: {figures.line()}"
    assert figures.closes == {f"{victim} close 1001": figures.sockets_at_start[victim]}, figures.line()
