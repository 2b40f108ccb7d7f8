"""`postgres` back end: the publisher's look-up of older unpublished events in one plain statement.

The publisher runs it before every batch it publishes (streaming/publisher.py), so that a room's
events keep their order across processes; the ORM query it replaces cost ~0.6 ms of CPU per call to
build and convert, several times the database's time to answer it (the unpublished rows are few).
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any

from django.db import connections, router
from django.db.models import Count, Min, Q

from storage.models import OutboxEvent
from storage.records import OutboxRecord

_COLUMNS = [
    "id",
    "event_id",
    "subject",
    "event_type",
    "room_id",
    "actor_user_id",
    "data",
    "created_at",
    "published_at",
    "attempts",
    "next_attempt_at",
]


def supported() -> bool:
    """The plain statement reads PostgreSQL's types as they come; SQLite goes through the ORM."""
    return bool(connections[router.db_for_read(OutboxEvent)].vendor == "postgresql")


@functools.cache
def _statement(*, created_before: bool, subjects: bool, exclude: bool) -> str:
    columns = ", ".join(f'"{OutboxEvent._meta.get_field(name).column}"' for name in _COLUMNS)  # type: ignore[union-attr]
    where = ["published_at IS NULL", "(next_attempt_at IS NULL OR next_attempt_at <= %s)"]
    if created_before:
        where.append("created_at < %s")
    if subjects:
        where.append("subject = ANY(%s)")
    if exclude:
        where.append("NOT (event_id = ANY(%s))")
    return f'SELECT {columns} FROM "{OutboxEvent._meta.db_table}" WHERE {" AND ".join(where)} ORDER BY id LIMIT %s'


def unpublished(
    *,
    limit: int,
    dead_after: datetime,
    created_before: datetime | None,
    subjects: Collection[str] | None,
    exclude: Collection[uuid.UUID],
) -> list[OutboxRecord]:
    params: list[Any] = [dead_after]
    if created_before is not None:
        params.append(created_before)
    if subjects is not None:
        params.append(list(subjects))
    if exclude:
        params.append(list(exclude))
    params.append(limit)
    sql = _statement(created_before=created_before is not None, subjects=subjects is not None, exclude=bool(exclude))
    with connections[router.db_for_read(OutboxEvent)].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    records = []
    for row in rows:
        values = dict(zip(_COLUMNS, row, strict=True))
        if isinstance(values["data"], str):
            values["data"] = json.loads(values["data"])
        records.append(OutboxRecord(**values))
    return records


def backlog(*, dead_after: datetime) -> tuple[int, datetime | None]:
    """(count, oldest created_at) of the unpublished events, dead-lettered ones aside (one aggregate
    over the index of unpublished rows)."""
    found = OutboxEvent.objects.filter(published_at__isnull=True).aggregate(
        count=Count("id", filter=Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=dead_after)),
        oldest=Min("created_at", filter=Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=dead_after)),
    )
    return int(found["count"] or 0), found["oldest"]
