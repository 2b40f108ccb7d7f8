"""The production topology of the fault suite, of its own: a nats-server (JetStream), a redis-server
(no persistence), a TCP proxy in front of PostgreSQL, two daphne processes and one bridge (with the
outbox relay), all on pytest-django's test database through the proxy. Each piece can be killed,
stopped and started again; `ensure_running()` brings back whatever a test left down. Their output:
test-artifacts/faults/logs/<piece>.log (each restart appends).

`nats_cluster()` moves the servers for a while onto a three-node NATS cluster of its own (JetStream,
the stream with CHAT_STREAM_REPLICAS=3 copies, NATS_URL listing the three servers), then back onto
the single nats-server."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from django.conf import settings

from streaming.embedded import nats_server_binary
from tests.faults.proxy import TcpProxy
from tests.servers import (
    ROOT,
    Service,
    bridge_command,
    daphne_command,
    database_url,
    free_port,
    server_env,
    wait_http,
)

ARTIFACTS = ROOT / "test-artifacts" / "faults"
LOGS = ARTIFACTS / "logs"
DAPHNES = 2
BRIDGE_READY = "chat_bridge: partition 0 of 1 running"
# Long: presence after a Redis restart must come from re-registration, not from a heartbeat's refresh.
HEARTBEAT_SECONDS = 120
SHUTDOWN_GRACE_SECONDS = 10
CLUSTER_NODES = 3
CLUSTER_NAME = "chat-test"


def _redis_server() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("redis-server is not installed: scripts/redis.sh installs it (`make services`)")
    return found


class NatsNode:
    """One nats-server of the cluster (JetStream, its own data directory, routes to the others)."""

    def __init__(
        self, name: str, port: int, route_port: int, monitor_port: int, routes: list[int], directory: Path
    ) -> None:
        self.name = name
        self.url = f"nats://127.0.0.1:{port}"
        self.monitor_port = monitor_port
        args = [nats_server_binary(), "-js", "-a", "127.0.0.1", "-p", str(port), "-m", str(monitor_port)]
        args += ["-sd", str(directory / name), "--name", name, "--cluster_name", CLUSTER_NAME]
        args += ["-cluster", f"nats://127.0.0.1:{route_port}"]
        args += ["-routes", ",".join(f"nats://127.0.0.1:{r}" for r in routes)]
        self.service = Service(f"nats-{name}", args, env=dict(os.environ), log=LOGS / f"nats-{name}.log")

    def start(self) -> None:
        self.service.start()
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 60.0) -> None:
        """Until its /healthz answers 200: JetStream up and its streams current."""
        assert self.service.proc is not None
        wait_http(f"http://127.0.0.1:{self.monitor_port}/healthz", self.service.proc, self.service.log, timeout=timeout)


class Topology:
    def __init__(self) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        for old in LOGS.glob("*.log"):
            old.unlink()
        self.tmp = Path(tempfile.mkdtemp(prefix="chat-faults-"))
        self.nats_port, self.nats_monitor_port, self.redis_port = free_port(), free_port(), free_port()
        self.nats_url = f"nats://127.0.0.1:{self.nats_port}"
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        db = settings.DATABASES["default"]
        self.proxy = TcpProxy(
            target_host=db.get("HOST") or "127.0.0.1", target_port=int(db.get("PORT") or 5432), port=free_port()
        )
        plain = dict(os.environ)
        self.nats = Service(
            "nats-server",
            [nats_server_binary(), "-js", "-p", str(self.nats_port), "-sd", str(self.tmp / "nats"), "-a", "127.0.0.1"]
            + ["-m", str(self.nats_monitor_port)],
            env=plain,
            log=LOGS / "nats.log",
        )
        self.redis = Service(
            "redis-server",
            [_redis_server(), "--port", str(self.redis_port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"]
            + ["--dir", str(self.tmp)],
            env=plain,
            log=LOGS / "redis.log",
        )
        self.cluster: list[NatsNode] = []  # while the servers run on the cluster (nats_cluster())
        self.env = env = server_env(
            DATABASE_URL=database_url(port=self.proxy.port),
            REDIS_URL=self.redis_url,
            NATS_URL=self.nats_url,
            # A steady load from few users: no per-user rates.
            CHAT_RATE_SEND="",
            CHAT_RATE_ROOM_CREATE="",
            CHAT_RATE_MEMBER_ADD="",
            CHAT_STREAM_HEARTBEAT_SECONDS=str(HEARTBEAT_SECONDS),
            CHAT_SHUTDOWN_GRACE_SECONDS=str(SHUTDOWN_GRACE_SECONDS),
        )
        self.daphne_ports = [free_port() for _ in range(DAPHNES)]
        self.daphnes = [
            Service(f"daphne-{i}", daphne_command(port), env=env, log=LOGS / f"daphne-{i}.log")
            for i, port in enumerate(self.daphne_ports)
        ]
        self.bridge = Service("bridge", bridge_command(f"faults-{os.getpid()}"), env=env, log=LOGS / "bridge.log")

    @property
    def services(self) -> list[Service]:
        return [self.nats, *(node.service for node in self.cluster), self.redis, self.bridge, *self.daphnes]

    def url(self, daphne: int) -> str:
        return f"http://127.0.0.1:{self.daphne_ports[daphne]}"

    # --- start and stop ------------------------------------------------------------------------------

    def start(self) -> Topology:
        self.proxy.start()
        self.start_nats()
        self.start_redis()
        self._start_servers()
        return self

    def ensure_running(self) -> None:
        """Starts again whatever is down (a test's fault may have left it so)."""
        if not self.proxy.forwarding:
            self.proxy.restore()
        if self.cluster:
            for node in self.cluster:
                if not node.service.alive:
                    node.start()
        elif not self.nats.alive:
            self.start_nats()
        if not self.redis.alive:
            self.start_redis()
        if not self.bridge.alive:
            self.start_bridge()
        for i, daphne in enumerate(self.daphnes):
            if not daphne.alive:
                self.start_daphne(i)

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.proxy.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _stop_servers(self) -> None:
        for service in [*self.daphnes, self.bridge]:
            service.stop()

    def _start_servers(self) -> None:
        self.bridge.start()
        for daphne in self.daphnes:
            daphne.start()
        self.wait_bridge()
        for i in range(DAPHNES):
            self.wait_daphne(i)

    @contextmanager
    def nats_cluster(self) -> Iterator[list[NatsNode]]:
        """The bridge and the daphnes on a three-node NATS cluster of their own for the duration
        (restarted on it, the stream created there with three replicas); then on the single
        nats-server again (restarted on it)."""
        self._stop_servers()
        self.nats.stop()
        single_url = self.nats_url
        directory = self.tmp / "nats-cluster"
        ports = [(free_port(), free_port(), free_port()) for _ in range(CLUSTER_NODES)]
        self.cluster = [
            NatsNode(f"n{i + 1}", client, route, monitor, [p[1] for p in ports if p[1] != route], directory)
            for i, (client, route, monitor) in enumerate(ports)
        ]
        try:
            for node in self.cluster:
                node.service.start()
            for node in self.cluster:
                node.wait_healthy()
            self.nats_url = ",".join(node.url for node in self.cluster)
            self.env.update(NATS_URL=self.nats_url, CHAT_STREAM_REPLICAS=str(CLUSTER_NODES))
            self._start_servers()
            yield self.cluster
        finally:
            self._stop_servers()
            for node in self.cluster:
                node.service.stop()
            self.cluster = []
            shutil.rmtree(directory, ignore_errors=True)
            self.nats_url = single_url
            self.env["NATS_URL"] = single_url
            self.env.pop("CHAT_STREAM_REPLICAS", None)
            self.start_nats()
            self._start_servers()

    def start_nats(self) -> None:
        self.nats.start()
        assert self.nats.proc is not None
        wait_http(f"http://127.0.0.1:{self.nats_monitor_port}/healthz", self.nats.proc, self.nats.log)

    def start_redis(self) -> None:
        self.redis.start()
        client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=1, socket_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                if client.ping():
                    return
            except redis.RedisError:
                if not self.redis.alive or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start:\n{self.redis.output()[-2000:]}") from None
                time.sleep(0.1)
            finally:
                client.close()

    def start_bridge(self) -> None:
        self.bridge.start()
        self.wait_bridge()

    def wait_bridge(self) -> None:
        self.bridge.wait_output(BRIDGE_READY, timeout=60)

    def start_daphne(self, index: int) -> None:
        self.daphnes[index].start()
        self.wait_daphne(index)

    def wait_daphne(self, index: int) -> None:
        proc = self.daphnes[index].proc
        assert proc is not None
        wait_http(f"{self.url(index)}/accounts/login/", proc, self.daphnes[index].log, timeout=60)

    # --- faults ------------------------------------------------------------------------------------

    def stop_nats(self) -> None:
        self.nats.stop()

    def stop_redis(self) -> None:
        self.redis.stop()

    def kill_bridge(self) -> None:
        self.bridge.kill()

    def signal_daphne(self, index: int, sig: signal.Signals) -> None:
        self.daphnes[index].signal(sig)
