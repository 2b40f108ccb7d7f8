"""nats-server restarted under load: sends go on (the outbox keeps their events), the relay and
the publishers publish the backlog once NATS is back, the bridge and the sockets ride it out."""

from __future__ import annotations

import time

import pytest

from tests.faults.figures import Window
from tests.faults.harness import Run, run_fault
from tests.faults.topology import Topology

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

DOWN_SECONDS = 3.0


def _restart_nats(run: Run) -> Window:
    start = time.monotonic()
    run.topology.stop_nats()
    time.sleep(DOWN_SECONDS)
    end = time.monotonic()
    run.topology.start_nats()
    return Window(start, end, note=f"nats-server down {DOWN_SECONDS:.0f}s (SIGTERM), then started again")


def test_a_nats_restart_neither_loses_nor_duplicates_nor_reorders(topology: Topology) -> None:
    figures = run_fault(topology, "nats-server restart", _restart_nats)
    figures.check()
