"""`scylla` back end, messages part 3: reactions (reactions_by_message) and mentions (mentions_by_message,
written with their message)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from storage.records_messages import (
    MentionRecord,
    ReactionRecord,
)
from storage.scylla import cql as c
from storage.scylla.cql import (
    cql,
    delete,
    insert,
    update,
    write,
)
from storage.scylla.timeuuids import at_us, to_us

SELECT_REACTION = "SELECT * FROM {reactions_by_message} WHERE message_id = ? AND user_id = ?"
SELECT_REACTIONS = "SELECT * FROM {reactions_by_message} WHERE message_id IN ?"
SELECT_MENTIONS = "SELECT * FROM {mentions_by_message} WHERE message_id IN ?"


def reaction_record(row: dict[str, Any]) -> ReactionRecord:
    return ReactionRecord(
        message_id=row["message_id"],
        user_id=row["user_id"],
        reaction=row["reaction"],
        created_at=at_us(row["created_at"]),
        updated_at=at_us(row["updated_at"]),
    )


class ScyllaReactionsMixin:
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
