"""Send-to-delivery latency of the live stream, end to end, on the real services.

    .venv/bin/python bench/stream_latency.py            # 100 sockets, 10 rooms, 50 msg/s, 30 s
    .venv/bin/python bench/stream_latency.py --sockets 1000 --rooms 100 --rate 100 --daphnes 2

It (re)creates the PostgreSQL database `chat_bench`, creates one user per socket and the group rooms
(members split evenly), starts its own nats-server (unless --nats-url), `--daphnes` daphne
processes and `--bridges` bridge processes (chat_bridge, partitioned) on Redis (channels_redis
pubsub layer), opens the sockets (spread over the daphnes), then sends `--rate` messages per second
over REST (POST /api/chat/v1/send, by a member of a random room) for `--duration` seconds. Every
member socket of the room must get each message once. It prints the latency from just before the
REST call to each socket's receipt of the `message` frame (p50/p90/p99/max), the REST call's own
latency, and the lost and duplicated deliveries. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.wsclient import WebSocket, WebSocketClosedError  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=100)
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--rate", type=float, default=50.0, help="messages per second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of sending")
    parser.add_argument("--daphnes", type=int, default=2, help="daphne processes serving the sockets")
    parser.add_argument(
        "--api-daphnes", type=int, default=0, help="daphne processes for REST only (default: the socket ones)"
    )
    parser.add_argument("--bridges", type=int, default=1)
    parser.add_argument("--senders", type=int, default=16, help="concurrent REST senders (threads)")
    parser.add_argument("--database", default="postgres://chat:chat@127.0.0.1:5432/chat_bench")
    parser.add_argument("--no-db-pool", action="store_true", help="DATABASE_POOL=0: a PostgreSQL connect per request")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--nats-url", default="", help="an existing NATS; default: a private nats-server")
    parser.add_argument("--drain", type=float, default=5.0, help="seconds to wait for late deliveries")
    return parser.parse_args()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


class Services:
    """The processes the benchmark starts, stopped in reverse order."""

    def __init__(self) -> None:
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.logs = Path(tempfile.mkdtemp(prefix="chat-bench-"))

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append((name, process))
        return process

    def stop(self) -> None:
        for _, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in reversed(self.processes):
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                print(f"  {name} did not stop: killed")
                process.kill()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_port(port: int, timeout: float = 30.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def reset_database(url: str) -> None:
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def make_data(sockets: int, rooms: int) -> tuple[list[tuple[int, str]], list[list[int]], list[str]]:
    """(users as (id, token), members per room, room ids) — through the rooms service."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from rooms.services import room_create
    from storage.models import Profile

    call_command("migrate", verbosity=0)
    user_model = get_user_model()
    users = user_model.objects.bulk_create([user_model(username=f"bench{i}") for i in range(sockets)])
    Profile.objects.bulk_create([Profile(user=u, display_name=f"Bench {i}") for i, u in enumerate(users)])
    tokens = Token.objects.bulk_create([Token(user=u, key=Token.generate_key()) for u in users])
    members: list[list[int]] = [[] for _ in range(rooms)]
    for i, user in enumerate(users):
        members[i % rooms].append(user.pk)
    room_ids: list[str] = []
    for index, group in enumerate(members):
        result = room_create(user_id=group[0], room_type="group", participant_ids=group[1:], name=f"bench room {index}")
        room_ids.append(str(result.room["id"]))
    return [(u.pk, t.key) for u, t in zip(users, tokens, strict=True)], members, room_ids


async def open_socket(port: int, token: str, index: int) -> WebSocket:
    ws = await WebSocket.connect(
        f"ws://127.0.0.1:{port}/ws/chat/v1/stream?client_id=bench-{index}",
        headers={"Authorization": f"Token {token}"},
        timeout=30,
    )
    first = await asyncio.wait_for(ws.recv_json(), 30)
    assert first == {"connected": True}, first
    return ws


async def run(args: argparse.Namespace) -> int:
    services = Services()
    nats_dir = None
    from bench import production_env

    production_env.ensure()  # this process (make_data) and its children alike
    env = dict(os.environ)
    env.update(
        DATABASE_URL=args.database,
        REDIS_URL=args.redis_url,
        CHAT_CHANNEL_LAYER_PREFIX=f"bench{os.getpid()}",
        CHAT_PUBLISH_ON_COMMIT="1",
        CHAT_LOG_LEVEL="WARNING",
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
        DJANGO_SETTINGS_MODULE="chatproject.settings",
        DATABASE_POOL="0" if args.no_db_pool else "1",
    )
    try:
        if args.nats_url:
            env["NATS_URL"] = args.nats_url
        else:
            nats_port = free_port()
            nats_dir = tempfile.mkdtemp(prefix="chat-bench-nats-")
            services.start(
                "nats",
                [str(ROOT / ".venv/bin/nats-server"), "-a", "127.0.0.1", "-p", str(nats_port), "-js", "-sd", nats_dir],
                env,
            )
            wait_port(nats_port)
            env["NATS_URL"] = f"nats://127.0.0.1:{nats_port}"
        os.environ.update(env)
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()
        reset_database(args.database)
        print(f"setting up {args.sockets} users in {args.rooms} rooms ...", flush=True)
        users, members, room_ids = await asyncio.to_thread(make_data, args.sockets, args.rooms)

        # Live bridges without push; push (database back end) in a process of its own, so its
        # storage work never competes with live forwarding for a bridge's interpreter.
        for partition in range(args.bridges):
            extra = ["--relay"] if partition == 0 else []
            services.start(
                f"bridge{partition}",
                [
                    sys.executable,
                    "manage.py",
                    "chat_bridge",
                    "--no-push",
                    "--partition",
                    str(partition),
                    "--partitions",
                    str(args.bridges),
                    *extra,
                ],
                env,
            )
        services.start("push", [sys.executable, "manage.py", "chat_bridge", "--push-only"], env)
        ports = [free_port() for _ in range(args.daphnes)]
        api_ports = [free_port() for _ in range(args.api_daphnes)] or ports
        for index, port in enumerate(dict.fromkeys(ports + api_ports)):
            services.start(
                f"daphne-{'ws' if port in ports else 'api'}{index}",
                [str(ROOT / ".venv/bin/daphne"), "-b", "127.0.0.1", "-p", str(port), "chatproject.asgi:application"],
                env,
            )
        for port in dict.fromkeys(ports + api_ports):
            wait_port(port)
        await asyncio.sleep(2)  # bridges up

        print(f"opening {args.sockets} sockets on {args.daphnes} daphne(s) ...", flush=True)
        sockets: list[WebSocket] = []
        for start in range(0, len(users), 50):
            batch = users[start : start + 50]
            sockets += await asyncio.gather(
                *(open_socket(ports[(start + i) % len(ports)], token, start + i) for i, (_, token) in enumerate(batch))
            )
        user_index = {user_id: i for i, (user_id, _) in enumerate(users)}

        sent_at: dict[int, float] = {}
        expected: dict[int, set[int]] = {}
        received: dict[int, list[tuple[int, float]]] = defaultdict(list)
        # The live path alone: from the message's created_at (set by the service, just before its
        # transaction commits) to the socket, wall clock (same machine).
        live_path: list[float] = []
        errors: list[str] = []

        async def reader(index: int, ws: WebSocket) -> None:
            try:
                while True:
                    raw = await ws.recv()
                    now = time.monotonic()
                    if '"message"' not in raw or "bench:" not in raw:
                        continue
                    wall = time.time()
                    frame = json.loads(raw)
                    message = frame.get("message") or {}
                    text = message.get("text", "")
                    if text.startswith("bench:"):
                        seq = int(text.split(":")[1])
                        if index not in {i for i, _ in received[seq]}:
                            live_path.append(wall - datetime.fromisoformat(message["created_at"]).timestamp())
                        received[seq].append((index, now))
            except (WebSocketClosedError, ConnectionError, asyncio.IncompleteReadError):
                return

        readers = [asyncio.create_task(reader(i, ws)) for i, ws in enumerate(sockets)]

        # A core NATS subscriber sees each event when JetStream stores it: splits the latency into
        # REST call → stored (request, transaction, publisher) and stored → socket (bridge onwards).
        import nats

        from streaming.envelope import decode_envelope

        stored_at: dict[int, float] = {}

        async def on_stored(msg: Any) -> None:
            now = time.monotonic()
            if b"bench:" not in base64.b64decode(json.loads(msg.data)["payload"]):
                return
            text = (decode_envelope(msg.data).event.get("message") or {}).get("text", "")
            if text.startswith("bench:"):
                stored_at.setdefault(int(text.split(":")[1]), now)

        probe = await nats.connect(env["NATS_URL"])
        await probe.subscribe("CHAT_EVENTS.*", cb=on_stored)

        local = threading.local()
        rest_latency: list[float] = []

        def send(seq: int, room: int) -> None:
            sender = random.choice(members[room])
            token = users[user_index[sender]][1]
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = http.client.HTTPConnection("127.0.0.1", api_ports[seq % len(api_ports)], timeout=30)
            body = json.dumps({"room_id": room_ids[room], "text": f"bench:{seq}"})
            headers = {"Authorization": f"Token {token}", "Content-Type": "application/json", "X-Client-Id": "bench"}
            started = time.monotonic()
            sent_at[seq] = started
            try:
                conn.request("POST", "/api/chat/v1/send", body, headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    errors.append(f"HTTP {response.status}")
            except Exception as exc:  # keep going; count it
                errors.append(repr(exc))
                local.conn = None
                return
            rest_latency.append(time.monotonic() - started)

        total = int(args.rate * args.duration)
        print(f"sending {total} messages at {args.rate:g}/s for {args.duration:g} s ...", flush=True)
        loop = asyncio.get_running_loop()
        pool = ThreadPoolExecutor(max_workers=args.senders)
        cpu_before = {name: cpu_seconds(p.pid) for name, p in services.processes}
        cpu_before["bench client"] = time.process_time()
        begin = time.monotonic()
        futures = []
        for seq in range(total):
            room = random.randrange(args.rooms)
            expected[seq] = {user_index[uid] for uid in members[room]}
            delay = begin + seq / args.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            futures.append(loop.run_in_executor(pool, send, seq, room))
        await asyncio.gather(*futures)
        send_time = time.monotonic() - begin
        cpu_used = {name: cpu_seconds(p.pid) - cpu_before[name] for name, p in services.processes}
        cpu_used["bench client"] = time.process_time() - cpu_before["bench client"]
        await asyncio.sleep(args.drain)

        for task in readers:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        pool.shutdown(wait=False)

        await probe.close()
        latencies: list[float] = []
        to_stored: list[float] = []
        from_stored: list[float] = []
        lost = duplicated = 0
        for seq, targets in expected.items():
            got = received.get(seq, [])
            counts: dict[int, int] = defaultdict(int)
            if seq in stored_at and seq in sent_at:
                to_stored.append(stored_at[seq] - sent_at[seq])
            for index, at in got:
                counts[index] += 1
                if counts[index] == 1 and seq in sent_at:
                    latencies.append(at - sent_at[seq])
                    if seq in stored_at:
                        from_stored.append(at - stored_at[seq])
            lost += sum(1 for t in targets if counts.get(t, 0) == 0)
            duplicated += sum(c - 1 for c in counts.values() if c > 1)
        ms = [v * 1000 for v in latencies]
        rest_ms = [v * 1000 for v in rest_latency]
        deliveries = sum(len(t) for t in expected.values())
        print()
        print(
            f"sockets {args.sockets}  rooms {args.rooms}  daphnes {args.daphnes} (+{args.api_daphnes} API)  "
            f"bridges {args.bridges}  "
            f"db pool {'no' if args.no_db_pool else 'yes'}  "
            f"rate {args.rate:g}/s  sent {total} in {send_time:.1f} s  send errors {len(errors)}"
        )
        print(f"deliveries expected {deliveries}  received {len(latencies)}  lost {lost}  duplicated {duplicated}")

        def summary(values: list[float]) -> str:
            return "  ".join(f"p{q} {percentile(values, q):.1f}" for q in (50, 90, 99)) + (
                f"  max {max(values or [0]):.1f}  mean {statistics.fmean(values or [0]):.1f}"
            )

        print(f"send→delivery ms  {summary(ms)}")
        print(f"REST send ms      {summary(rest_ms)}")
        print(f"  REST call→stored {summary([v * 1000 for v in to_stored])}  (request, transaction, publish)")
        print(f"  stored→socket    {summary([v * 1000 for v in from_stored])}  (bridge, Redis, daphne, client)")
        print(f"  created_at→socket {summary([v * 1000 for v in live_path])}  (service's clock to socket)")
        print(
            "CPU while sending (% of one core): "
            + "  ".join(f"{name} {100 * used / send_time:.0f}" for name, used in cpu_used.items())
        )
        if errors:
            print("first errors:", errors[:5])
        return 0 if lost == 0 and duplicated == 0 and not errors else 1
    finally:
        services.stop()
        print(f"(process logs in {services.logs})")
        if nats_dir:
            import shutil

            shutil.rmtree(nats_dir, ignore_errors=True)


def main() -> None:
    args = parse_args()
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
