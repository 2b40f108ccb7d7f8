"""The storage back end of a test run (CHAT_STORAGE): fixtures registered by tests/conftest.py.

On `scylla` the suites run on a real Cassandra (scripts/cassandra.sh start): once per session a test
keyspace (CASSANDRA_KEYSPACE + "_test") is created and synced, and its tables are truncated; after
every test, the partitions that the test wrote are deleted (a journal of the repository's writes:
TRUNCATE costs ~0.1 s a table, far too slow between tests). On `postgres` nothing happens here: the
test database's transactions already isolate the tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.conf import settings


def scylla_enabled() -> bool:
    return settings.CHAT_STORAGE == "scylla"


def test_keyspace() -> str:
    keyspace = str(settings.CASSANDRA_KEYSPACE)
    return keyspace if keyspace.endswith("_test") else f"{keyspace}_test"


@pytest.fixture(scope="session", autouse=True)
def _scylla_test_keyspace() -> Iterator[None]:
    if not scylla_enabled():
        yield
        return
    from tests.storage import scylla_keyspace

    keyspace = test_keyspace()
    scylla_keyspace.prepare(keyspace)
    # Processes that tests start (manage.py chat_bridge, daphne) use the test keyspace too.
    previous = os.environ.get("CASSANDRA_KEYSPACE")
    os.environ["CASSANDRA_KEYSPACE"] = keyspace
    yield
    if previous is None:
        os.environ.pop("CASSANDRA_KEYSPACE", None)
    else:
        os.environ["CASSANDRA_KEYSPACE"] = previous


@pytest.fixture(autouse=True)
def _scylla_clean_partitions() -> Iterator[None]:
    if not scylla_enabled():
        yield
        return
    from tests.storage import scylla_keyspace

    yield
    scylla_keyspace.delete_written_partitions()
