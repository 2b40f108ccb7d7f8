"""`scylla` back end, part 2b: a room's timeline and what changed (MessageStore reads, RoomStore.sync_rooms).

History walks messages_by_room ((room_id, month), timeuuid desc) only in the months that
message_buckets_by_room lists, between timeuuid bounds made from the window's cursors and dates. Before
the viewer's latest join only the messages sent to them count (messages_sent_to_user). Hidden messages
(hidden_messages_by_user) and deleted ones are skipped while walking.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from storage.records_messages import MessageRecord, MessageWindow, StaffMessageQuery, SyncRooms
from storage.scylla import cql as c
from storage.scylla import timeuuids as t
from storage.scylla.cql import cql, deleted_in_unit, fetch_all
from storage.scylla.messages import SELECT_MESSAGES_IN, ScyllaMessagesMixin, message_record
from storage.scylla.participants import fold
from storage.scylla.timeuuids import month_bucket, timeuuid_for, timeuuid_order, to_us

# Rows read per room beyond what is wanted, for the hidden and deleted ones among the newest.
HEAD_SLACK = 20

SELECT_BUCKETS = "SELECT room_id, bucket FROM {message_buckets_by_room} WHERE room_id IN ?"
SELECT_RANGE_DESC = (
    "SELECT * FROM {messages_by_room} WHERE room_id = ? AND bucket = ? AND message_tid > ? AND message_tid < ?"
)
SELECT_RANGE_ASC = SELECT_RANGE_DESC + " ORDER BY message_tid ASC"
# The newest rows of many rooms' newest months in one request (room_id x bucket: the rows of a
# room's other months that the product brings are dropped).
SELECT_HEADS = (
    "SELECT * FROM {messages_by_room} WHERE room_id IN ? AND bucket IN ? AND message_tid > ? PER PARTITION LIMIT ?"
)
COUNT_VISIBLE = (
    "SELECT COUNT(*) AS n FROM {messages_by_room} WHERE room_id = ? AND bucket = ? AND message_tid > ?"
    " AND message_tid < ? AND is_deleted = false ALLOW FILTERING"  # within one partition
)
COUNT_MONTH = "SELECT COUNT(*) AS n FROM {messages_by_room} WHERE room_id = ? AND bucket = ?"
SELECT_SENT_TO = (
    "SELECT message_tid FROM {messages_sent_to_user}"
    " WHERE user_id = ? AND room_id = ? AND message_tid > ? AND message_tid < ?"
)
SELECT_HIDDEN = "SELECT room_id, message_id FROM {hidden_messages_by_user} WHERE user_id = ? AND room_id IN ?"
SELECT_CHANGES = "SELECT * FROM {message_changes_by_room} WHERE room_id IN ? AND changed_at >= ?"
SELECT_USER_ROOMS = "SELECT * FROM {rooms_by_user} WHERE user_id = ?"
SELECT_ROOMS = "SELECT * FROM {room_details} WHERE room_id IN ?"
SELECT_GONE = "SELECT * FROM {deleted_rooms_by_user} WHERE user_id = ?"


def _time_of(tid: uuid.UUID) -> int:
    """The microseconds of a timeuuid (the bounds are whole microseconds)."""
    return (tid.time - 0x01B21DD213814000) // 10


def _bounds(window: MessageWindow) -> tuple[uuid.UUID, uuid.UUID]:
    """The window's cursor and date bounds as exclusive timeuuids (lower, upper), in the table's order
    (visible_from is not a bound: messages sent to the viewer before it are in the window)."""
    lower = [t.LOWEST_TIMEUUID]
    upper = [t.HIGHEST_TIMEUUID]
    if window.after is not None:
        lower.append(timeuuid_for(to_us(window.after.created_at), window.after.id))
    if window.after_date is not None:  # created_at > after_date
        lower.append(t.max_timeuuid(to_us(window.after_date)))
    if window.before is not None:
        upper.append(timeuuid_for(to_us(window.before.created_at), window.before.id))
    if window.before_date is not None:  # created_at < before_date
        upper.append(t.min_timeuuid(to_us(window.before_date)))
    return max(lower, key=timeuuid_order), min(upper, key=timeuuid_order)


class ScyllaTimelineMixin(ScyllaMessagesMixin):
    """Reads of a room's timeline: history pages and counts, sync, last messages, changed rooms."""

    def _buckets(self, room_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[int]]:
        """Per room, the months that hold messages, newest first."""
        buckets: dict[uuid.UUID, list[int]] = {r: [] for r in room_ids}
        for row in cql.rows_in(SELECT_BUCKETS, room_ids):
            buckets[row["room_id"]].append(row["bucket"])
        for values in buckets.values():
            values.sort(reverse=True)
        return buckets

    def _hidden(self, viewer_id: int | None, room_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, set[uuid.UUID]]:
        """Per room, the messages the viewer's meta hides (deleted for them, sender blocked)."""
        hidden: dict[uuid.UUID, set[uuid.UUID]] = {r: set() for r in room_ids}
        if viewer_id is not None:
            for row in cql.rows_in(SELECT_HIDDEN, room_ids, before=(viewer_id,)):
                hidden[row["room_id"]].add(row["message_id"])
        return hidden

    def _scan(
        self,
        room_id: uuid.UUID,
        buckets: Sequence[int],
        lower: uuid.UUID,
        upper: uuid.UUID,
        *,
        oldest_first: bool = False,
        fetch_size: int = 200,
    ) -> Iterator[dict[str, Any]]:
        """A room's rows strictly between two timeuuids, walking only the months in range."""
        low, high = month_bucket(max(_time_of(lower), 0)), month_bucket(_time_of(upper))
        months = sorted((b for b in buckets if low <= b <= high), reverse=not oldest_first)
        statement = SELECT_RANGE_ASC if oldest_first else SELECT_RANGE_DESC
        for bucket in months:
            yield from cql.iter_rows(statement, (room_id, bucket, lower, upper), fetch_size=fetch_size)

    def _heads(
        self, newest: dict[uuid.UUID, int], lower: uuid.UUID, limit: int
    ) -> dict[uuid.UUID, list[dict[str, Any]]]:
        """Per room, up to `limit` newest rows after `lower` of the month `newest[room]`: one request per
        hundred rooms."""
        heads: dict[uuid.UUID, list[dict[str, Any]]] = {r: [] for r in newest}
        reads = [(chunk, sorted({newest[r] for r in chunk}), lower, limit) for chunk in c.chunks(list(newest))]
        for rows in cql.rows_many(SELECT_HEADS, reads):
            for row in rows:
                if newest.get(row["room_id"]) == row["bucket"]:
                    heads[row["room_id"]].append(row)
        return heads

    def _visible_rows(self, window: MessageWindow, *, oldest_first: bool) -> Iterator[dict[str, Any]]:
        """The window's rows in order: from the viewer's latest join on, every message of the room;
        before it, only the messages sent to the viewer (messages_sent_to_user)."""
        lower, upper, since_join, before_join = _split_at_join(window)
        if not _before(lower, upper):
            return
        hidden = self._hidden(window.viewer_id, [window.room_id])[window.room_id] | deleted_in_unit()
        parts: list[Iterator[dict[str, Any]]] = []
        if _before(since_join, upper):
            buckets = self._buckets([window.room_id])[window.room_id]
            parts.append(self._scan(window.room_id, buckets, since_join, upper, oldest_first=oldest_first))
        if _before(lower, before_join):
            sent = self._sent_to(window.viewer_id, window.room_id, lower, before_join, oldest_first=oldest_first)
            parts.insert(0 if oldest_first else len(parts), sent)
        for part in parts:
            for row in part:
                if not row["is_deleted"] and row["message_id"] not in hidden:
                    yield row

    def _sent_to(
        self, user_id: int, room_id: uuid.UUID, lower: uuid.UUID, upper: uuid.UUID, *, oldest_first: bool
    ) -> Iterator[dict[str, Any]]:
        """The room's messages sent to the user (their meta rows) strictly between two timeuuids, in order."""
        template = SELECT_SENT_TO + (" ORDER BY message_tid ASC" if oldest_first else "")
        page = 200
        tids: list[uuid.UUID] = []
        for row in cql.iter_rows(template, (user_id, room_id, lower, upper), fetch_size=page):
            tids.append(row["message_tid"])
            if len(tids) >= page:
                yield from self._rows_by_tid(room_id, tids, oldest_first=oldest_first)
                tids = []
        yield from self._rows_by_tid(room_id, tids, oldest_first=oldest_first)

    def _rows_by_tid(
        self, room_id: uuid.UUID, tids: Sequence[uuid.UUID], *, oldest_first: bool
    ) -> list[dict[str, Any]]:
        """The room's message rows of these timeuuids (grouped by month), in order."""
        reads = [(room_id, bucket, chunk) for bucket, values in _by_month(tids).items() for chunk in c.chunks(values)]
        rows = [row for found in cql.rows_many(SELECT_MESSAGES_IN, reads) for row in found]
        return sorted(rows, key=lambda r: timeuuid_order(r["message_tid"]), reverse=not oldest_first)

    def messages_page(
        self, window: MessageWindow, *, limit: int, offset: int = 0, oldest_first: bool = False
    ) -> list[MessageRecord]:
        page: list[MessageRecord] = []
        if limit <= 0:
            return page
        for position, row in enumerate(self._visible_rows(window, oldest_first=oldest_first)):
            if position >= offset:
                page.append(message_record(row))
                if len(page) >= limit:
                    break
        return page

    def messages_count(self, window: MessageWindow) -> int:
        """Counted by the server, month by month (no rows travel), minus the viewer's hidden messages in
        the window; before the viewer's latest join, the messages sent to them are counted here."""
        lower, upper, since_join, before_join = _split_at_join(window)
        if not _before(lower, upper):
            return 0
        room_id = window.room_id
        hidden = self._hidden(window.viewer_id, [room_id])[room_id] | deleted_in_unit()
        total = 0
        if _before(since_join, upper):
            low, high = month_bucket(max(_time_of(since_join), 0)), month_bucket(_time_of(upper))
            months = [b for b in self._buckets([room_id])[room_id] if low <= b <= high]
            counts = cql.rows_many(COUNT_VISIBLE, [(room_id, b, since_join, upper) for b in months])
            total += sum(rows[0]["n"] for rows in counts if rows)
            if hidden:
                total -= sum(
                    1
                    for row in self._message_rows(list(hidden)).values()
                    if row["room_id"] == room_id
                    and not row["is_deleted"]
                    and _before(since_join, row["message_tid"])
                    and _before(row["message_tid"], upper)
                )
        if _before(lower, before_join):
            sent = self._sent_to(window.viewer_id, room_id, lower, before_join, oldest_first=False)
            total += sum(1 for row in sent if not row["is_deleted"] and row["message_id"] not in hidden)
        return total

    def messages_for_staff(self, query: StaffMessageQuery) -> tuple[list[MessageRecord], int]:
        """Unfiltered: counted by the server month by month, and walked only up to the page. With a
        search or a filter: the whole timeline is walked (the admin's read, not a user's)."""
        room_id = query.room_id
        buckets = self._buckets([room_id])[room_id]
        rows = self._scan(room_id, buckets, t.LOWEST_TIMEUUID, t.HIGHEST_TIMEUUID, fetch_size=500)
        needle = fold(query.search)
        end = query.offset + query.limit
        if not needle and query.deleted is None:
            counts = cql.rows_many(COUNT_MONTH, [(room_id, b) for b in buckets])
            total = sum(found[0]["n"] for found in counts if found)
            page = [message_record(row) for _, row in zip(range(end), rows, strict=False)]
            return page[query.offset :], total
        matching = (
            row
            for row in rows
            if (query.deleted is None or bool(row["is_deleted"]) == query.deleted) and needle in fold(row["text"] or "")
        )
        page, total = [], 0
        for row in matching:
            if query.offset <= total < end:
                page.append(message_record(row))
            total += 1
        return page, total

    def messages_since(
        self, *, room_ids: Sequence[uuid.UUID], viewer_id: int, since: datetime, per_room: int
    ) -> dict[uuid.UUID, list[MessageRecord]]:
        ids = list(dict.fromkeys(room_ids))
        if not ids or per_room < 1:
            return {}
        since_us = to_us(since)
        mine = {r["room_id"]: r for r in cql.rows(SELECT_USER_ROOMS, (viewer_id,)) if r["room_id"] in set(ids)}
        joined = {room_id: row["joined_at"] for room_id, row in mine.items()}
        ids = [r for r in ids if r in joined]
        hidden = self._hidden(viewer_id, ids)
        buckets = self._buckets(ids)
        result: dict[uuid.UUID, list[MessageRecord]] = {}
        # Messages created since then are news (created_at <= updated_at): those since the viewer's latest
        # join, the newest of each room,
        # from its newest month for all rooms at once; a room that needs more walks its older months.
        lower = {r: t.max_timeuuid(max(since_us, joined[r]) - 1) for r in ids}
        months = {r: [b for b in buckets[r] if b >= month_bucket(max(since_us, joined[r]))] for r in ids}
        limit = per_room + HEAD_SLACK
        heads = self._heads({r: months[r][0] for r in ids if months[r]}, t.max_timeuuid(since_us - 1), limit)
        for room_id in ids:
            head = heads.get(room_id, [])
            start = max(since_us, joined[room_id])
            rows: Iterator[dict[str, Any]] = iter([row for row in head if row["created_at"] >= start])
            if len(head) >= limit:  # the month holds more: walk the room
                rows = self._scan(room_id, months[room_id], lower[room_id], t.HIGHEST_TIMEUUID)
            elif len(months[room_id]) > 1:
                rest = self._scan(room_id, months[room_id][1:], lower[room_id], t.HIGHEST_TIMEUUID)
                rows = _chain([row for row in head if row["created_at"] >= start], rest)
            found: list[MessageRecord] = []
            for row in rows:
                if row["message_id"] not in hidden[room_id]:
                    found.append(message_record(row))
                    if len(found) >= per_room:
                        break
            result[room_id] = found
        # ...those created since then but before the viewer's latest join that were sent to them...
        before_join = [r for r in ids if since_us < joined[r] and mine[r]["rejoined"]]  # (first joins: none)
        sent = cql.rows_many(
            SELECT_SENT_TO + " LIMIT ?",
            [
                (viewer_id, r, t.max_timeuuid(since_us - 1), t.min_timeuuid(joined[r]), per_room + len(hidden[r]))
                for r in before_join
            ],
        )
        reads = [
            (room_id, bucket, chunk)
            for room_id, rows in zip(before_join, sent, strict=True)
            for bucket, tids in _by_month([row["message_tid"] for row in rows]).items()
            for chunk in c.chunks(tids)
        ]
        for sent_rows in cql.rows_many(SELECT_MESSAGES_IN, reads):
            for row in sent_rows:
                if row["message_id"] not in hidden[row["room_id"]]:
                    result[row["room_id"]].append(message_record(row))
        # ...and older messages edited or deleted since (message_changes_by_room), if the viewer sees them.
        older: set[uuid.UUID] = set()
        for changes in cql.rows_many(SELECT_CHANGES, [(chunk, since_us) for chunk in c.chunks(ids)]):
            older.update(row["message_id"] for row in changes)
        changed = [
            m
            for m in self.messages_get_many(list(older)).values()
            if m.room_id in result
            and to_us(m.created_at) < since_us
            and to_us(m.updated_at) >= since_us
            and m.id not in hidden[m.room_id]
        ]
        pre_join = [m.id for m in changed if to_us(m.created_at) < joined[m.room_id]]
        sent_to_viewer = set(self.metas_for_user(pre_join, viewer_id)) if pre_join else set()
        for message in changed:
            if to_us(message.created_at) >= joined[message.room_id] or message.id in sent_to_viewer:
                result[message.room_id].append(message)
        out: dict[uuid.UUID, list[MessageRecord]] = {}
        for room_id, messages in result.items():
            messages.sort(key=lambda m: (m.created_at, m.id.int), reverse=True)
            if messages:
                out[room_id] = messages[:per_room]
        return out

    def last_messages(self, room_ids: Sequence[uuid.UUID], *, viewer_id: int | None) -> dict[uuid.UUID, MessageRecord]:
        ids = list(dict.fromkeys(room_ids))
        if not ids:
            return {}
        hidden = self._hidden(viewer_id, ids)
        gone = deleted_in_unit()
        buckets = self._buckets(ids)
        result: dict[uuid.UUID, MessageRecord] = {}
        # The newest month of every room at once; the rare room whose newest rows are all hidden walks on.
        heads = self._heads({r: buckets[r][0] for r in ids if buckets[r]}, t.LOWEST_TIMEUUID, HEAD_SLACK)
        for room_id, rows in heads.items():
            candidates: Iterator[dict[str, Any]] = iter(rows)
            if len(rows) >= HEAD_SLACK:
                candidates = self._scan(room_id, buckets[room_id], t.LOWEST_TIMEUUID, t.HIGHEST_TIMEUUID)
            elif len(buckets[room_id]) > 1:
                candidates = _chain(
                    rows, self._scan(room_id, buckets[room_id][1:], t.LOWEST_TIMEUUID, t.HIGHEST_TIMEUUID)
                )
            for row in candidates:
                if not row["is_deleted"] and row["message_id"] not in hidden[room_id] and row["message_id"] not in gone:
                    result[room_id] = message_record(row)
                    break
        return result

    def sync_rooms(self, *, user_id: int, since: datetime) -> SyncRooms:
        since_us = to_us(since)
        mine_rows, gone_rows = fetch_all([(SELECT_USER_ROOMS, (user_id,)), (SELECT_GONE, (user_id,))])
        mine = {r["room_id"]: r for r in mine_rows if r["removed_at"] is None and not r["room_deleted"]}
        rooms = [row for row in cql.rows_in(SELECT_ROOMS, list(mine)) if row["deleted_at"] is None]
        changed = [
            row
            for row in rooms
            if row["updated_at"] >= since_us
            or (row["last_message_at"] is not None and row["last_message_at"] >= since_us)
            or (mine[row["room_id"]]["updated_at"] or 0) >= since_us
            or mine[row["room_id"]]["joined_at"] >= since_us
        ]
        # As postgres orders them: last_message_at desc (rooms without messages first), created_at desc.
        changed.sort(
            key=lambda row: (row["last_message_at"] is not None, -(row["last_message_at"] or 0), -row["created_at"])
        )
        gone = [r["room_id"] for r in gone_rows if r["gone_at"] >= since_us]
        return SyncRooms(changed_room_ids=[r["room_id"] for r in changed], gone_room_ids=gone)

    def rooms_gone_since(self, *, user_id: int, since: datetime) -> list[uuid.UUID]:
        since_us = to_us(since)
        return [r["room_id"] for r in cql.rows(SELECT_GONE, (user_id,)) if r["gone_at"] >= since_us]


def _before(a: uuid.UUID, b: uuid.UUID) -> bool:
    """Whether timeuuid `a` sorts before `b` in Cassandra's order."""
    return timeuuid_order(a) < timeuuid_order(b)


def _split_at_join(window: MessageWindow) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID, uuid.UUID]:
    """(lower, upper) bounds of the window, and where the part since the viewer's latest join starts
    and the part before it ends (exclusive timeuuids)."""
    lower, upper = _bounds(window)
    since_join, before_join = lower, t.LOWEST_TIMEUUID
    if window.visible_from is not None:
        joined = to_us(window.visible_from)
        since_join = max(lower, t.max_timeuuid(joined - 1), key=timeuuid_order)
        before_join = min(upper, t.min_timeuuid(joined), key=timeuuid_order)
    return lower, upper, since_join, before_join


def _by_month(tids: Sequence[uuid.UUID]) -> dict[int, list[uuid.UUID]]:
    months: dict[int, list[uuid.UUID]] = defaultdict(list)
    for tid in tids:
        months[month_bucket(_time_of(tid))].append(tid)
    return months


def _chain(first: Sequence[dict[str, Any]], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield from first
    yield from rest
