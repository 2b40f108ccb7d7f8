"""The bench database: reset, users with tokens and rooms (through the rooms service), query counters.

Everything here runs in the load client's process with Django set up on the bench database
(DATABASE_POOL=0 there: the database is truncated between scenarios).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

STAT_COLUMNS = (
    "xact_commit",
    "xact_rollback",
    "tup_returned",
    "tup_fetched",
    "tup_inserted",
    "tup_updated",
    "tup_deleted",
)
# PostgreSQL 15 backends flush their counters at most every second, and an idle one within 10 s.
STATS_FLUSH_SECONDS = 11.0


@dataclass
class Dataset:
    users: list[tuple[int, str]]  # (user id, token key)
    rooms: list[str]  # room ids
    members: list[list[int]]  # indexes into users, per room

    def token(self, index: int) -> str:
        return self.users[index][1]


def recreate_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django() -> None:
    import django

    os.environ["DATABASE_POOL"] = "0"
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    _fast_room_keys()


def _fast_room_keys() -> None:
    """Room keys from os.urandom instead of scrypt (50 ms each): setup speed only, same wire format."""
    from kernel import crypto
    from rooms.services import create

    def quick() -> str:
        return crypto.encryption_data_wrap(crypto.RoomKey(key=os.urandom(32), iv=os.urandom(16)))

    create.encryption_data_generate = quick  # type: ignore[attr-defined]


def flush_database() -> None:
    """Empties every table the project writes (not the migrations); the servers are stopped."""
    from django.db import connection

    keep = {"django_migrations", "django_content_type", "auth_permission"}
    tables = [t for t in connection.introspection.django_table_names(only_existing=True) if t not in keep]
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")


def make_users(count: int) -> list[tuple[int, str]]:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from storage.models import Profile

    user_model = get_user_model()
    tag = uuid.uuid4().hex[:6]
    users = user_model.objects.bulk_create([user_model(username=f"b{tag}-{i}") for i in range(count)], batch_size=2000)
    Profile.objects.bulk_create(
        [Profile(user=u, display_name=f"Bench {i}") for i, u in enumerate(users)], batch_size=2000
    )
    tokens = Token.objects.bulk_create([Token(user=u, key=Token.generate_key()) for u in users], batch_size=2000)
    return [(int(u.pk), str(t.key)) for u, t in zip(users, tokens, strict=True)]


def make_rooms(users: list[tuple[int, str]], members: list[list[int]]) -> list[str]:
    """One group room per member list (indexes into users), the first member its owner."""
    from rooms.services import room_create

    room_ids: list[str] = []
    for number, group in enumerate(members):
        ids = [users[i][0] for i in group]
        result = room_create(user_id=ids[0], room_type="group", participant_ids=ids[1:], name=f"bench {number}")
        room_ids.append(str(result.room["id"]))
    return room_ids


def dataset(sockets: int, room_size: int) -> Dataset:
    """`sockets` users in rooms of `room_size` (the last one smaller if it does not divide)."""
    users = make_users(sockets)
    members = [list(range(start, min(start + room_size, sockets))) for start in range(0, sockets, room_size)]
    return Dataset(users=users, rooms=make_rooms(users, members), members=members)


def send_direct(user_id: int, room_id: str, text: str) -> None:
    """A message through the messaging service in this process (seed data, not measured)."""
    from messaging.services import SendRequest, message_send

    message_send(user_id=user_id, request=SendRequest(room_id=uuid.UUID(room_id), text=text))


def pg_counters(url: str) -> dict[str, int]:
    columns = ", ".join(STAT_COLUMNS)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(f"SELECT {columns} FROM pg_stat_database WHERE datname = current_database()").fetchone()
    assert row is not None
    return {name: int(value or 0) for name, value in zip(STAT_COLUMNS, row, strict=True)}


def counters_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in STAT_COLUMNS}


async def quiet_counters(
    url: str, *, settle: float, window: float = 5.0, busy: int = 30, timeout: float = 180.0
) -> tuple[dict[str, float], dict[str, int]]:
    """Waits until the bench database is quiet (at most `busy` commits per 3 s: the push worker and
    the relay done with earlier work), lets the counters flush (`settle`), then measures the idle
    rate over `window` seconds. Returns (idle rate per second, the counters at the end)."""
    deadline = time.monotonic() + timeout
    previous = pg_counters(url)
    while time.monotonic() < deadline:
        await asyncio.sleep(3)
        current = pg_counters(url)
        if current["xact_commit"] - previous["xact_commit"] <= busy:
            break
        previous = current
    await asyncio.sleep(settle)
    start = pg_counters(url)
    await asyncio.sleep(window)
    end = pg_counters(url)
    return {k: (end[k] - start[k]) / window for k in STAT_COLUMNS}, end


def net_of_idle(
    before: dict[str, int], after: dict[str, int], idle_rate: dict[str, float], seconds: float
) -> dict[str, int]:
    return {k: round(after[k] - before[k] - idle_rate[k] * seconds) for k in STAT_COLUMNS}


def bench_backend_pids(url: str) -> list[int]:
    """PostgreSQL backends connected to the bench database now (their CPU is the database's share)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [int(r[0]) for r in rows]


def captured_queries(call: Any) -> int:
    """How many SQL statements `call()` runs in this process."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured.captured_queries)
