"""`postgres` back end: the writes of one SendMessage in one statement, one round trip.

A send stores the message, moves the room's last message and adds its events to the outbox. Through
the ORM that was BEGIN, three INSERT/UPDATE statements and COMMIT: five round trips, each with its
query building, ~1 ms of the daphne's CPU apiece. Here one statement of data-modifying CTEs does all
three, atomic on its own (autocommit) or as part of the caller's transaction:

    WITH m AS (INSERT INTO message ... ON CONFLICT DO NOTHING RETURNING 1),
         r AS (UPDATE room SET last_message_... WHERE ... AND EXISTS (SELECT 1 FROM m)),
         o AS (INSERT INTO outbox ... SELECT ... WHERE EXISTS (SELECT 1 FROM m))
    SELECT count(*) FROM m

When the (sender, sender_message_id) pair is already stored, `m` inserts nothing, so neither does the
rest: the caller reads the stored message. A concurrent send of the same pair waits for the first
one's commit, as the plain INSERT ... ON CONFLICT does.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import connections, router
from django.db.models.constants import OnConflict
from django.db.models.sql.subqueries import InsertQuery
from django.utils import timezone

from storage.models import Message, OutboxEvent, Room
from storage.postgres.messages import message_row
from storage.records import OutboxRecord
from storage.records_messages import MessageRecord

# The outbox columns a new event sets, each with its SQL type: in `INSERT ... SELECT` the values
# carry explicit casts (published_at, next_attempt_at stay NULL, their column default).
_OUTBOX_COLUMNS = (
    ("event_id", "uuid"),
    ("subject", "varchar"),
    ("event_type", "varchar"),
    ("room_id", "varchar"),
    ("actor_user_id", "varchar"),
    ("data", "jsonb"),
    ("created_at", "timestamptz"),
    ("attempts", "integer"),
    ("last_error", "text"),
)


def supported() -> bool:
    """PostgreSQL only: SQLite (the embedded default) writes through the ORM."""
    return bool(connections[router.db_for_write(Message)].vendor == "postgresql")


def _column(model: Any, name: str) -> str:
    return f'"{model._meta.get_field(name).column}"'


@functools.cache
def _room_update() -> str:
    table, last_id, last_at = (
        f'"{Room._meta.db_table}"',
        _column(Room, "last_message_id"),
        _column(Room, "last_message_at"),
    )
    return (
        f"UPDATE {table} SET {last_id} = %s, {last_at} = %s WHERE {_column(Room, 'id')} = %s"
        f" AND ({last_at} IS NULL OR {last_at} <= %s) AND EXISTS (SELECT 1 FROM m)"
    )


@functools.cache
def _outbox_insert(rows: int) -> str:
    columns = ", ".join(_column(OutboxEvent, name) for name, _ in _OUTBOX_COLUMNS)
    row = (
        "SELECT " + ", ".join(f"%s::{sql_type}" for _, sql_type in _OUTBOX_COLUMNS) + " WHERE EXISTS (SELECT 1 FROM m)"
    )
    return f'INSERT INTO "{OutboxEvent._meta.db_table}" ({columns}) ' + " UNION ALL ".join([row] * rows)


@functools.cache
def _message_insert_sql() -> str:
    """The message's INSERT, compiled by Django once per process (its placeholders, one per field)."""
    fields = Message._meta.local_concrete_fields
    query = InsertQuery(Message, on_conflict=OnConflict.IGNORE)
    query.insert_values(fields, [Message(id=uuid.UUID(int=0))])
    [(sql, _)] = query.get_compiler(using=router.db_for_write(Message)).as_sql()
    return f"{sql} RETURNING 1"


def _message_insert(message: MessageRecord, using: str) -> tuple[str, tuple[Any, ...]]:
    row = message_row(message)
    connection = connections[using]
    params = tuple(f.get_db_prep_save(getattr(row, f.attname), connection) for f in Message._meta.local_concrete_fields)
    return _message_insert_sql(), params


def _outbox_params(events: Sequence[OutboxRecord]) -> list[Any]:
    now = timezone.now()
    params: list[Any] = []
    for e in events:
        params += [e.event_id, e.subject, e.event_type, e.room_id, e.actor_user_id, json.dumps(e.data), now, 0, ""]
    return params


def message_store(message: MessageRecord, *, events: Sequence[OutboxRecord]) -> bool:
    """Stores the message, moves its room's last message (never backwards) and adds `events` to the
    outbox, in one statement; False (and nothing written) if its sender_message_id is taken."""
    using = router.db_for_write(Message)
    insert, params = _message_insert(message, using)
    parts = [f"m AS ({insert})", f"r AS ({_room_update()})"]
    all_params = [*params, message.id, message.created_at, message.room_id, message.created_at]
    if events:
        parts.append(f"o AS ({_outbox_insert(len(events))})")
        all_params += _outbox_params(events)
    with connections[using].cursor() as cursor:
        cursor.execute("WITH " + ", ".join(parts) + " SELECT count(*) FROM m", all_params)
        row = cursor.fetchone()
    return bool(row and row[0] == 1)
