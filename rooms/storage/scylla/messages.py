"""`scylla` back end, part 2: messages, meta (read state), reactions, mentions (MessageStore).

Tables (rooms/storage/scylla/models.py): messages_by_room ((room_id, month), timeuuid desc) with
message_buckets_by_room (the months a room has messages: history walks only those), room_by_message
(locator), message_by_sender_message_id (LWT claim: idempotent sends), message_changes_by_room
(edits and deletes, for InitialSync), message_status_by_user / message_status_by_message (the meta
rows, by viewer and by message), read_receipts_by_message, unread_by_user + unread_counters,
hidden_messages_by_user (what a viewer's meta hides), reactions_by_message, mentions_by_message.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from chatproject.errors import Conflict
from rooms.storage.records_messages import (
    MentionRecord,
    MessageRecord,
    MessageWindow,
    MetaRecord,
    ReactionRecord,
    SyncRooms,
)
from rooms.storage.scylla import cql as c
from rooms.storage.scylla.cql import (
    at_us,
    count,
    counter_add,
    cql,
    delete,
    deleted_in_unit,
    fetch_all,
    from_us,
    insert,
    month_bucket,
    on_rollback,
    timeuuid_for,
    timeuuid_order,
    to_us,
    update,
    write,
)

# A sender_message_id claim whose unit of work never wrote the message is taken over after this long.
ORPHAN_CLAIM_SECONDS = 30.0
CLAIM_WAIT_SECONDS = 3.0

SELECT_LOCATIONS = "SELECT * FROM {room_by_message} WHERE message_id IN ?"
SELECT_MESSAGES_IN = "SELECT * FROM {messages_by_room} WHERE room_id = ? AND bucket = ? AND message_tid IN ?"
SELECT_BUCKETS = "SELECT room_id, bucket FROM {message_buckets_by_room} WHERE room_id IN ?"
SELECT_RANGE_DESC = (
    "SELECT * FROM {messages_by_room} WHERE room_id = ? AND bucket = ? AND message_tid > ? AND message_tid < ?"
)
SELECT_RANGE_ASC = SELECT_RANGE_DESC + " ORDER BY message_tid ASC"
COUNT_RANGE = (
    "SELECT message_id, is_deleted FROM {messages_by_room}"
    " WHERE room_id = ? AND bucket = ? AND message_tid > ? AND message_tid < ?"
)
SELECT_SENT_TO = (
    "SELECT message_tid FROM {messages_sent_to_user}"
    " WHERE user_id = ? AND room_id = ? AND message_tid > ? AND message_tid < ?"
)
SELECT_HIDDEN = "SELECT room_id, message_id FROM {hidden_messages_by_user} WHERE user_id = ? AND room_id IN ?"
SELECT_SENDER_CLAIM = "SELECT * FROM {message_by_sender_message_id} WHERE sender_id = ? AND sender_message_id = ?"
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
SELECT_REACTION = "SELECT * FROM {reactions_by_message} WHERE message_id = ? AND user_id = ?"
SELECT_REACTIONS = "SELECT * FROM {reactions_by_message} WHERE message_id IN ?"
SELECT_MENTIONS = "SELECT * FROM {mentions_by_message} WHERE message_id IN ?"
SELECT_CHANGES = "SELECT * FROM {message_changes_by_room} WHERE room_id IN ? AND changed_at >= ?"
SELECT_USER_ROOMS = "SELECT * FROM {rooms_by_user} WHERE user_id = ?"
SELECT_ROOMS = "SELECT * FROM {room_details} WHERE room_id IN ?"
SELECT_GONE = "SELECT * FROM {deleted_rooms_by_user} WHERE user_id = ?"

_TEXT_FIELDS = (
    "content",
    "text",
    "event",
    "sender_message_id",
    "origin",
    "location_name",
    "contact_id",
    "contact_name",
    "contact_phone",
    "file",
    "audio_transcription",
)


def message_record(row: dict[str, Any]) -> MessageRecord:
    return MessageRecord(
        id=row["message_id"],
        room_id=row["room_id"],
        sender_id=row["sender_id"],
        type=row["type"] or "",
        created_at=at_us(row["created_at"]),
        updated_at=at_us(row["updated_at"]),
        status=row["status"] or "SENT",
        reply_to_id=row["reply_to_id"],
        forwarded_from_id=row["forwarded_from_id"],
        lifetime=row["lifetime"] or 0,
        location_latitude=row["location_latitude"],
        location_longitude=row["location_longitude"],
        edited=bool(row["edited"]),
        is_deleted=bool(row["is_deleted"]),
        deleted_at=from_us(row["deleted_at"]),
        **{name: row[name] or "" for name in _TEXT_FIELDS},
    )


def meta_record(row: dict[str, Any]) -> MetaRecord:
    return MetaRecord(
        message_id=row["message_id"],
        room_id=row["room_id"],
        user_id=row["user_id"],
        read_at=from_us(row["read_at"]),
        is_deleted=bool(row["is_deleted"]),
        is_sender_blocked=bool(row["is_sender_blocked"]),
    )


def reaction_record(row: dict[str, Any]) -> ReactionRecord:
    return ReactionRecord(
        message_id=row["message_id"],
        user_id=row["user_id"],
        reaction=row["reaction"],
        created_at=at_us(row["created_at"]),
        updated_at=at_us(row["updated_at"]),
    )


def _message_tid(message: MessageRecord) -> uuid.UUID:
    return timeuuid_for(to_us(message.created_at), message.id)


def _time_of(tid: uuid.UUID) -> int:
    """The microseconds of a timeuuid (the bounds are whole microseconds)."""
    return (tid.time - 0x01B21DD213814000) // 10


def _bounds(window: MessageWindow) -> tuple[uuid.UUID, uuid.UUID]:
    """The window's cursor and date bounds as exclusive timeuuids (lower, upper), in the table's order
    (visible_from is not a bound: messages sent to the viewer before it are in the window)."""
    lower = [c.LOWEST_TIMEUUID]
    upper = [c.HIGHEST_TIMEUUID]
    if window.after is not None:
        lower.append(timeuuid_for(to_us(window.after.created_at), window.after.id))
    if window.after_date is not None:  # created_at > after_date
        lower.append(c.max_timeuuid(to_us(window.after_date)))
    if window.before is not None:
        upper.append(timeuuid_for(to_us(window.before.created_at), window.before.id))
    if window.before_date is not None:  # created_at < before_date
        upper.append(c.min_timeuuid(to_us(window.before_date)))
    return max(lower, key=timeuuid_order), min(upper, key=timeuuid_order)


class ScyllaMessagesMixin:
    # --- locating ----------------------------------------------------------------------------------

    def _locations(self, message_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
        return {row["message_id"]: row for row in cql.rows_in(SELECT_LOCATIONS, message_ids)}

    def _message_rows(self, message_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
        locations = self._locations(message_ids)
        by_partition: dict[tuple[uuid.UUID, int], list[uuid.UUID]] = defaultdict(list)
        for loc in locations.values():
            by_partition[(loc["room_id"], loc["bucket"])].append(loc["message_tid"])
        reads = [(room, bucket, chunk) for (room, bucket), tids in by_partition.items() for chunk in c.chunks(tids)]
        rows: dict[uuid.UUID, dict[str, Any]] = {}
        for found in cql.rows_many(SELECT_MESSAGES_IN, reads):
            rows.update((row["message_id"], row) for row in found)
        return rows

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
        template: str | None = None,
        fetch_size: int = 200,
    ) -> Iterator[dict[str, Any]]:
        """A room's rows strictly between two timeuuids, walking only the months in range."""
        low, high = month_bucket(max(_time_of(lower), 0)), month_bucket(_time_of(upper))
        months = sorted((b for b in buckets if low <= b <= high), reverse=not oldest_first)
        statement = template or (SELECT_RANGE_ASC if oldest_first else SELECT_RANGE_DESC)
        for bucket in months:
            yield from cql.iter_rows(statement, (room_id, bucket, lower, upper), fetch_size=fetch_size)

    # --- writes ----------------------------------------------------------------------------------

    def message_create(
        self,
        message: MessageRecord,
        *,
        metas: Sequence[MetaRecord] = (),
        mentions: Sequence[MentionRecord] = (),
    ) -> tuple[MessageRecord, bool]:
        if message.sender_message_id and message.sender_id is not None:
            existing = self._claim_sender_message_id(message)
            if existing is not None:
                return existing, False
        created = to_us(message.created_at)
        tid = _message_tid(message)
        bucket = month_bucket(created)
        values = {
            "room_id": message.room_id,
            "bucket": bucket,
            "message_tid": tid,
            "message_id": message.id,
            "sender_id": message.sender_id,
            "type": message.type,
            "status": message.status,
            "reply_to_id": message.reply_to_id,
            "forwarded_from_id": message.forwarded_from_id,
            "lifetime": message.lifetime,
            "location_latitude": message.location_latitude,
            "location_longitude": message.location_longitude,
            "edited": message.edited,
            "is_deleted": message.is_deleted,
            "deleted_at": c.opt_us(message.deleted_at),
            "created_at": created,
            "updated_at": to_us(message.updated_at),
            **{name: getattr(message, name) for name in _TEXT_FIELDS},
        }
        writes = [
            insert("messages_by_room", values),
            insert("message_buckets_by_room", {"room_id": message.room_id, "bucket": bucket}),
            insert(
                "room_by_message",
                {"message_id": message.id, "room_id": message.room_id, "bucket": bucket, "message_tid": tid},
            ),
        ]
        counters = []
        for meta in metas:
            writes += _meta_writes(meta, sender_id=message.sender_id, tid=tid)
            if meta.read_at is None and not meta.is_hidden:
                counters.append(_unread_delta(meta.user_id, meta.room_id, +1))
        for position, mention in enumerate(mentions):
            writes.append(
                insert(
                    "mentions_by_message",
                    {
                        "message_id": mention.message_id,
                        "position": position,
                        "user_id": mention.user_id,
                        "tag": mention.tag,
                    },
                )
            )
        write(*writes)
        count(*counters)
        return message, True

    def _claim_sender_message_id(self, message: MessageRecord) -> MessageRecord | None:
        """Claims (sender_id, sender_message_id) for the message with an LWT; returns the message that
        holds it when another one does (waiting for its unit of work to commit)."""
        assert message.sender_id is not None
        key = {"sender_id": message.sender_id, "sender_message_id": message.sender_message_id}
        deadline = time.monotonic() + CLAIM_WAIT_SECONDS
        while True:
            applied, holder = cql.lwt(
                insert(
                    "message_by_sender_message_id",
                    {**key, "message_id": message.id, "room_id": message.room_id, "claimed_at": c.monotonic_now_us()},
                    if_not_exists=True,
                )
            )
            if applied:
                on_rollback(
                    lambda: cql.lwt(delete("message_by_sender_message_id", key, condition={"message_id": message.id}))
                )
                return None
            found = self.message_get_by_sender_message_id(message.sender_id, message.sender_message_id)
            if found is not None:
                return found
            if (c.monotonic_now_us() - (holder.get("claimed_at") or 0)) / 1e6 >= ORPHAN_CLAIM_SECONDS:
                # The holder's unit of work died before writing its message: take the claim over.
                taken, _ = cql.lwt(
                    c.Write(
                        "message_by_sender_message_id",
                        "UPDATE {message_by_sender_message_id} SET message_id = ?, room_id = ?, claimed_at = ?"
                        " WHERE sender_id = ? AND sender_message_id = ? IF message_id = ?",
                        (
                            message.id,
                            message.room_id,
                            c.monotonic_now_us(),
                            message.sender_id,
                            message.sender_message_id,
                            holder["message_id"],
                        ),
                        (message.sender_id, message.sender_message_id),
                    )
                )
                if taken:
                    on_rollback(
                        lambda: cql.lwt(
                            delete("message_by_sender_message_id", key, condition={"message_id": message.id})
                        )
                    )
                    return None
            if time.monotonic() >= deadline:
                raise Conflict("A message with this sender_message_id is being stored; retry.")
            time.sleep(0.05)

    def message_edit(self, message_id: uuid.UUID, *, content: str, text: str, at: datetime) -> MessageRecord | None:
        row = self._message_rows([message_id]).get(message_id)
        if row is None:
            return None
        changes = {"content": content, "text": text, "edited": True, "updated_at": to_us(at)}
        key = {"room_id": row["room_id"], "bucket": row["bucket"], "message_tid": row["message_tid"]}
        write(
            update("messages_by_room", key, changes),
            insert(
                "message_changes_by_room",
                {"room_id": row["room_id"], "changed_at": to_us(at), "message_id": message_id},
            ),
        )
        return message_record({**row, **changes})

    def messages_soft_delete(self, message_ids: Sequence[uuid.UUID], *, at: datetime) -> None:
        ids = list(dict.fromkeys(message_ids))
        if not ids:
            return
        moment = to_us(at)
        locations = self._locations(ids)
        writes: list[c.Write] = []
        counters: list[c.Write] = []
        for loc in locations.values():
            key = {"room_id": loc["room_id"], "bucket": loc["bucket"], "message_tid": loc["message_tid"]}
            writes += [
                update("messages_by_room", key, {"is_deleted": True, "deleted_at": moment, "updated_at": moment}),
                insert(
                    "message_changes_by_room",
                    {"room_id": loc["room_id"], "changed_at": moment, "message_id": loc["message_id"]},
                ),
            ]
        for meta in cql.rows_in(SELECT_METAS_OF_MESSAGES, list(locations)):
            if meta["is_deleted"]:
                continue
            loc = locations[meta["message_id"]]
            user_id, room_id = meta["user_id"], loc["room_id"]
            writes += [
                update(
                    "message_status_by_user",
                    {"user_id": user_id, "message_id": meta["message_id"]},
                    {"is_deleted": True},
                ),
                update(
                    "message_status_by_message",
                    {"message_id": meta["message_id"], "user_id": user_id},
                    {"is_deleted": True},
                ),
            ]
            if meta["read_at"] is None and not meta["is_sender_blocked"]:
                writes.append(
                    delete(
                        "unread_by_user", {"user_id": user_id, "room_id": room_id, "message_tid": loc["message_tid"]}
                    )
                )
                counters.append(_unread_delta(user_id, room_id, -1))
        write(*writes)
        count(*counters)
        deleted_in_unit().update(locations)

    def room_last_message_replace(
        self, room_id: uuid.UUID, *, message_id: uuid.UUID | None, at: datetime | None
    ) -> None:
        # Written "now": later than any message's own write time (see room_last_message_set).
        write(
            update(
                "room_details",
                {"room_id": room_id},
                {"last_message_id": message_id, "last_message_at": c.opt_us(at)},
                timestamp=c.monotonic_now_us(),
            )
        )

    def _reaction_row(self, message_id: uuid.UUID, user_id: int) -> dict[str, Any] | None:
        pending = c.pending_rows("reactions_by_message")
        if (message_id, user_id) in pending:
            return pending[(message_id, user_id)]
        return cql.one(SELECT_REACTION, (message_id, user_id))

    def reaction_set(self, message_id: uuid.UUID, user_id: int, reaction: str, *, at: datetime) -> None:
        key = {"message_id": message_id, "user_id": user_id}
        existing = self._reaction_row(message_id, user_id)
        row = {**key, "reaction": reaction, "created_at": to_us(at), "updated_at": to_us(at)}
        if existing is not None:
            row["created_at"] = existing["created_at"]
        c.remember_row("reactions_by_message", (message_id, user_id), row)
        if existing is not None:
            write(update("reactions_by_message", key, {"reaction": reaction, "updated_at": to_us(at)}))
        else:
            write(
                insert(
                    "reactions_by_message",
                    {**key, "reaction": reaction, "created_at": to_us(at), "updated_at": to_us(at)},
                )
            )

    def reaction_delete(self, message_id: uuid.UUID, user_id: int) -> bool:
        if self._reaction_row(message_id, user_id) is None:
            return False
        c.remember_row("reactions_by_message", (message_id, user_id), None)
        write(delete("reactions_by_message", {"message_id": message_id, "user_id": user_id}))
        return True

    def meta_mark_read(self, *, room_id: uuid.UUID, user_id: int, up_to: datetime, at: datetime) -> int:
        limit = c.max_timeuuid(to_us(up_to))
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
            count(_unread_delta(user_id, room_id, exact - current))
        return len(unread)

    # --- reads -----------------------------------------------------------------------------------

    def message_get(self, message_id: uuid.UUID) -> MessageRecord | None:
        row = self._message_rows([message_id]).get(message_id)
        return message_record(row) if row is not None else None

    def messages_get_many(self, message_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, MessageRecord]:
        return {mid: message_record(row) for mid, row in self._message_rows(list(set(message_ids))).items()}

    def message_get_by_sender_message_id(self, sender_id: int, sender_message_id: str) -> MessageRecord | None:
        if not sender_message_id:
            return None
        claim = cql.one(SELECT_SENDER_CLAIM, (sender_id, sender_message_id))
        return self.message_get(claim["message_id"]) if claim is not None else None

    def _visible_rows(self, window: MessageWindow, *, oldest_first: bool, count_only: bool) -> Iterator[dict[str, Any]]:
        """The window's rows in order: from the viewer's latest join on, every message of the room;
        before it, only the messages sent to the viewer (messages_sent_to_user)."""
        lower, upper = _bounds(window)
        if timeuuid_order(lower) >= timeuuid_order(upper):
            return
        hidden = self._hidden(window.viewer_id, [window.room_id])[window.room_id] | deleted_in_unit()
        since_join, before_join = lower, c.LOWEST_TIMEUUID
        if window.visible_from is not None:
            joined = to_us(window.visible_from)
            since_join = max(lower, c.max_timeuuid(joined - 1), key=timeuuid_order)
            before_join = min(upper, c.min_timeuuid(joined), key=timeuuid_order)
        parts: list[Iterator[dict[str, Any]]] = []
        if timeuuid_order(since_join) < timeuuid_order(upper):
            buckets = self._buckets([window.room_id])[window.room_id]
            parts.append(
                self._scan(
                    window.room_id,
                    buckets,
                    since_join,
                    upper,
                    oldest_first=oldest_first,
                    template=COUNT_RANGE if count_only else None,
                    fetch_size=5000 if count_only else 200,
                )
            )
        if timeuuid_order(lower) < timeuuid_order(before_join):
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
        for position, row in enumerate(self._visible_rows(window, oldest_first=oldest_first, count_only=False)):
            if position >= offset:
                page.append(message_record(row))
                if len(page) >= limit:
                    break
        return page

    def messages_count(self, window: MessageWindow) -> int:
        return sum(1 for _ in self._visible_rows(window, oldest_first=False, count_only=True))

    def messages_since(
        self, *, room_ids: Sequence[uuid.UUID], viewer_id: int, since: datetime, per_room: int
    ) -> dict[uuid.UUID, list[MessageRecord]]:
        ids = list(dict.fromkeys(room_ids))
        if not ids or per_room < 1:
            return {}
        since_us = to_us(since)
        joined = {
            r["room_id"]: r["joined_at"] for r in cql.rows(SELECT_USER_ROOMS, (viewer_id,)) if r["room_id"] in set(ids)
        }
        ids = [r for r in ids if r in joined]
        hidden = self._hidden(viewer_id, ids)
        buckets = self._buckets(ids)
        result: dict[uuid.UUID, list[MessageRecord]] = {}
        # Messages created since then are news (created_at <= updated_at): those since the viewer's latest
        # join, the newest of each room,
        # from its newest month for all rooms at once; a room that needs more walks its older months.
        lower = {r: c.max_timeuuid(max(since_us, joined[r]) - 1) for r in ids}
        months = {r: [b for b in buckets[r] if b >= month_bucket(max(since_us, joined[r]))] for r in ids}
        heads_of = [r for r in ids if months[r]]
        limits = {r: per_room + len(hidden[r]) for r in heads_of}
        heads = cql.rows_many(
            SELECT_RANGE_DESC + " LIMIT ?",
            [(r, months[r][0], lower[r], c.HIGHEST_TIMEUUID, limits[r]) for r in heads_of],
        )
        head_rows = dict(zip(heads_of, heads, strict=True))
        for room_id in ids:
            rows: Iterator[dict[str, Any]] = iter(head_rows.get(room_id, []))
            if len(head_rows.get(room_id, [])) >= limits.get(room_id, 0) > 0:
                rows = self._scan(room_id, months[room_id], lower[room_id], c.HIGHEST_TIMEUUID)
            elif len(months[room_id]) > 1:
                rest = self._scan(room_id, months[room_id][1:], lower[room_id], c.HIGHEST_TIMEUUID)
                rows = _chain(head_rows.get(room_id, []), rest)
            found: list[MessageRecord] = []
            for row in rows:
                if row["message_id"] not in hidden[room_id]:
                    found.append(message_record(row))
                    if len(found) >= per_room:
                        break
            result[room_id] = found
        # ...those created since then but before the viewer's latest join that were sent to them...
        before_join = [r for r in ids if since_us < joined[r]]
        sent = cql.rows_many(
            SELECT_SENT_TO + " LIMIT ?",
            [
                (viewer_id, r, c.max_timeuuid(since_us - 1), c.min_timeuuid(joined[r]), per_room + len(hidden[r]))
                for r in before_join
            ],
        )
        reads = [
            (room_id, bucket, chunk)
            for room_id, rows in zip(before_join, sent, strict=True)
            for bucket, tids in _by_month([row["message_tid"] for row in rows]).items()
            for chunk in c.chunks(tids)
        ]
        for found in cql.rows_many(SELECT_MESSAGES_IN, reads):
            for row in found:
                if row["message_id"] not in hidden[row["room_id"]]:
                    result[row["room_id"]].append(message_record(row))
        # ...and older messages edited or deleted since (message_changes_by_room), if the viewer sees them.
        older: set[uuid.UUID] = set()
        for rows in cql.rows_many(SELECT_CHANGES, [(chunk, since_us) for chunk in c.chunks(ids)]):
            older.update(row["message_id"] for row in rows)
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
        newest = [r for r in ids if buckets[r]]
        heads = cql.rows_many(
            SELECT_RANGE_DESC + " LIMIT 20",
            [(r, buckets[r][0], c.LOWEST_TIMEUUID, c.HIGHEST_TIMEUUID) for r in newest],
        )
        for room_id, rows in zip(newest, heads, strict=True):
            candidates: Iterator[dict[str, Any]] = iter(rows)
            if len(rows) >= 20:
                candidates = self._scan(room_id, buckets[room_id], c.LOWEST_TIMEUUID, c.HIGHEST_TIMEUUID)
            elif len(buckets[room_id]) > 1:
                candidates = _chain(
                    rows, self._scan(room_id, buckets[room_id][1:], c.LOWEST_TIMEUUID, c.HIGHEST_TIMEUUID)
                )
            for row in candidates:
                if not row["is_deleted"] and row["message_id"] not in hidden[room_id] and row["message_id"] not in gone:
                    result[room_id] = message_record(row)
                    break
        return result

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

    def reactions_for(self, message_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[ReactionRecord]]:
        ids = set(message_ids)
        found = {(r["message_id"], r["user_id"]): r for r in cql.rows_in(SELECT_REACTIONS, list(ids))}
        found.update((key, row) for key, row in c.pending_rows("reactions_by_message").items() if key[0] in ids)
        result: dict[uuid.UUID, list[ReactionRecord]] = defaultdict(list)
        rows = sorted((r for r in found.values() if r is not None), key=lambda r: (r["created_at"], r["user_id"]))
        for row in rows:
            result[row["message_id"]].append(reaction_record(row))
        return dict(result)

    def reactions_page(self, message_id: uuid.UUID, *, limit: int, offset: int) -> tuple[list[ReactionRecord], int]:
        reactions = self.reactions_for([message_id]).get(message_id, [])
        return reactions[offset : offset + limit], len(reactions)

    def mentions_for(self, message_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[MentionRecord]]:
        result: dict[uuid.UUID, list[MentionRecord]] = defaultdict(list)
        rows = sorted(cql.rows_in(SELECT_MENTIONS, list(set(message_ids))), key=lambda r: r["position"])
        for row in rows:
            result[row["message_id"]].append(
                MentionRecord(message_id=row["message_id"], user_id=row["user_id"], tag=row["tag"])
            )
        return dict(result)

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


def _by_month(tids: Sequence[uuid.UUID]) -> dict[int, list[uuid.UUID]]:
    months: dict[int, list[uuid.UUID]] = defaultdict(list)
    for tid in tids:
        months[month_bucket(_time_of(tid))].append(tid)
    return months


def _chain(first: Sequence[dict[str, Any]], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield from first
    yield from rest


def _unread_delta(user_id: int, room_id: uuid.UUID, delta: int) -> c.Write:
    return counter_add("unread_counters", {"user_id": user_id, "room_id": room_id}, "unread", delta)


def _meta_writes(meta: MetaRecord, *, sender_id: int | None, tid: uuid.UUID) -> list[c.Write]:
    """A new meta row: by user and by message, plus its read receipt, unread row or hidden row."""
    values = {
        "room_id": meta.room_id,
        "read_at": c.opt_us(meta.read_at),
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
