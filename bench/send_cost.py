"""The in-process cost of one REST SendMessage (POST /api/chat/v1/send): SQL queries and latency.

    DATABASE_URL=postgres://chat:chat@127.0.0.1:5432/chat_perf [REDIS_URL=...] \
        .venv/bin/python bench/send_cost.py [--sends 300] [--warmup 50] [--members 2] [--profile]

Migrates DATABASE_URL, makes a room of --members users (2: p2p) and sends through the DRF test client
with token authentication, as a client would: --warmup sends, then --sends timed ones (each with a
sender_message_id). Prints the queries of one send (listed), mean / p50 / p90 / p99 / max in ms and
the process CPU time per send.
--profile prints the cProfile of the timed sends (cumulative time, top 40 entries).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sends", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--members", type=int, default=2, help="room members (2: a p2p room)")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatproject.settings")
    from bench import production_env

    production_env.ensure()
    os.environ.setdefault("CHAT_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from rooms import services as room_services
    from tests.factories import UserFactory, token_for

    call_command("migrate", verbosity=0, interactive=False)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    tag = uuid.uuid4().hex[:8]
    users = [UserFactory(username=f"sendcost-{tag}-{i}") for i in range(args.members)]
    sender = users[0]
    if args.members == 2:
        created = room_services.room_create(user_id=sender.id, room_type="p2p", participant_ids=[users[1].id])
    else:
        created = room_services.room_create(
            user_id=sender.id, room_type="group", participant_ids=[u.id for u in users[1:]], name=f"cost {tag}"
        )
    room_id = created.room["id"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(sender)}", HTTP_X_CLIENT_ID="send-cost")

    def send(i: int) -> None:
        body = {"room_id": room_id, "text": f"message {i} " + "x" * 60, "sender_message_id": f"{tag}-{i}"}
        response = client.post("/api/chat/v1/send", body, format="json")
        if response.status_code != 200:
            raise SystemExit(f"send failed: {response.status_code} {response.content!r}")

    for i in range(args.warmup):
        send(-1 - i)
    with CaptureQueriesContext(connection) as captured:
        send(-10_000)
    queries = [q["sql"] for q in captured.captured_queries]

    profiler = cProfile.Profile() if args.profile else None
    samples: list[float] = []
    cpu_started = time.process_time()
    for i in range(args.sends):
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        send(i)
        if profiler is not None:
            profiler.disable()
        samples.append((time.perf_counter() - started) * 1000)
    cpu_ms = (time.process_time() - cpu_started) * 1000 / args.sends

    print(f"queries per send: {len(queries)}")
    for n, sql in enumerate(queries, 1):
        print(f"  {n:>2}. {sql[:160]}")
    print(
        f"send latency over {len(samples)} sends (room of {args.members}, {settings.CHAT_STORAGE}):"
        f" mean {statistics.fmean(samples):.2f} ms, p50 {percentile(samples, 50):.2f} ms,"
        f" p90 {percentile(samples, 90):.2f} ms, p99 {percentile(samples, 99):.2f} ms, max {max(samples):.2f} ms"
    )
    print(f"CPU of this process per send: {cpu_ms:.2f} ms")
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
