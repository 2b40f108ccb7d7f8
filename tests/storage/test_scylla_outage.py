"""Cassandra that does not answer: the API answers 503 `service_unavailable` with Retry-After, as for a
PostgreSQL or Redis outage, not a 500 (storage/scylla/cql.py raises the driver's unavailability errors
as kernel.errors.DependencyUnavailable, the driver's error as its cause).

The outage is real: the repository's session is swapped for one of a second driver cluster that
reaches the node through a TCP relay, and the relay then goes down (connections reset, new ones
refused: the driver's NoHostAvailable) or hangs (bytes no longer forwarded: OperationTimedOut).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from kernel.errors import DependencyUnavailable
from tests.storage.plugin import scylla_enabled

pytestmark = [
    pytest.mark.skipif(not scylla_enabled(), reason="the scylla back end (CHAT_STORAGE=scylla)"),
    pytest.mark.django_db,
]

CQL_PORT = 9042
REQUEST_TIMEOUT_SECONDS = 1.0  # the relay session's client-side time-out (the hang case)


class Relay:
    """A TCP relay 127.0.0.1:<port> -> the Cassandra node; `down()` resets its connections and stops
    listening (a node that went away), `hang()` keeps them open but forwards nothing (a node that hangs)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.forwarding = threading.Event()
        self.forwarding.set()
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # down
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                self.forwarding.wait()
                sink.sendall(data)
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.close()

    def hang(self) -> None:
        self.forwarding.clear()

    def down(self) -> None:
        self.listener.close()
        with self.lock:
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
        self.forwarding.set()  # pumps blocked on a hang end on their closed sockets


@pytest.fixture
def relay() -> Iterator[Relay]:
    """The repository's Cassandra session, for this test, reaches the node through a Relay (restored
    here, before the clean-up of the test's partitions needs the working one)."""
    from cassandra.cluster import Cluster
    from cassandra.cqlengine import connection as cqlengine_connection
    from cassandra.policies import ConstantReconnectionPolicy

    from storage.scylla.cql import CASSANDRA_DB_ALIAS, cql

    registered = cqlengine_connection.get_connection(CASSANDRA_DB_ALIAS)
    relay = Relay(settings.CASSANDRA_HOSTS[0], CQL_PORT)
    cluster = Cluster(
        ["127.0.0.1"],
        port=relay.port,
        connect_timeout=5,
        reconnection_policy=ConstantReconnectionPolicy(60.0),  # no reconnect while the test runs
    )
    session = cluster.connect()
    session.row_factory = registered.session.row_factory
    session.default_timeout = REQUEST_TIMEOUT_SECONDS
    working, prepared = registered.session, cql._prepared
    registered.session, cql._prepared = session, {}  # statements prepared again, through the relay
    try:
        yield relay
    finally:
        registered.session, cql._prepared = working, prepared
        relay.down()
        cluster.shutdown()


def _unavailable_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "kernel.exceptions"]


def _assert_503(response: Any) -> None:
    assert response.status_code == 503, response.content
    body = json.loads(response.content)
    assert body["code"] == "service_unavailable"
    assert int(response["Retry-After"]) > 0


@pytest.mark.parametrize("outage", ["down", "hang"])
def test_a_cassandra_that_does_not_answer_is_a_503_with_retry_after(
    outage: str, relay: Relay, api: Any, user_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    alice, bob = user_factory(), user_factory()
    client = api(alice)
    created = client.post(
        "/api/chat/v1/room/create", {"type": "group", "name": "g", "participants": [bob.pk]}, format="json"
    )
    assert created.status_code == 200, created.content  # through the relay: the back end answers
    room_id = created.json()["room"]["id"]

    getattr(relay, outage)()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="kernel.exceptions"):
        sent = client.post("/api/chat/v1/send", {"room_id": room_id, "text": "hello"}, format="json")
        listed = client.get(f"/api/chat/v1/room/{room_id}")

    _assert_503(sent)
    _assert_503(listed)
    lines = _unavailable_lines(caplog)
    assert [level for level, _ in lines] == ["WARNING", "WARNING"], lines  # one line each, no traceback
    assert all("cassandra unavailable" in message for _, message in lines), lines


def test_the_unavailability_keeps_the_drivers_error_as_its_cause(relay: Relay) -> None:
    from cassandra.cluster import NoHostAvailable

    from storage.scylla.cql import cql

    relay.down()
    with pytest.raises(DependencyUnavailable) as raised:
        cql.rows("SELECT * FROM {room_details} WHERE room_id = ?", [uuid.uuid4()])
    assert raised.value.component == "cassandra"
    assert isinstance(raised.value.__cause__, NoHostAvailable)


def test_a_logged_batch_that_timed_out_after_the_batch_log_stands() -> None:
    """Write type BATCH: the batch log holds it and Cassandra applies all of it; BATCH_LOG: it may not."""
    from cassandra import WriteTimeout, WriteType

    from storage.scylla.cql import reached_batch_log

    def timed_out(write_type: int) -> DependencyUnavailable:
        try:
            try:
                raise WriteTimeout("timed out", write_type=write_type)
            except WriteTimeout as exc:
                raise DependencyUnavailable("cassandra", str(exc)) from exc
        except DependencyUnavailable as exc:
            return exc

    assert reached_batch_log(timed_out(WriteType.BATCH))
    assert not reached_batch_log(timed_out(WriteType.BATCH_LOG))
    assert not reached_batch_log(timed_out(WriteType.SIMPLE))
