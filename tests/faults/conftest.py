"""The fault suite: faults of the real services under a steady load, on a topology of its own
(tests/faults/topology.py) shared by the package's tests; each test starts with every piece
running. Marked `faults` (`-m "not faults"` leaves them out). Each run's figures: one line in the
session's summary, one JSON line in test-artifacts/faults/report.jsonl."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bench.harness import raise_fd_limit
from tests.faults.figures import REPORTED
from tests.faults.topology import Topology


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line per fault run, whatever the capture mode (the JSON lines: test-artifacts/faults/)."""
    if REPORTED:
        terminalreporter.section("faults")
        for line in REPORTED:
            terminalreporter.write_line(line)


@pytest.fixture(scope="package")
def _topology(django_db_setup: None, django_db_blocker: Any) -> Iterator[Topology]:
    raise_fd_limit()  # a thousand sockets at once: this process's and the daphnes' (they inherit it)
    topology = Topology()
    try:
        topology.start()
        yield topology
    finally:
        topology.stop()


@pytest.fixture
def topology(_topology: Topology, transactional_db: None) -> Topology:
    """The suite's topology, every piece running (a previous test's fault may have left one down)."""
    _topology.ensure_running()
    return _topology
