"""Cassandra down during a stream's handshake or reconnect replay (CHAT_STORAGE=scylla): the socket gets
a `service_unavailable` error frame and close 4013, which its client reconnects on, with one warning
line and no traceback; a reconnect replay is not turned into `resync_required`, so reconnecting with
the same cursor once Cassandra answers again brings everything missed.

The outage is the driver's own: the repository's session is swapped for a shut-down session of a
second cluster (every request: NoHostAvailable), while PostgreSQL (users, tokens) keeps answering.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.conf import settings

from streaming.frame_limits import CLOSE_TRY_AGAIN_LATER
from tests.storage.plugin import scylla_enabled
from tests.streaming.helpers import StreamClient, create_group, make_users, message_text, message_texts, rest, send_text

pytestmark = [
    pytest.mark.skipif(not scylla_enabled(), reason="the scylla back end (CHAT_STORAGE=scylla)"),
    pytest.mark.django_db(transaction=True),
]


@contextmanager
def cassandra_down() -> Iterator[None]:
    from cassandra.cluster import Cluster
    from cassandra.cqlengine import connection as cqlengine_connection

    from storage.scylla.cql import CASSANDRA_DB_ALIAS

    registered = cqlengine_connection.get_connection(CASSANDRA_DB_ALIAS)
    cluster = Cluster(list(settings.CASSANDRA_HOSTS))
    dead = cluster.connect()
    dead.shutdown()
    working = registered.session
    registered.session = dead
    try:
        yield
    finally:
        registered.session = working
        cluster.shutdown()


def _stream_log(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    """The warnings and errors the stream logged (its INFO lines, e.g. the stream created, aside)."""
    return [
        (r.levelname, r.getMessage())
        for r in caplog.records
        if r.name.startswith("streaming") and r.levelno >= logging.WARNING
    ]


async def _assert_closed_to_retry(socket: StreamClient) -> None:
    code = await socket.wait_closed()
    assert code == CLOSE_TRY_AGAIN_LATER
    errors = [f["error"] for f in socket.frames if "error" in f]
    assert [e["code"] for e in errors] == ["service_unavailable"], socket.frames


async def test_a_handshake_while_cassandra_is_down_closes_with_4013_then_connects(
    caplog: pytest.LogCaptureFixture,
) -> None:
    alice, bob = await rest(make_users)(2)
    await rest(create_group)(alice, [bob], "outage")
    caplog.set_level(logging.INFO, logger="streaming")
    with cassandra_down():
        refused = await StreamClient.open(bob)
        await _assert_closed_to_retry(refused)
    lines = _stream_log(caplog)
    assert [level for level, _ in lines] == ["WARNING"], lines  # one line, no traceback
    assert "cassandra unavailable" in lines[0][1]

    again = await StreamClient.open(bob)
    try:
        await again.wait_for(lambda f: f.get("connected") is True)
        await again.collect(0.3)
        assert again.close_code is None
    finally:
        await again.close()


async def test_a_reconnect_replay_while_cassandra_is_down_is_retried_not_resynced(bridge, caplog) -> None:
    bridge()
    alice, bob = await rest(make_users)(2)
    room = await rest(create_group)(alice, [bob], "outage replay")
    socket = await StreamClient.open(bob)
    await rest(send_text)(alice, room["id"], "seen")
    seen = await socket.wait_for(lambda f: message_text(f) == "seen")
    await socket.close()
    for i in range(3):
        await rest(send_text)(alice, room["id"], f"missed {i}")

    with cassandra_down():
        refused = await StreamClient.open(bob, cursor=seen["cursor"])
        await _assert_closed_to_retry(refused)
    assert not [f for f in refused.frames if (f.get("error") or {}).get("code") == "resync_required"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("streaming")]

    again = await StreamClient.open(bob, cursor=seen["cursor"])
    try:
        await again.wait_for(lambda f: message_text(f) == "missed 2")
        await again.collect(0.3)
        assert message_texts(again.frames) == ["missed 0", "missed 1", "missed 2"]
    finally:
        await again.close()
