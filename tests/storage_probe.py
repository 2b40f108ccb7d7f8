"""A back-end-neutral look at what storage holds, for tests that check rows directly ("a refused
request wrote nothing", "the row has this value") or set up a state no API makes (old timestamps).

Everything returns the repository's records (RoomRecord, ParticipantRecord, MessageRecord,
MetaRecord, ReactionRecord, MentionRecord, OutboxRecord) whatever the back end of the run
(CHAT_STORAGE): the ORM tables on `postgres`, full scans of the (per-test emptied) tables on `scylla`.
Filters are attribute equalities on those records, e.g. `messages(room_id=room.id, is_deleted=True)`;
lists come oldest first (creation order).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.conf import settings
from django.utils.dateparse import parse_datetime

from storage.records import OutboxRecord, ParticipantRecord, RoomRecord
from storage.records_messages import MentionRecord, MessageRecord, MetaRecord, ReactionRecord

T = TypeVar("T")


def _scylla() -> bool:
    return settings.CHAT_STORAGE == "scylla"


def _when(value: Any) -> Any:
    """An ISO 8601 string as a datetime (as the ORM takes them); anything else as it is."""
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value)
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed
    return value


def _matching(records: Iterable[T], filters: dict[str, Any]) -> list[T]:
    return [r for r in records if all(getattr(r, k) == _when(v) for k, v in filters.items())]


# --- rooms and participants ----------------------------------------------------------------------


def rooms(**filters: Any) -> list[RoomRecord]:
    """Every room (deleted ones too), oldest first."""
    if _scylla():
        from storage.scylla.rooms import room_record

        found = [room_record(row) for row in _scan("room_details")]
    else:
        from storage.models import Room
        from storage.postgres.rooms import room_record as pg_room_record

        found = [pg_room_record(r) for r in Room.objects.order_by("created_at", "id")]
    found.sort(key=lambda r: (r.created_at, r.id.int))
    return _matching(found, filters)


def room(room_id: uuid.UUID | str) -> RoomRecord:
    """The room (deleted or not); fails if there is none."""
    (found,) = rooms(id=uuid.UUID(str(room_id)))
    return found


def room_update(room_id: uuid.UUID | str, **fields: Any) -> None:
    """Sets room fields directly (a state no API makes, e.g. an old last_message_at)."""
    values = {k: _when(v) for k, v in fields.items()}
    if _scylla():
        _update("room_details", {"room_id": uuid.UUID(str(room_id))}, values)
    else:
        from storage.models import Room

        Room.objects.filter(id=room_id).update(**values)


def participants(**filters: Any) -> list[ParticipantRecord]:
    """Every participation (removed ones too; `is_active=True` for the others), oldest first."""
    if _scylla():
        from storage import get_repository
        from storage.scylla.participants import participant_record

        rows = _scan("participants_by_room")
        users = get_repository().users_get({r["user_id"] for r in rows})
        rows.sort(key=lambda r: (r["joined_at"], r["join_order"] or 0))
        found = [participant_record(r, users[r["user_id"]]) for r in rows if r["user_id"] in users]
    else:
        from storage.models import Participant
        from storage.postgres.rooms import participant_record as pg_participant_record

        rows_pg = Participant.objects.select_related("user__chat_profile").order_by("joined_at", "id")
        found = [pg_participant_record(p) for p in rows_pg]
    return _matching(found, filters)


def participant(room_id: uuid.UUID | str, user_id: int) -> ParticipantRecord:
    (found,) = participants(room_id=uuid.UUID(str(room_id)), user_id=user_id)
    return found


def participant_update(room_id: uuid.UUID | str, user_id: int | None = None, **fields: Any) -> None:
    """Sets fields of one participation (or of all the room's, user_id None) directly."""
    values = {k: _when(v) for k, v in fields.items()}
    room_uuid = uuid.UUID(str(room_id))
    if _scylla():
        user_ids = [user_id] if user_id is not None else [p.user_id for p in participants(room_id=room_uuid)]
        mirrored = {k: v for k, v in values.items() if k in ("removed_at", "updated_at", "is_pinned")}
        for uid in user_ids:
            _update("participants_by_room", {"room_id": room_uuid, "user_id": uid}, values)
            if mirrored:
                _update("rooms_by_user", {"user_id": uid, "room_id": room_uuid}, mirrored)
    else:
        from storage.models import Membership, Participant

        rows = Participant.objects.filter(room_id=room_uuid)
        periods = Membership.objects.filter(room_id=room_uuid, left_at__isnull=True)
        if user_id is not None:
            rows = rows.filter(user_id=user_id)
            periods = periods.filter(user_id=user_id)
        rows.update(**values)
        # The open membership period follows the participation (read state and visibility use it).
        moved = {"joined_at": values["joined_at"]} if "joined_at" in values else {}
        if "removed_at" in values:
            moved["left_at"] = values["removed_at"]
        if moved:
            periods.update(**moved)


# --- messages ------------------------------------------------------------------------------------


def messages(**filters: Any) -> list[MessageRecord]:
    """Every message (deleted ones too), oldest first."""
    if _scylla():
        from storage.scylla.messages import message_record

        found = [message_record(row) for row in _scan("messages_by_room")]
    else:
        from storage.models import Message
        from storage.postgres.messages import message_record as pg_message_record

        found = [pg_message_record(m) for m in Message.objects.all()]
    found.sort(key=lambda m: (m.created_at, m.id.int))
    return _matching(found, filters)


def message(message_id: uuid.UUID | str) -> MessageRecord:
    (found,) = messages(id=uuid.UUID(str(message_id)))
    return found


def message_insert(record: MessageRecord) -> MessageRecord:
    """Stores a message as it is (no meta rows, no last message move): a state the test needs."""
    from storage import get_repository

    repo = get_repository()
    with repo.atomic():
        stored, _ = repo.message_create(record)
    return stored


def message_update(message_id: uuid.UUID | str, **fields: Any) -> None:
    """Sets fields of a message directly (e.g. is_deleted without the service's side effects)."""
    values = {k: _when(v) for k, v in fields.items()}
    if _scylla():
        from storage.scylla.cql import cql

        loc = cql.one("SELECT * FROM {room_by_message} WHERE message_id = ?", (uuid.UUID(str(message_id)),))
        assert loc is not None, f"no message {message_id}"
        key = {"room_id": loc["room_id"], "bucket": loc["bucket"], "message_tid": loc["message_tid"]}
        _update("messages_by_room", key, values)
    else:
        from storage.models import Message

        Message.objects.filter(id=message_id).update(**values)


def metas(**filters: Any) -> list[MetaRecord]:
    """Every meta row (per message and participant)."""
    if _scylla():
        from storage.scylla.read_state import meta_record

        found = [meta_record(row) for row in _scan("message_status_by_message")]
    else:
        found = _pg_metas(filters.get("message_id"))
    return _matching(found, filters)


def _pg_metas(message_id: Any) -> list[MetaRecord]:
    """The meta records the `postgres` back end derives (membership periods, read marks, hidden rows),
    for every member who ever was in each message's room."""
    from storage import get_repository
    from storage.models import Membership, Message, MessageMeta

    repo = get_repository()
    users: dict[uuid.UUID, set[int]] = {}
    for model in (Membership, MessageMeta):
        for room_id, user_id in model.objects.values_list("room_id", "user_id"):
            users.setdefault(room_id, set()).add(user_id)
    messages = Message.objects.order_by("created_at", "id")
    if message_id is not None:
        messages = messages.filter(id=message_id)
    found: list[MetaRecord] = []
    for message_id_, room_id in messages.values_list("id", "room_id"):
        for user_id in sorted(users.get(room_id, ())):
            meta = repo.metas_for_user([message_id_], user_id).get(message_id_)
            if meta is not None:
                found.append(meta)
    return found


def reactions(**filters: Any) -> list[ReactionRecord]:
    if _scylla():
        from storage.scylla.reactions import reaction_record

        found = sorted((reaction_record(r) for r in _scan("reactions_by_message")), key=lambda r: r.created_at)
    else:
        from storage.models import Reaction
        from storage.postgres.messages import reaction_record as pg_reaction_record

        found = [pg_reaction_record(r) for r in Reaction.objects.order_by("created_at", "id")]
    return _matching(found, filters)


def mentions(**filters: Any) -> list[MentionRecord]:
    if _scylla():
        rows = sorted(_scan("mentions_by_message"), key=lambda r: r["position"])
        found = [MentionRecord(message_id=r["message_id"], user_id=r["user_id"], tag=r["tag"]) for r in rows]
    else:
        from storage.models import Mention

        found = [
            MentionRecord(message_id=m.message_id, user_id=m.user_id, tag=m.tag) for m in Mention.objects.order_by("id")
        ]
    return _matching(found, filters)


# --- outbox --------------------------------------------------------------------------------------


def outbox(**filters: Any) -> list[OutboxRecord]:
    """Every outbox event, in emit order. `position` orders them: see outbox_marker()."""
    return _matching([e for _, e in _outbox()], filters)


def outbox_marker() -> int:
    """A position after every event so far (outbox_since(marker) is what came after it)."""
    events = _outbox()
    return events[-1][0] if events else 0


def outbox_since(marker: int) -> list[OutboxRecord]:
    return [e for position, e in _outbox() if position > marker]


def outbox_clear() -> None:
    """Deletes every outbox event (so that a test sees only what its action emits)."""
    if _scylla():
        from storage.scylla import cql as c

        deletes = []
        for row in _scan("outbox_events"):
            deletes.append(c.delete("outbox_events", {"event_id": row["event_id"]}))
            deletes.append(c.delete("outbox_pending", {"bucket": row["bucket"], "event_tid": row["event_tid"]}))
        c.cql.execute_each(deletes)
    else:
        from storage.models import OutboxEvent

        OutboxEvent.objects.all().delete()


@dataclass(frozen=True)
class OutboxState:
    """The publication state of one outbox event (what the publisher and the relay change)."""

    event_id: uuid.UUID
    published_at: datetime | None
    attempts: int
    next_attempt_at: datetime | None
    last_error: str


def outbox_state(event_id: uuid.UUID | str) -> OutboxState:
    """The publication state of the event; fails if there is none."""
    (found,) = [s for s in outbox_states() if s.event_id == uuid.UUID(str(event_id))]
    return found


def outbox_update(event_ids: Iterable[uuid.UUID | str] | None = None, **fields: Any) -> None:
    """Sets published_at / next_attempt_at of these events (all with None) directly, as a crash or
    the passing of time would leave them: published_at=None makes an event pending again."""
    values = {k: _when(v) for k, v in fields.items()}
    unknown = set(values) - {"published_at", "next_attempt_at"}
    if unknown:
        raise ValueError(f"outbox_update cannot set {sorted(unknown)}")
    ids = None if event_ids is None else {uuid.UUID(str(e)) for e in event_ids}
    if not _scylla():
        from storage.models import OutboxEvent

        rows = OutboxEvent.objects.all() if ids is None else OutboxEvent.objects.filter(event_id__in=ids)
        rows.update(**values)
        return
    from storage.scylla import cql as c
    from storage.scylla import timeuuids as t
    from storage.scylla.outbox import HOUR_US

    writes = []
    for row in _scan("outbox_events"):
        if ids is not None and row["event_id"] not in ids:
            continue
        key = {"event_id": row["event_id"]}
        pending = {"bucket": row["bucket"], "event_tid": row["event_tid"]}
        if "next_attempt_at" in values:
            at = t.opt_us(values["next_attempt_at"])
            writes.append(c.update("outbox_events", key, {"next_attempt_at": at}))
            if row["published_at"] is None:
                writes.append(c.update("outbox_pending", pending, {"next_attempt_at": at}))
        if "published_at" in values:
            at = t.opt_us(values["published_at"])
            writes.append(c.update("outbox_events", key, {"published_at": at}))
            if at is None:  # pending again
                writes.append(c.insert("outbox_pending", {**pending, "event_id": row["event_id"]}))
                writes.append(c.insert("outbox_pending_buckets", {"shard": 0, "bucket": row["bucket"]}))
            else:  # published then: where pruning finds it
                writes.append(c.delete("outbox_pending", pending))
                published = {"bucket": at // HOUR_US, "event_id": row["event_id"], "published_at": at}
                writes.append(c.insert("outbox_published", published))
                writes.append(c.insert("outbox_published_buckets", {"shard": 0, "bucket": at // HOUR_US}))
    c.cql.execute_writes(writes)


def outbox_states() -> list[OutboxState]:
    """The publication state of every outbox event."""
    if _scylla():
        from storage.scylla.timeuuids import from_us

        return [
            OutboxState(
                event_id=row["event_id"],
                published_at=from_us(row["published_at"]),
                attempts=row["attempts"] or 0,
                next_attempt_at=from_us(row["next_attempt_at"]),
                last_error=row["last_error"] or "",
            )
            for row in _scan("outbox_events")
        ]
    from storage.models import OutboxEvent

    return [
        OutboxState(
            event_id=row.event_id,
            published_at=row.published_at,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_error=row.last_error,
        )
        for row in OutboxEvent.objects.all()
    ]


def _outbox() -> list[tuple[int, OutboxRecord]]:
    if _scylla():
        from storage.scylla.outbox import complete_events, outbox_record

        return [(row["created_at"], outbox_record(row)) for row in complete_events(_scan("outbox_events"))]
    from storage.models import OutboxEvent
    from storage.postgres.repository import _outbox_record

    return [(row.id, _outbox_record(row)) for row in OutboxEvent.objects.order_by("id")]


# --- round trips ---------------------------------------------------------------------------------


@dataclass
class RoundTrips:
    count: int = 0


@contextmanager
def round_trips() -> Iterator[RoundTrips]:
    """Counts the storage round trips made inside: SQL queries, plus CQL statements on scylla (each
    statement of a concurrent fan-out counts)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counted = RoundTrips()
    start = _cql_requests()
    with CaptureQueriesContext(connection) as queries:
        yield counted
    counted.count = len(queries) + _cql_requests() - start


def _cql_requests() -> int:
    if not _scylla():
        return 0
    from storage.scylla.cql import cql

    return cql.requests


# --- snapshots -----------------------------------------------------------------------------------


def snapshot() -> dict[str, Any]:
    """Everything the chat services may write, comparable before/after a refused request."""
    return {
        "rooms": [(r.id, r.name, r.updated_at, r.deleted_at, r.last_message_id, r.last_message_at) for r in rooms()],
        "participants": sorted(
            (p.room_id.int, p.user_id, p.role, p.is_muted, p.is_pinned, p.is_partner_blocked, p.removed_at)
            for p in participants()
        ),
        "messages": [(m.id, m.content, m.text, m.edited, m.is_deleted, m.updated_at) for m in messages()],
        "metas": sorted((m.message_id.int, m.user_id, m.read_at, m.is_deleted) for m in metas()),
        "reactions": sorted((r.message_id.int, r.user_id, r.reaction) for r in reactions()),
        "mentions": len(mentions()),
        "outbox": len(outbox()),
    }


# --- scylla plumbing -----------------------------------------------------------------------------


def _scan(table: str) -> list[dict[str, Any]]:
    from storage.scylla.cql import cql

    return cql.rows(f"SELECT * FROM {{{table}}}")


def _update(table: str, key: dict[str, Any], values: dict[str, Any]) -> None:
    from storage.scylla import cql as c
    from storage.scylla import timeuuids as t

    converted = {k: (t.to_us(v) if isinstance(v, datetime) else v) for k, v in values.items()}
    c.cql.execute_writes([c.update(table, key, converted)])
