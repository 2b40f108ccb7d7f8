"""A three-node NATS cluster (JetStream, the stream with three replicas) loses a node under load:
the node leading the stream is SIGKILLed, kept down a while, then started again. The servers know
all three (NATS_URL lists them): their connections to the killed node move to another, the stream
elects a new leader, publishes that found none are left in the outbox and published again; nothing
answered 2xx is lost, duplicated or reordered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import pytest
from django.test import override_settings
from nats.js import api

from streaming.jetstream import STREAM_NAME, _differs, connect, nats_servers, stream_config
from tests.faults.figures import Window
from tests.faults.harness import Run, run_fault
from tests.faults.topology import CLUSTER_NODES, NatsNode, Topology

pytestmark = [pytest.mark.faults, pytest.mark.timeout(400)]

DOWN_SECONDS = 5.0
SETTLE_TIMEOUT_SECONDS = 60.0


async def _stream_info(url: str) -> api.StreamInfo:
    nc = await connect(name="faults-cluster", url=url)
    try:
        return await nc.jetstream(timeout=2.0).stream_info(STREAM_NAME)
    finally:
        await nc.close()


def _stream_when(
    url: str, ready: Callable[[api.StreamInfo], bool], timeout: float = SETTLE_TIMEOUT_SECONDS
) -> api.StreamInfo:
    """The stream's info once `ready(info)` holds (polled: an election answers nothing meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            info = asyncio.run(_stream_info(url))
        except Exception:
            info = None
        if info is not None and ready(info):
            return info
        if time.monotonic() > deadline:
            raise AssertionError(f"the stream did not settle within {timeout:.0f}s: {info}")
        time.sleep(0.2)


def _settled(info: api.StreamInfo) -> bool:
    """A leader, and every other replica current."""
    cluster = info.cluster
    return bool(cluster and cluster.leader and cluster.replicas and all(p.current for p in cluster.replicas))


def _peers(info: api.StreamInfo) -> list[str]:
    cluster = info.cluster
    return sorted([cluster.leader or "", *(p.name or "" for p in cluster.replicas or [])]) if cluster else []


def _lose_the_stream_leader(run: Run) -> Window:
    topology = run.topology
    url = topology.nats_url
    replicas = _stream_when(url, lambda info: bool(info.cluster and info.cluster.leader)).config.num_replicas
    assert replicas == CLUSTER_NODES, (
        f"the stream has {replicas} replica(s), not {CLUSTER_NODES}: do the servers read CHAT_STREAM_REPLICAS?"
    )
    before = _stream_when(url, _settled)
    assert before.cluster is not None
    victim: NatsNode = next(node for node in topology.cluster if node.name == before.cluster.leader)
    start = time.monotonic()
    victim.service.kill()
    elected = _stream_when(url, lambda info: bool(info.cluster and info.cluster.leader not in (None, victim.name)))
    elected_s = time.monotonic() - start
    time.sleep(max(0.0, DOWN_SECONDS - elected_s))
    victim.start()  # waits for its /healthz: JetStream up, its streams caught up
    end = time.monotonic()
    after = _stream_when(url, _settled)
    assert elected.cluster is not None and after.cluster is not None
    note = (
        f"stream leader {victim.name} SIGKILLed, down {end - start:.1f}s, new leader {elected.cluster.leader} "
        f"after {elected_s:.1f}s; then {victim.name} started again"
    )
    details = {
        "replicas": before.config.num_replicas,
        "peers_before": _peers(before),
        "peers_after": _peers(after),
        "killed": victim.name,
        "leader_elected_s": round(elected_s, 2),
        "leader_after": after.cluster.leader,
        "messages_before": before.state.messages,
        "messages_after": after.state.messages,
    }
    return Window(start, end, note=note, details=details)


@pytest.fixture
def cluster(topology: Topology) -> Iterator[Topology]:
    with topology.nats_cluster():
        yield topology


def test_a_nats_cluster_losing_the_stream_leader_neither_loses_nor_duplicates_nor_reorders(cluster: Topology) -> None:
    figures = run_fault(cluster, "NATS cluster node SIGKILL", _lose_the_stream_leader)
    details = figures.fault_details
    assert details["replicas"] == CLUSTER_NODES, figures.line()
    nodes = sorted(node.name for node in cluster.cluster)
    assert details["peers_before"] == details["peers_after"] == nodes, figures.line()
    figures.check()


# --- the configuration the cluster needs (no services) ------------------------------------------


def test_nats_url_may_list_a_clusters_servers() -> None:
    assert nats_servers("nats://127.0.0.1:4222") == ["nats://127.0.0.1:4222"]
    assert nats_servers("nats://a:4222, nats://b:4222,,nats://c:4222 ") == [
        "nats://a:4222",
        "nats://b:4222",
        "nats://c:4222",
    ]


def test_the_stream_has_chat_stream_replicas_copies_and_a_change_updates_it() -> None:
    with override_settings(CHAT_STREAM_REPLICAS=1):
        single = stream_config()
    with override_settings(CHAT_STREAM_REPLICAS=3):
        replicated = stream_config()
    assert single.num_replicas == 1
    assert replicated.num_replicas == 3
    assert _differs(single, replicated)
    assert not _differs(replicated, replicated)
