"""What a scenario runs against: the project (production topology) or the baseline chat.

Both give the load client the same things: start/stop, a data layout (sockets in rooms), a socket
per client, a REST send of `bench:<seq>` to a room, and the pids whose CPU is measured.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import data
from bench.harness import Services, daphne_args, free_port, wait_port
from bench.loadclient import Client, HttpPool


@dataclass
class Config:
    database: str
    redis_url: str
    nats_url: str
    logs: Path
    daphnes: int = 1
    bridges: int = 1
    nats_pid: int = 0


@dataclass
class Layout:
    members: list[list[int]]  # socket indexes per room
    rooms: list[str] = field(default_factory=list)  # project room ids
    tokens: list[str] = field(default_factory=list)  # per socket (project)
    user_ids: list[int] = field(default_factory=list)

    def rooms_of(self, sockets: int) -> list[list[int]]:
        of: list[list[int]] = [[] for _ in range(sockets)]
        for room, group in enumerate(self.members):
            for index in group:
                of[index].append(room)
        return of


def base_env(config: Config) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=config.database,
        REDIS_URL=config.redis_url,
        NATS_URL=config.nats_url,
        CHAT_PUBLISH_ON_COMMIT="1",
        CHAT_LOG_LEVEL="WARNING",
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SETTINGS_MODULE="chatproject.settings",
        PYTHONUNBUFFERED="1",
        DATABASE_POOL="1",
    )
    return env


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


class Project:
    name = "project"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.services = Services(config.logs)
        self.ports: list[int] = []
        self.layout = Layout(members=[])
        self.db_pids: list[int] = []

    def start(self, tag: str) -> None:
        data.flush_database()
        flush_redis(self.config.redis_url)
        env = base_env(self.config)
        env["CHAT_CHANNEL_LAYER_PREFIX"] = f"bench-{tag}"
        for partition in range(self.config.bridges):
            extra = ["--relay"] if partition == 0 else []
            args = ["--partition", str(partition), "--partitions", str(self.config.bridges), *extra]
            self.services.start(
                f"{tag}-bridge{partition}", "bridge", [sys.executable, "manage.py", "chat_bridge", *args], env
            )
        self.ports = [free_port() for _ in range(self.config.daphnes)]
        for index, port in enumerate(self.ports):
            self.services.start(
                f"{tag}-daphne{index}", "daphne", daphne_args(port, "chatproject.asgi:application"), env
            )
        for port in self.ports:
            wait_port(port)
        time.sleep(2)  # bridges subscribed

    def prepare(self, sockets: int, room_size: int) -> Layout:
        made = data.dataset(sockets, room_size)
        self.layout = Layout(
            members=made.members,
            rooms=made.rooms,
            tokens=[t for _, t in made.users],
            user_ids=[u for u, _ in made.users],
        )
        return self.layout

    def client(self, index: int, cursor: str = "") -> Client:
        port = self.ports[index % len(self.ports)]
        query = f"client_id=bench-{index}" + (f"&cursor={cursor}" if cursor else "")
        return Client(
            index=index,
            url=f"ws://127.0.0.1:{port}/ws/chat/v1/stream?{query}",
            headers={"Authorization": f"Token {self.layout.tokens[index]}"},
        )

    def pool(self, size: int = 128) -> HttpPool:
        return HttpPool(self.ports, size)

    async def send(self, pool: HttpPool, seq: int, room: int) -> int:
        sender = random.choice(self.layout.members[room])
        body = json.dumps({"room_id": self.layout.rooms[room], "text": f"bench:{seq}"}).encode()
        headers = {
            "Authorization": f"Token {self.layout.tokens[sender]}",
            "Content-Type": "application/json",
            "X-Client-Id": "bench",
        }
        return await pool.post("/api/chat/v1/send", body, headers)

    def cpu_pids(self) -> dict[str, list[int]]:
        pids = {
            "daphne": [p.pid for p in self.services.of("daphne")],
            "bridge": [p.pid for p in self.services.of("bridge")],
        }
        if self.config.nats_pid:
            pids["nats"] = [self.config.nats_pid]
        self.db_pids = data.bench_backend_pids(self.config.database)
        pids["postgres"] = self.db_pids
        return pids

    def stop(self) -> None:
        self.services.stop()


class Baseline:
    name = "baseline"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.services = Services(config.logs)
        self.ports: list[int] = []
        self.layout = Layout(members=[])

    def start(self, tag: str) -> None:
        flush_redis(self.config.redis_url)
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="bench.baseline.settings",
            REDIS_URL=self.config.redis_url,
            CHAT_CHANNEL_LAYER_PREFIX=f"baseline-{tag}",
            PYTHONUNBUFFERED="1",
        )
        self.ports = [free_port()]
        self.services.start(
            f"{tag}-baseline", "daphne", daphne_args(self.ports[0], "bench.baseline.asgi:application"), env
        )
        wait_port(self.ports[0])

    def prepare(self, sockets: int, room_size: int) -> Layout:
        members = [list(range(start, min(start + room_size, sockets))) for start in range(0, sockets, room_size)]
        self.layout = Layout(members=members)
        self.room_of = {i: room for room, group in enumerate(members) for i in group}
        return self.layout

    def client(self, index: int, cursor: str = "") -> Client:
        return Client(index=index, url=f"ws://127.0.0.1:{self.ports[0]}/ws/room/r{self.room_of[index]}/", headers={})

    def pool(self, size: int = 128) -> HttpPool:
        return HttpPool(self.ports, size)

    async def send(self, pool: HttpPool, seq: int, room: int) -> int:
        body = json.dumps({"room": f"r{room}", "frame": {"message": {"text": f"bench:{seq}"}}}).encode()
        return await pool.post("/send", body, {"Content-Type": "application/json"})

    def cpu_pids(self) -> dict[str, list[int]]:
        return {"daphne": [p.pid for p in self.services.of("daphne")]}

    def stop(self) -> None:
        self.services.stop()


Target = Project | Baseline
