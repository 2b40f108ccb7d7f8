"""Send and history-page latency of the two storage back ends, through the services.

    DATABASE_URL=postgres://... [REDIS_URL=...] .venv/bin/python bench/storage_latency.py [--sends 2000] [--pages 500]

Runs itself once per back end (CHAT_STORAGE=postgres, then scylla: start Cassandra first with
scripts/cassandra.sh start), each in a fresh process on the same DATABASE_URL (users live there; it is
migrated) and, for scylla, in the keyspace --keyspace (created and synced). In each: a room of --members
users, --sends calls of messaging.services.message_send (one unit of work each: message, meta rows,
last message, two outbox events), then --pages calls of messaging.selectors.message_history walking the
history back 50 messages at a time with before_message_id (and starting over at the newest page).
Prints p50 / p90 / p99 / max in milliseconds per operation and back end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50": percentile(samples, 50),
        "p90": percentile(samples, 90),
        "p99": percentile(samples, 99),
        "max": max(samples),
        "mean": statistics.fmean(samples),
    }


def run_backend(args: argparse.Namespace) -> dict[str, Any]:
    """One back end, in this process (CHAT_STORAGE is already set)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatproject.settings")
    from bench import production_env

    production_env.ensure()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    if settings.CHAT_STORAGE == "scylla":
        from cassandra.cqlengine import management

        from storage.scylla.models import ALL_TABLES

        management.create_keyspace_simple(settings.CASSANDRA_KEYSPACE, 1, connections=["cassandra"])
        for model in ALL_TABLES:
            management.sync_table(model, keyspaces=[settings.CASSANDRA_KEYSPACE], connections=["cassandra"])

    from kernel.pagination import Page
    from messaging.selectors import HistoryQuery, message_history
    from messaging.services import SendRequest, message_send
    from rooms import services as room_services
    from tests.factories import UserFactory

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    tag = uuid.uuid4().hex[:8]
    users = [UserFactory(username=f"bench-{tag}-{i}") for i in range(args.members)]
    sender, reader = users[0], users[1]
    if args.members == 2:
        created = room_services.room_create(user_id=sender.id, room_type="p2p", participant_ids=[reader.id])
    else:
        created = room_services.room_create(
            user_id=sender.id, room_type="group", participant_ids=[u.id for u in users[1:]], name=f"bench {tag}"
        )
    room_id = uuid.UUID(created.room["id"])

    for i in range(args.warmup):
        message_send(user_id=sender.id, request=SendRequest(room_id=room_id, text=f"warm-up {i}"))
    sends: list[float] = []
    for i in range(args.sends):
        request = SendRequest(room_id=room_id, text=f"message {i} " + "x" * 60, sender_message_id=f"{tag}-{i}")
        started = time.perf_counter()
        message_send(user_id=sender.id, request=request)
        sends.append((time.perf_counter() - started) * 1000)

    pages: list[float] = []
    before: uuid.UUID | None = None
    walked = 0
    while len(pages) < args.pages:
        query = HistoryQuery(page=Page(page=1, limit=args.page_size), before_message_id=before)
        started = time.perf_counter()
        items, total = message_history(room_id=room_id, user_id=reader.id, query=query)
        pages.append((time.perf_counter() - started) * 1000)
        walked += len(items)
        before = uuid.UUID(items[-1]["id"]) if len(items) == args.page_size else None
    return {
        "backend": settings.CHAT_STORAGE,
        "members": args.members,
        "messages_in_room": args.sends + args.warmup,
        "send_ms": summary(sends),
        "history_page_ms": summary(pages),
        "history_total": total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sends", type=int, default=2000)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--members", type=int, default=2, help="room members (2: a p2p room)")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--keyspace", default="chat_bench")
    parser.add_argument("--backends", default="postgres,scylla")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(run_backend(args)))
        return

    results = []
    for backend in args.backends.split(","):
        env = {**os.environ, "CHAT_STORAGE": backend, "CASSANDRA_KEYSPACE": args.keyspace, "CHAT_LOG_LEVEL": "WARNING"}
        command = [sys.executable, __file__, "--child", *sys.argv[1:]]
        print(f"running {backend} ...", file=sys.stderr, flush=True)
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"{backend}: failed")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))

    columns = ("n", "p50 ms", "p90 ms", "p99 ms", "max ms", "mean ms")
    print(f"{'back end':<9} {'operation':<22} {columns[0]:>5} " + " ".join(f"{c:>8}" for c in columns[1:]))
    for result in results:
        for name, key in (("send", "send_ms"), (f"history page of {args.page_size}", "history_page_ms")):
            s = result[key]
            print(
                f"{result['backend']:<9} {name:<22} {s['n']:>5} {s['p50']:>8.2f} {s['p90']:>8.2f}"
                f" {s['p99']:>8.2f} {s['max']:>8.2f} {s['mean']:>8.2f}"
            )
    print(f"(room of {args.members} members holding {results[0]['messages_in_room']} messages; services, one process)")


if __name__ == "__main__":
    main()
