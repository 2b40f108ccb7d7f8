"""`scylla` back end, part 2: messages, meta (read state), reactions, mentions (MessageStore; the
timeline reads are in timeline.py).

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
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from storage.errors import SenderMessageIdBusyError
from storage.records_messages import (
    MentionRecord,
    MessageRecord,
    MetaRecord,
    ReactionRecord,
)
from storage.scylla import cql as c
from storage.scylla.cql import (
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
    to_us,
    update,
    write,
)

# A sender_message_id claim whose unit of work never wrote the message is taken over after this long.
ORPHAN_CLAIM_SECONDS = 30.0
CLAIM_WAIT_SECONDS = 3.0

SELECT_LOCATIONS = "SELECT * FROM {room_by_message} WHERE message_id IN ?"
SELECT_MESSAGES_IN = "SELECT * FROM {messages_by_room} WHERE room_id = ? AND bucket = ? AND message_tid IN ?"
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
                raise SenderMessageIdBusyError(message.sender_message_id)
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

    def message_touch(self, message_id: uuid.UUID, *, at: datetime) -> None:
        row = self._message_rows([message_id]).get(message_id)
        if row is None:
            return
        key = {"room_id": row["room_id"], "bucket": row["bucket"], "message_tid": row["message_tid"]}
        write(
            update("messages_by_room", key, {"updated_at": to_us(at)}),
            insert(
                "message_changes_by_room",
                {"room_id": row["room_id"], "changed_at": to_us(at), "message_id": message_id},
            ),
        )

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
        found: dict[tuple[Any, ...], dict[str, Any] | None] = {
            (r["message_id"], r["user_id"]): r for r in cql.rows_in(SELECT_REACTIONS, list(ids))
        }
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
