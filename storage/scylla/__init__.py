"""The `scylla` back end: ScyllaDB / Apache Cassandra through django-cassandra-engine (CHAT_STORAGE=scylla).

Modules: repository.py (the ScyllaRepository of the parts below), rooms.py and participants.py
(RoomStore), messages.py, read_state.py, reactions.py and timeline.py (MessageStore), outbox.py,
cql.py (session, statements, the unit of work), timeuuids.py, models.py (the tables).

Only this package imports cassandra modules. Settings: chatproject/settings_scylla.py; schema:
`python manage.py sync_cassandra` (the cqlengine models of models.py). Users stay in the Django
database (users_get reads them with the ORM).

Query-first tables (one per question; see models.py for the columns):

| repository methods                                  | table(s)                                          |
|-----------------------------------------------------|---------------------------------------------------|
| room_get(s), room_update/touch/soft_delete          | room_details                                      |
| room_get_by_p2p_key, room_insert (p2p)              | p2p_room_by_users (LWT INSERT IF NOT EXISTS)      |
| membership_get, participant(s)_get, participants_*  | participants_by_room ((room), user): its primary  |
|                                                     | key is also the one-row membership look-up        |
| room_ids_for_user, rooms_page_for_user, sync_rooms  | rooms_by_user ((user), room) + room_details       |
| sync_rooms (gone rooms)                             | deleted_rooms_by_user                             |
| message_create, messages_page/count, last_messages  | messages_by_room ((room, month), timeuuid DESC),  |
|                                                     | message_buckets_by_room (the months to walk)      |
| message_get, messages_get_many                      | room_by_message → messages_by_room                |
| message_create (idempotency), GetSenderMessage      | message_by_sender_message_id (LWT)                |
| metas_for_user / soft delete fan-out                | message_status_by_user / message_status_by_message|
| messages_read_by_others, message_readers            | read_receipts_by_message                          |
| unread_counts / meta_mark_read                      | unread_counters (counter) / unread_by_user        |
| visibility (history, last message, sync)            | hidden_messages_by_user                           |
| messages_since (edits and deletes of old messages)  | message_changes_by_room                           |
| reactions_for/page, reaction_set/delete             | reactions_by_message                              |
| mentions_for                                        | mentions_by_message (written with the message)    |
| outbox_*                                            | outbox_events, outbox_pending(+_buckets),         |
|                                                     | outbox_published(+_buckets)                       |

GetRooms order (pinned, last_message_at desc, created_at desc): rooms_by_user is NOT clustered by
last_message_at, which would rewrite every member's row on every message (and race). GetRooms reads
the user's partition and the rooms' details (IN queries) and filters, searches (accent-insensitive,
unicodedata) and sorts in memory: bounded by the number of rooms of the user.

Atomicity and events (no loss): `atomic()` opens a unit of work (cql.UnitOfWork) that collects every
write - data rows and the outbox rows that `emit()` adds - and sends them at its exit as ONE logged
batch: Cassandra writes the batch to its batch log first, so all of it is applied, or replayed after a
coordinator crash, or none of it is. The driver's BatchStatement with prepared statements is used
instead of a cqlengine BatchQuery (same CQL BATCH, without cqlengine's per-row Python cost).
Exceptions:
- Counters (unread_counters) cannot join a logged batch: they go in a COUNTER batch right after it.
  They are a cache of unread_by_user, which is in the logged batch, and MarkMessagesAsRead resets the
  room's counter to the exact count of unread_by_user; a crash between the two batches leaves a count
  off until the user next reads that room.
- Lightweight transactions (p2p pair, sender_message_id) cannot join a multi-partition batch: they
  run at once, and the unit of work deletes its claims if it fails (`on_rollback`). A claim whose
  unit of work died is taken over after ORPHAN_CLAIM_SECONDS.
- Reads inside a unit of work do not see its pending writes; the repository never needs them except
  for messages deleted in the unit (UnitOfWork.deleted_messages), which last_messages skips.
- "Never backwards" last message: room_last_message_set writes with USING TIMESTAMP = the message's
  time, so concurrent sends settle on the newest message whatever their order.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # Lazy: Django imports this package (an app: its models module holds the tables) before models
    # are ready, and the repository imports Django models (users).
    if name == "ScyllaRepository":
        from storage.scylla.repository import ScyllaRepository

        return ScyllaRepository
    raise AttributeError(name)


__all__ = ["ScyllaRepository"]
