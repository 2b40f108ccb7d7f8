"""`scylla` back end, messages part 1: writing and finding messages (MessageStore; read state in
read_state.py, reactions and mentions in reactions.py, the timeline reads in timeline.py).

Tables (storage/scylla/models.py): messages_by_room ((room_id, month), timeuuid desc) with
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
from typing import TYPE_CHECKING, Any

from storage.enums import MessageType
from storage.errors import SenderMessageIdBusyError
from storage.records import ParticipantRecord
from storage.records_messages import (
    MentionRecord,
    MessageRecord,
    MetaRecord,
)
from storage.scylla import cql as c
from storage.scylla import timeuuids as t
from storage.scylla.cql import (
    count,
    cql,
    delete,
    deleted_in_unit,
    insert,
    on_rollback,
    update,
    write,
)
from storage.scylla.reactions import ScyllaReactionsMixin
from storage.scylla.read_state import SELECT_METAS_OF_MESSAGES, ScyllaReadStateMixin, meta_writes, unread_delta
from storage.scylla.timeuuids import at_us, from_us, month_bucket, timeuuid_for, to_us

# A sender_message_id claim whose unit of work never wrote the message is taken over after this long.
ORPHAN_CLAIM_SECONDS = 30.0
CLAIM_WAIT_SECONDS = 3.0

SELECT_LOCATIONS = "SELECT * FROM {room_by_message} WHERE message_id IN ?"
SELECT_MESSAGES_IN = "SELECT * FROM {messages_by_room} WHERE room_id = ? AND bucket = ? AND message_tid IN ?"
SELECT_SENDER_CLAIM = "SELECT * FROM {message_by_sender_message_id} WHERE sender_id = ? AND sender_message_id = ?"

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


def _message_tid(message: MessageRecord) -> uuid.UUID:
    return timeuuid_for(to_us(message.created_at), message.id)


class ScyllaMessagesMixin(ScyllaReadStateMixin, ScyllaReactionsMixin):
    if TYPE_CHECKING:  # the rooms half of the repository (ScyllaRepository combines both)

        def participants_active(self, room_id: uuid.UUID) -> list[ParticipantRecord]: ...

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

    def _metas_of_new(self, message: MessageRecord, hidden_for: Sequence[int]) -> list[MetaRecord]:
        """A meta row per active member (read by the sender, sender-blocked for `hidden_for`); none
        for system messages."""
        if message.type == MessageType.SYSTEM:
            return []
        members = {p.user_id for p in self.participants_active(message.room_id)}
        if message.sender_id is not None:
            members.add(message.sender_id)
        hidden = set(hidden_for)
        return [
            MetaRecord(
                message_id=message.id,
                room_id=message.room_id,
                user_id=u,
                read_at=message.created_at if u == message.sender_id else None,
                is_sender_blocked=u in hidden,
            )
            for u in sorted(members)
        ]

    def message_create(
        self,
        message: MessageRecord,
        *,
        hidden_for: Sequence[int] = (),
        mentions: Sequence[MentionRecord] = (),
    ) -> tuple[MessageRecord, bool]:
        if message.sender_message_id and message.sender_id is not None:
            existing = self._claim_sender_message_id(message)
            if existing is not None:
                return existing, False
        metas = self._metas_of_new(message, hidden_for)
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
            "deleted_at": t.opt_us(message.deleted_at),
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
            writes += meta_writes(meta, sender_id=message.sender_id, tid=tid)
            if meta.read_at is None and not meta.is_hidden:
                counters.append(unread_delta(meta.user_id, meta.room_id, +1))
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
                    {**key, "message_id": message.id, "room_id": message.room_id, "claimed_at": t.monotonic_now_us()},
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
            if (t.monotonic_now_us() - (holder.get("claimed_at") or 0)) / 1e6 >= ORPHAN_CLAIM_SECONDS:
                # The holder's unit of work died before writing its message: take the claim over.
                taken, _ = cql.lwt(
                    c.Write(
                        "message_by_sender_message_id",
                        "UPDATE {message_by_sender_message_id} SET message_id = ?, room_id = ?, claimed_at = ?"
                        " WHERE sender_id = ? AND sender_message_id = ? IF message_id = ?",
                        (
                            message.id,
                            message.room_id,
                            t.monotonic_now_us(),
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
                counters.append(unread_delta(user_id, room_id, -1))
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
                {"last_message_id": message_id, "last_message_at": t.opt_us(at)},
                timestamp=t.monotonic_now_us(),
            )
        )

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
