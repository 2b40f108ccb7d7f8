"""SIGKILL of the bridge under load, restarted after a while: it resumes at its ack floor, in order,
and whatever it had sent but not acked is dropped by the sockets as a duplicate."""

from __future__ import annotations

import time

import pytest

from tests.faults.figures import Window
from tests.faults.harness import Run, run_fault
from tests.faults.topology import Topology

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

DOWN_SECONDS = 3.0


def _kill_bridge(run: Run) -> Window:
    start = time.monotonic()
    run.topology.kill_bridge()
    time.sleep(DOWN_SECONDS)
    end = time.monotonic()
    run.topology.start_bridge()
    return Window(start, end, note=f"bridge down {DOWN_SECONDS:.0f}s, then started again")


def test_sigkill_of_the_bridge_neither_loses_nor_duplicates_nor_reorders(topology: Topology) -> None:
    figures = run_fault(topology, "bridge SIGKILL", _kill_bridge)
    figures.check()
