"""redis-server restarted under load (no persistence: it comes back empty): the channel layer
reconnects, sockets catch up with what the layer dropped, and presence is re-registered."""

from __future__ import annotations

import time

import pytest

from tests.faults.figures import Window
from tests.faults.harness import Run, run_fault
from tests.faults.topology import Topology

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

DOWN_SECONDS = 2.0


def _restart_redis(run: Run) -> Window:
    start = time.monotonic()
    run.topology.stop_redis()
    time.sleep(DOWN_SECONDS)
    end = time.monotonic()
    run.topology.start_redis()
    return Window(start, end, note=f"redis-server down {DOWN_SECONDS:.0f}s (SIGTERM), then started again, empty")


def test_a_redis_restart_loses_nothing_and_presence_comes_back(topology: Topology) -> None:
    figures = run_fault(topology, "redis-server restart", _restart_redis)
    figures.check()
