"""`scylla` back end, part 3: the event outbox (OutboxStore).

- outbox_events (by event id): the event and its publication state. Written by `outbox_add` in the
  unit of work's logged batch, together with the rows that caused the event.
- outbox_pending ((minute of creation), timeuuid): the events not published yet, oldest first; the
  row is deleted when the event is published. outbox_pending_buckets lists the minutes that may
  still hold such rows, so the relay and the publisher read only those and drop a past minute once
  it is empty.
- outbox_published ((hour of publication), event id) + outbox_published_buckets: what pruning deletes,
  hour by hour, without scanning the events.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from storage.records import DEAD_LETTER_HORIZON, OutboxRecord
from storage.scylla import cql as c
from storage.scylla import timeuuids as t
from storage.scylla.cql import cql, delete, insert, update, write
from storage.scylla.timeuuids import at_us, from_us, min_timeuuid, timeuuid_for, timeuuid_order, timeuuid_us, to_us

MINUTE_US = 60_000_000
HOUR_US = 3_600_000_000
SHARD = 0  # one marker partition: a few thousand rows a day at most
# A pending minute is forgotten once empty and this far in the past (no unit of work still writes it).
PENDING_BUCKET_GRACE = 2
# The metrics scrape counts at most this many pending rows (a long NATS outage: the gauge then
# stays at this bound; the oldest pending age is exact).
BACKLOG_COUNT_MAX = 100_000

SELECT_EVENTS = "SELECT * FROM {outbox_events} WHERE event_id IN ?"
SELECT_PENDING_BUCKETS = "SELECT bucket FROM {outbox_pending_buckets} WHERE shard = ?"
SELECT_PENDING = "SELECT * FROM {outbox_pending} WHERE bucket = ?"
SELECT_PUBLISHED_BUCKETS = "SELECT bucket FROM {outbox_published_buckets} WHERE shard = ? AND bucket <= ?"
SELECT_PUBLISHED = "SELECT * FROM {outbox_published} WHERE bucket = ?"


def outbox_record(row: dict[str, Any]) -> OutboxRecord:
    return OutboxRecord(
        event_id=row["event_id"],
        subject=row["subject"] or "",
        event_type=row["event_type"] or "",
        room_id=row["room_id"] or "",
        actor_user_id=row["actor_user_id"] or "",
        data=json.loads(row["data"] or "{}"),
        created_at=from_us(row["created_at"]),
        published_at=from_us(row["published_at"]),
        attempts=row["attempts"] or 0,
        next_attempt_at=from_us(row["next_attempt_at"]),
    )


def complete_events(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The whole event rows, in creation order. A row without `event_tid` is no event: it is what an
    UPDATE (marking a row published or failed) leaves when it lands after a DELETE of the row (a prune,
    or a test's clean-up), since a Cassandra UPDATE is an upsert."""
    return sorted((r for r in rows if r["event_tid"] is not None), key=lambda r: timeuuid_order(r["event_tid"]))


class ScyllaOutboxMixin:
    def outbox_add(self, events: Sequence[OutboxRecord]) -> None:
        writes: list[c.Write] = []
        buckets: set[int] = set()
        for event in events:
            created = t.monotonic_now_us()  # strictly increasing: the emit order is the publish order
            tid = timeuuid_for(created, event.event_id)
            bucket = created // MINUTE_US
            buckets.add(bucket)
            writes += [
                insert(
                    "outbox_events",
                    {
                        "event_id": event.event_id,
                        "event_tid": tid,
                        "bucket": bucket,
                        "subject": event.subject,
                        "event_type": event.event_type,
                        "room_id": event.room_id,
                        "actor_user_id": event.actor_user_id,
                        "data": json.dumps(event.data),
                        "created_at": created,
                        "attempts": 0,
                    },
                ),
                insert("outbox_pending", {"bucket": bucket, "event_tid": tid, "event_id": event.event_id}),
            ]
        writes += [insert("outbox_pending_buckets", {"shard": SHARD, "bucket": b}) for b in sorted(buckets)]
        write(*writes)

    def _events(self, event_ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
        return complete_events(cql.rows_in(SELECT_EVENTS, list(event_ids)))

    def outbox_unpublished(
        self,
        *,
        limit: int,
        now: datetime,
        created_before: datetime | None = None,
        subjects: Collection[str] | None = None,
        exclude: Collection[uuid.UUID] = (),
    ) -> list[OutboxRecord]:
        """(The pending rows carry no subject: with `subjects`, the first `limit` pending events are
        read and those of other subjects dropped.)"""
        if limit <= 0:
            return []
        dead_after = to_us(now + DEAD_LETTER_HORIZON)
        cut_us = None if created_before is None else to_us(created_before)
        cut = None if cut_us is None else timeuuid_order(min_timeuuid(cut_us))
        current = t.monotonic_now_us() // MINUTE_US
        found: list[uuid.UUID] = []
        stale: list[c.Write] = []
        for marker in cql.rows(SELECT_PENDING_BUCKETS, (SHARD,)):  # minutes in order
            bucket = marker["bucket"]
            if cut_us is not None and bucket * MINUTE_US > cut_us:
                break
            seen = False
            for row in cql.iter_rows(SELECT_PENDING, (bucket,), fetch_size=max(limit, 100)):
                seen = True
                if row["event_id"] is None:  # an UPDATE that landed after the row's DELETE: no event
                    stale.append(delete("outbox_pending", {"bucket": bucket, "event_tid": row["event_tid"]}))
                    continue
                if cut is not None and timeuuid_order(row["event_tid"]) >= cut:
                    break
                if row["event_id"] in exclude:
                    continue
                if row["next_attempt_at"] is None or row["next_attempt_at"] <= dead_after:
                    found.append(row["event_id"])
                    if len(found) >= limit:
                        break
            if not seen and bucket < current - PENDING_BUCKET_GRACE:
                stale.append(delete("outbox_pending_buckets", {"shard": SHARD, "bucket": bucket}))
            if len(found) >= limit:
                break
        if stale:
            cql.execute_writes(stale)
        if not found:
            return []
        records = []
        for row in self._events(found):
            if row["published_at"] is not None:  # published meanwhile: its pending row was re-created
                cql.execute_writes([delete("outbox_pending", {"bucket": row["bucket"], "event_tid": row["event_tid"]})])
                continue
            if subjects is None or row["subject"] in subjects:
                records.append(outbox_record(row))
        return records

    def outbox_backlog(self, *, now: datetime) -> tuple[int, datetime | None]:
        """(From the pending rows alone: a row published meanwhile may be counted until the relay or
        the publisher next reads past it.)"""
        dead_after = to_us(now + DEAD_LETTER_HORIZON)
        count, oldest = 0, None
        for marker in cql.rows(SELECT_PENDING_BUCKETS, (SHARD,)):  # minutes in order
            for row in cql.iter_rows(SELECT_PENDING, (marker["bucket"],), fetch_size=5000):
                if row["event_id"] is None or (row["next_attempt_at"] or 0) > dead_after:
                    continue
                if oldest is None:
                    oldest = at_us(timeuuid_us(row["event_tid"]))
                count += 1
                if count >= BACKLOG_COUNT_MAX:
                    return count, oldest
        return count, oldest

    def outbox_get(self, event_ids: Sequence[uuid.UUID]) -> list[OutboxRecord]:
        return [outbox_record(row) for row in self._events(event_ids)]

    def outbox_mark_published(self, event_ids: Sequence[uuid.UUID], *, at: datetime) -> None:
        moment = to_us(at)
        bucket = moment // HOUR_US
        writes: list[c.Write] = []
        for row in self._events(event_ids):
            if row["published_at"] is not None:
                continue
            writes += [
                update(
                    "outbox_events",
                    {"event_id": row["event_id"]},
                    {"published_at": moment, "attempts": (row["attempts"] or 0) + 1, "last_error": ""},
                ),
                delete("outbox_pending", {"bucket": row["bucket"], "event_tid": row["event_tid"]}),
                insert("outbox_published", {"bucket": bucket, "event_id": row["event_id"], "published_at": moment}),
            ]
        if writes:
            writes.append(insert("outbox_published_buckets", {"shard": SHARD, "bucket": bucket}))
            write(*writes)

    def outbox_mark_failed(self, event_ids: Sequence[uuid.UUID], *, error: str, retry_at: datetime) -> None:
        retry = to_us(retry_at)
        writes: list[c.Write] = []
        for row in self._events(event_ids):
            if row["published_at"] is not None:
                continue
            writes += [
                update(
                    "outbox_events",
                    {"event_id": row["event_id"]},
                    {"attempts": (row["attempts"] or 0) + 1, "last_error": error[:2000], "next_attempt_at": retry},
                ),
                update(
                    "outbox_pending",
                    {"bucket": row["bucket"], "event_tid": row["event_tid"]},
                    {"next_attempt_at": retry},
                ),
            ]
        write(*writes)

    def outbox_prune(self, *, published_before: datetime) -> int:
        limit = to_us(published_before)
        last_bucket = limit // HOUR_US
        pruned = 0
        for marker in cql.rows(SELECT_PUBLISHED_BUCKETS, (SHARD, last_bucket)):
            bucket = marker["bucket"]
            rows = cql.rows(SELECT_PUBLISHED, (bucket,))
            old = [r for r in rows if r["published_at"] < limit]
            deletes = [delete("outbox_events", {"event_id": r["event_id"]}) for r in old]
            if len(old) == len(rows) and bucket < last_bucket:
                deletes += [
                    delete("outbox_published", {"bucket": bucket}),
                    delete("outbox_published_buckets", {"shard": SHARD, "bucket": bucket}),
                ]
            else:
                deletes += [delete("outbox_published", {"bucket": bucket, "event_id": r["event_id"]}) for r in old]
            cql.execute_each(deletes)  # idempotent: no batch needed
            pruned += len(old)
        return pruned


__all__ = ["ScyllaOutboxMixin", "at_us", "outbox_record"]
