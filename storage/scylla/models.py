"""The tables of the `scylla` back end, as cqlengine models (`manage.py sync_cassandra` creates them).

Query-first: one table per question the repository answers (see the table in __init__.py). The
models only define the schema; the repository reads and writes with prepared statements
(rooms/storage/scylla/cql.py), which are much cheaper than cqlengine querysets.

Every `*_at` column is a BigInt of MICROseconds since the Unix epoch (UTC): CQL `timestamp` keeps
milliseconds only, and records must round-trip exactly (a message's created_at is its cursor).
Time buckets: `bucket` of messages is the month (year * 12 + month - 1) of created_at; outbox buckets
are minutes (pending) and hours (published) since the epoch.
"""

from __future__ import annotations

from cassandra.cqlengine import columns
from cassandra.cqlengine.models import Model

# Queue-like tables (rows deleted soon after they are written): tombstones go away after an hour
# instead of 10 days. A tombstone lost before repair can only resurrect an already published event,
# which the relay republishes and JetStream de-duplicates by event id.
QUEUE_OPTIONS = {"gc_grace_seconds": 3600}


# --- rooms and participants ------------------------------------------------------------------------


class RoomDetails(Model):
    """room_details: one row per room (also deleted ones: deleted_at)."""

    __table_name__ = "room_details"
    room_id = columns.UUID(primary_key=True)
    type = columns.Text()
    name = columns.Text()
    description = columns.Text()
    photo_url = columns.Text()
    encryption_data = columns.Text()
    join_all_user = columns.Boolean()
    send_message = columns.Boolean()
    add_member = columns.Boolean()
    edit_group = columns.Boolean()
    created_by_id = columns.BigInt()
    # Written with USING TIMESTAMP = the message's time, so the newest message wins whatever the order
    # in which concurrent sends land (RoomStore.room_last_message_set never moves backwards).
    last_message_id = columns.UUID()
    last_message_at = columns.BigInt()
    created_at = columns.BigInt()
    updated_at = columns.BigInt()
    deleted_at = columns.BigInt()
    p2p_key = columns.Text()


class P2PRoomByUsers(Model):
    """p2p_room_by_users: "<low id>:<high id>" → the pair's live p2p room; claimed with LWT IF NOT EXISTS."""

    __table_name__ = "p2p_room_by_users"
    p2p_key = columns.Text(primary_key=True)
    room_id = columns.UUID()
    claimed_at = columns.BigInt()


class ParticipantsByRoom(Model):
    """participants_by_room: a room's participations (active and removed); (room_id, user_id) is also
    the room membership look-up of one user (a single-row read)."""

    __table_name__ = "participants_by_room"
    room_id = columns.UUID(partition_key=True)
    user_id = columns.BigInt(primary_key=True)
    role = columns.Text()
    is_muted = columns.Boolean()
    is_pinned = columns.Boolean()
    is_partner_blocked = columns.Boolean()
    joined_at = columns.BigInt()
    # Order among the users who joined in the same call (same joined_at): the order they were given.
    join_order = columns.Integer()
    removed_at = columns.BigInt()
    updated_at = columns.BigInt()


class RoomsByUser(Model):
    """rooms_by_user: a user's participations, keyed by user (GetRooms, room ids, InitialSync).

    Not clustered by last_message_at: that would rewrite every member's row on every message. GetRooms
    reads the user's partition and the rooms' details and sorts in memory (bounded by the user's rooms).
    """

    __table_name__ = "rooms_by_user"
    user_id = columns.BigInt(partition_key=True)
    room_id = columns.UUID(primary_key=True)
    room_type = columns.Text()
    is_pinned = columns.Boolean()
    joined_at = columns.BigInt()
    removed_at = columns.BigInt()
    updated_at = columns.BigInt()
    room_deleted = columns.Boolean()
    # Joined again after leaving: messages from before joined_at may have been sent to the user.
    rejoined = columns.Boolean()


class DeletedRoomsByUser(Model):
    """deleted_rooms_by_user: rooms a user left or that were deleted, and when (InitialSync)."""

    __table_name__ = "deleted_rooms_by_user"
    user_id = columns.BigInt(partition_key=True)
    room_id = columns.UUID(primary_key=True)
    gone_at = columns.BigInt()


# --- messages ------------------------------------------------------------------------------------


class MessagesByRoom(Model):
    """messages_by_room: a room's messages per month, newest first (timeuuid of created_at)."""

    __table_name__ = "messages_by_room"
    room_id = columns.UUID(partition_key=True)
    bucket = columns.Integer(partition_key=True)
    message_tid = columns.TimeUUID(primary_key=True, clustering_order="DESC")
    message_id = columns.UUID()
    sender_id = columns.BigInt()
    type = columns.Text()
    content = columns.Text()
    text = columns.Text()
    event = columns.Text()
    sender_message_id = columns.Text()
    status = columns.Text()
    reply_to_id = columns.UUID()
    forwarded_from_id = columns.UUID()
    lifetime = columns.Integer()
    origin = columns.Text()
    location_name = columns.Text()
    location_latitude = columns.Double()
    location_longitude = columns.Double()
    contact_id = columns.Text()
    contact_name = columns.Text()
    contact_phone = columns.Text()
    file = columns.Text()
    audio_transcription = columns.Text()
    edited = columns.Boolean()
    is_deleted = columns.Boolean()
    deleted_at = columns.BigInt()
    created_at = columns.BigInt()
    updated_at = columns.BigInt()


class MessageBucketsByRoom(Model):
    """message_buckets_by_room: the months in which a room has messages (history walks only those)."""

    __table_name__ = "message_buckets_by_room"
    room_id = columns.UUID(partition_key=True)
    bucket = columns.Integer(primary_key=True, clustering_order="DESC")


class RoomByMessage(Model):
    """room_by_message: where a message lives in messages_by_room."""

    __table_name__ = "room_by_message"
    message_id = columns.UUID(primary_key=True)
    room_id = columns.UUID()
    bucket = columns.Integer()
    message_tid = columns.TimeUUID()


class MessageBySenderMessageId(Model):
    """message_by_sender_message_id: a sender's client id → the message; claimed with LWT (idempotent send)."""

    __table_name__ = "message_by_sender_message_id"
    sender_id = columns.BigInt(partition_key=True)
    sender_message_id = columns.Text(partition_key=True)
    message_id = columns.UUID()
    room_id = columns.UUID()
    claimed_at = columns.BigInt()


class MessageChangesByRoom(Model):
    """message_changes_by_room: edits and deletes of a room's messages, newest first (InitialSync)."""

    __table_name__ = "message_changes_by_room"
    room_id = columns.UUID(partition_key=True)
    changed_at = columns.BigInt(primary_key=True, clustering_order="DESC")
    message_id = columns.UUID(primary_key=True)


class MessageStatusByUser(Model):
    """message_status_by_user: one participant's meta of one message (read_at, deleted, sender blocked)."""

    __table_name__ = "message_status_by_user"
    user_id = columns.BigInt(partition_key=True)
    message_id = columns.UUID(partition_key=True)
    room_id = columns.UUID()
    read_at = columns.BigInt()
    is_deleted = columns.Boolean()
    is_sender_blocked = columns.Boolean()


class MessageStatusByMessage(Model):
    """message_status_by_message: every participant's meta of one message (deletes fan out from it)."""

    __table_name__ = "message_status_by_message"
    message_id = columns.UUID(partition_key=True)
    user_id = columns.BigInt(primary_key=True)
    room_id = columns.UUID()
    read_at = columns.BigInt()
    is_deleted = columns.Boolean()
    is_sender_blocked = columns.Boolean()


class MessagesSentToUser(Model):
    """messages_sent_to_user: the messages of a room a participant has a meta row of, by time. A
    re-joined member still sees what was sent to them before they left (history, sync)."""

    __table_name__ = "messages_sent_to_user"
    user_id = columns.BigInt(partition_key=True)
    room_id = columns.UUID(partition_key=True)
    message_tid = columns.TimeUUID(primary_key=True, clustering_order="DESC")
    message_id = columns.UUID()


class ReadReceiptsByMessage(Model):
    """read_receipts_by_message: who read a message, earliest first (GetMessageRead, the READ status)."""

    __table_name__ = "read_receipts_by_message"
    message_id = columns.UUID(partition_key=True)
    read_at = columns.BigInt(primary_key=True)
    user_id = columns.BigInt(primary_key=True)
    is_sender = columns.Boolean()


class UnreadByUser(Model):
    """unread_by_user: a participant's unread (and not hidden) messages of a room, by time: the exact
    unread state, written in the logged batch; MarkMessagesAsRead reads a range of it."""

    __table_name__ = "unread_by_user"
    user_id = columns.BigInt(partition_key=True)
    room_id = columns.UUID(partition_key=True)
    message_tid = columns.TimeUUID(primary_key=True)
    message_id = columns.UUID()


class UnreadCounters(Model):
    """unread_counters: a user's unread count per room (a counter: read in O(1) by room lists)."""

    __table_name__ = "unread_counters"
    user_id = columns.BigInt(partition_key=True)
    room_id = columns.UUID(primary_key=True)
    unread = columns.Counter()


class HiddenMessagesByUser(Model):
    """hidden_messages_by_user: messages a participant's meta hides (sender blocked, or deleted for them
    alone; a deleted message is no longer hidden but a tombstone, shown where deleted ones are wanted)."""

    __table_name__ = "hidden_messages_by_user"
    user_id = columns.BigInt(partition_key=True)
    room_id = columns.UUID(partition_key=True)
    message_id = columns.UUID(primary_key=True)


class ReactionsByMessage(Model):
    """reactions_by_message: one reaction per user per message."""

    __table_name__ = "reactions_by_message"
    message_id = columns.UUID(partition_key=True)
    user_id = columns.BigInt(primary_key=True)
    reaction = columns.Text()
    created_at = columns.BigInt()
    updated_at = columns.BigInt()


class MentionsByMessage(Model):
    """mentions_by_message: a message's mentions, in the order given (written with the message)."""

    __table_name__ = "mentions_by_message"
    message_id = columns.UUID(partition_key=True)
    position = columns.Integer(primary_key=True)
    user_id = columns.BigInt()
    tag = columns.Text()


# --- outbox --------------------------------------------------------------------------------------


class OutboxEvents(Model):
    """outbox_events: every event, by id (written in the unit of work's logged batch)."""

    __table_name__ = "outbox_events"
    event_id = columns.UUID(primary_key=True)
    event_tid = columns.TimeUUID()
    bucket = columns.Integer()
    subject = columns.Text()
    event_type = columns.Text()
    room_id = columns.Text()
    actor_user_id = columns.Text()
    data = columns.Text()  # the MessageEvent dict as JSON
    created_at = columns.BigInt()
    published_at = columns.BigInt()
    attempts = columns.Integer()
    next_attempt_at = columns.BigInt()
    last_error = columns.Text()


class OutboxPending(Model):
    """outbox_pending: unpublished events per minute of creation, oldest first; a row goes when its
    event is published."""

    __table_name__ = "outbox_pending"
    __options__ = QUEUE_OPTIONS
    bucket = columns.Integer(partition_key=True)
    event_tid = columns.TimeUUID(primary_key=True)
    event_id = columns.UUID()
    next_attempt_at = columns.BigInt()


class OutboxPendingBuckets(Model):
    """outbox_pending_buckets: the minutes that may still hold pending events (the relay scans only those)."""

    __table_name__ = "outbox_pending_buckets"
    __options__ = QUEUE_OPTIONS
    shard = columns.Integer(partition_key=True)
    bucket = columns.Integer(primary_key=True)


class OutboxPublished(Model):
    """outbox_published: published events per hour of publication (pruning deletes whole hours)."""

    __table_name__ = "outbox_published"
    __options__ = QUEUE_OPTIONS
    bucket = columns.Integer(partition_key=True)
    event_id = columns.UUID(primary_key=True)
    published_at = columns.BigInt()


class OutboxPublishedBuckets(Model):
    """outbox_published_buckets: the hours that hold published events not pruned yet."""

    __table_name__ = "outbox_published_buckets"
    __options__ = QUEUE_OPTIONS
    shard = columns.Integer(partition_key=True)
    bucket = columns.Integer(primary_key=True)


ALL_TABLES: tuple[type[Model], ...] = (
    RoomDetails,
    P2PRoomByUsers,
    ParticipantsByRoom,
    RoomsByUser,
    DeletedRoomsByUser,
    MessagesByRoom,
    MessageBucketsByRoom,
    RoomByMessage,
    MessageBySenderMessageId,
    MessageChangesByRoom,
    MessageStatusByUser,
    MessageStatusByMessage,
    MessagesSentToUser,
    ReadReceiptsByMessage,
    UnreadByUser,
    UnreadCounters,
    HiddenMessagesByUser,
    ReactionsByMessage,
    MentionsByMessage,
    OutboxEvents,
    OutboxPending,
    OutboxPendingBuckets,
    OutboxPublished,
    OutboxPublishedBuckets,
)
