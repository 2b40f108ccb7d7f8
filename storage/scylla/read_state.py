"""`scylla` back end, messages part 2: read state. The meta rows of each message for each participant
(message_status_by_user / _by_message), read receipts, unread rows and their counters, hidden rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from storage.records_messages import (
    MetaRecord,
)
from storage.scylla import cql as c
from storage.scylla import timeuuids as t
from storage.scylla.cql import (
    count,
    counter_add,
    cql,
    delete,
    fetch_all,
    insert,
    update,
    write,
)
from storage.scylla.timeuuids import from_us, to_us

SELECT_METAS_OF_MESSAGES = "SELECT * FROM {message_status_by_message} WHERE message_id IN ?"
SELECT_METAS_OF_USER = "SELECT * FROM {message_status_by_user} WHERE user_id = ? AND message_id IN ?"
SELECT_UNREAD_UP_TO = "SELECT * FROM {unread_by_user} WHERE user_id = ? AND room_id = ? AND message_tid <= ?"
COUNT_UNREAD_AFTER = "SELECT COUNT(*) AS n FROM {unread_by_user} WHERE user_id = ? AND room_id = ? AND message_tid > ?"
SELECT_COUNTER = "SELECT unread FROM {unread_counters} WHERE user_id = ? AND room_id = ?"
SELECT_COUNTERS = "SELECT room_id, unread FROM {unread_counters} WHERE user_id = ? AND room_id IN ?"
SELECT_READERS = "SELECT * FROM {read_receipts_by_message} WHERE message_id = ?"
SELECT_READ_BY_OTHERS = (
    "SELECT message_id, is_sender FROM {read_receipts_by_message} WHERE message_id IN ? PER PARTITION LIMIT 2"
)
SELECT_METAS_OF_MESSAGE_USERS = "SELECT * FROM {message_status_by_message} WHERE message_id = ? AND user_id IN ?"


def meta_record(row: dict[str, Any]) -> MetaRecord:
    return MetaRecord(
        message_id=row["message_id"],
        room_id=row["room_id"],
        user_id=row["user_id"],
        read_at=from_us(row["read_at"]),
        is_deleted=bool(row["is_deleted"]),
        is_sender_blocked=bool(row["is_sender_blocked"]),
    )


def unread_delta(user_id: int, room_id: uuid.UUID, delta: int) -> c.Write:
    return counter_add("unread_counters", {"user_id": user_id, "room_id": room_id}, "unread", delta)


def meta_writes(meta: MetaRecord, *, sender_id: int | None, tid: uuid.UUID) -> list[c.Write]:
    """A new meta row: by user and by message, plus its read receipt, unread row or hidden row."""
    values = {
        "room_id": meta.room_id,
        "read_at": t.opt_us(meta.read_at),
        "is_deleted": meta.is_deleted,
        "is_sender_blocked": meta.is_sender_blocked,
    }
    writes = [
        insert("message_status_by_user", {"user_id": meta.user_id, "message_id": meta.message_id, **values}),
        insert("message_status_by_message", {"message_id": meta.message_id, "user_id": meta.user_id, **values}),
        insert(
            "messages_sent_to_user",
            {"user_id": meta.user_id, "room_id": meta.room_id, "message_tid": tid, "message_id": meta.message_id},
        ),
    ]
    if meta.read_at is not None:
        writes.append(
            insert(
                "read_receipts_by_message",
                {
                    "message_id": meta.message_id,
                    "read_at": to_us(meta.read_at),
                    "user_id": meta.user_id,
                    "is_sender": meta.user_id == sender_id,
                },
            )
        )
    if meta.is_hidden:
        writes.append(
            insert(
                "hidden_messages_by_user",
                {"user_id": meta.user_id, "room_id": meta.room_id, "message_id": meta.message_id},
            )
        )
    elif meta.read_at is None:
        writes.append(
            insert(
                "unread_by_user",
                {"user_id": meta.user_id, "room_id": meta.room_id, "message_tid": tid, "message_id": meta.message_id},
            )
        )
    return writes


class ScyllaReadStateMixin:
    def meta_mark_read(self, *, room_id: uuid.UUID, user_id: int, up_to: datetime, at: datetime) -> int:
        limit = t.max_timeuuid(to_us(up_to))
        unread, remaining, counter = fetch_all(
            [
                (SELECT_UNREAD_UP_TO, (user_id, room_id, limit)),
                (COUNT_UNREAD_AFTER, (user_id, room_id, limit)),
                (SELECT_COUNTER, (user_id, room_id)),
            ]
        )
        read_at = to_us(at)
        writes: list[c.Write] = []
        for row in unread:
            message_id = row["message_id"]
            writes += [
                update("message_status_by_user", {"user_id": user_id, "message_id": message_id}, {"read_at": read_at}),
                update(
                    "message_status_by_message", {"message_id": message_id, "user_id": user_id}, {"read_at": read_at}
                ),
                insert(
                    "read_receipts_by_message",
                    {"message_id": message_id, "read_at": read_at, "user_id": user_id, "is_sender": False},
                ),
                delete("unread_by_user", {"user_id": user_id, "room_id": room_id, "message_tid": row["message_tid"]}),
            ]
        write(*writes)
        # The counter is a cache of unread_by_user: reset it to the exact count of what stays unread.
        current = counter[0]["unread"] if counter and counter[0]["unread"] is not None else 0
        exact = remaining[0]["n"] if remaining else 0
        if exact != current:
            count(unread_delta(user_id, room_id, exact - current))
        return len(unread)

    def unread_counts(self, *, user_id: int, room_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        ids = list(set(room_ids))
        counts: dict[uuid.UUID, int] = dict.fromkeys(ids, 0)
        for row in cql.rows_in(SELECT_COUNTERS, ids, before=(user_id,)):
            counts[row["room_id"]] = max(0, row["unread"] or 0)
        return counts

    def metas_for_user(self, message_ids: Sequence[uuid.UUID], user_id: int) -> dict[uuid.UUID, MetaRecord]:
        return {
            row["message_id"]: meta_record(row)
            for row in cql.rows_in(SELECT_METAS_OF_USER, list(set(message_ids)), before=(user_id,))
        }

    def messages_read_by_others(self, message_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        return {
            row["message_id"]
            for row in cql.rows_in(SELECT_READ_BY_OTHERS, list(set(message_ids)))
            if not row["is_sender"]
        }

    def message_readers(
        self, message_id: uuid.UUID, *, exclude_user_id: int | None, limit: int, offset: int
    ) -> tuple[list[MetaRecord], int]:
        readers = [r for r in cql.rows(SELECT_READERS, (message_id,)) if r["user_id"] != exclude_user_id]
        page = readers[offset : offset + limit]
        if not page:
            return [], len(readers)
        metas = {
            row["user_id"]: meta_record(row)
            for row in cql.rows(SELECT_METAS_OF_MESSAGE_USERS, (message_id, [r["user_id"] for r in page]))
        }
        return [metas[r["user_id"]] for r in page if r["user_id"] in metas], len(readers)
