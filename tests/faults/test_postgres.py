"""PostgreSQL unavailable for 5 s under load, through the proxy the servers reach it by (new
connections refused, open ones cut): sends fail with an answer meanwhile, and everything answered 2xx
before, during or after is stored and delivered."""

from __future__ import annotations

import time

import pytest

from tests.faults.figures import Window
from tests.faults.harness import Run, run_fault
from tests.faults.topology import Topology

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

OUTAGE_SECONDS = 5.0


def _postgres_outage(run: Run) -> Window:
    start = time.monotonic()
    cut = run.topology.proxy.outage()
    time.sleep(OUTAGE_SECONDS)
    run.topology.proxy.restore()
    end = time.monotonic()
    return Window(start, end, note=f"PostgreSQL away {OUTAGE_SECONDS:.0f}s, {cut} connections cut")


def test_a_postgres_outage_neither_loses_nor_duplicates_nor_reorders(topology: Topology) -> None:
    figures = run_fault(topology, "PostgreSQL 5 s outage", _postgres_outage)
    figures.check()
    assert not [status for status in figures.not_2xx if status.startswith("5") and status != "503"], figures.line()
