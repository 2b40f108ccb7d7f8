"""Repository interface, part 2: messages, meta (read state), reactions, mentions.

Each method answers one question in a bounded number of round trips, whatever the number of ids it
is given, so that a query-first back end (Cassandra, SPEC.md §7) can answer each from one table:

| method(s)                                          | table of a query-first back end            |
|----------------------------------------------------|--------------------------------------------|
| message_create / messages_page / last_messages     | messages_by_room (room, timeuuid desc)     |
| message_get / messages_get_many                    | room_by_message + messages_by_room         |
| message_get_by_sender_message_id, message_create   | message_by_sender_message_id (LWT insert)  |
| metas_for_user, meta_mark_read, unread_counts      | message_status_by_user + unread counters   |
| messages_read_by_others, message_readers           | read_receipts_by_message                   |
| reactions_for, reactions_page, reaction_*          | reactions_by_message                       |
| mentions_for                                       | mentions stored with the message           |

The meta records below are the state of one message for one member, whichever way a back end keeps
it (`postgres`: membership periods, read watermarks and rows for hidden messages only). Visibility of a
message to a viewer: the viewer's meta row, if there is one, is not sender-blocked
and not deleted for the viewer alone (deleting a message marks all its meta rows deleted, so they
leave unread counts; such a message is a tombstone, shown only where deleted messages are wanted:
sync). History and last messages leave deleted messages out. A message of which the viewer has no
meta row (system messages; messages sent while the viewer was not a member) is visible if it was
created at or after the viewer's latest join.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Sequence
from datetime import datetime

from storage.records_messages import (
    MentionRecord,
    MessageRecord,
    MessageWindow,
    MetaRecord,
    ReactionRecord,
    StaffMessageQuery,
    SyncRooms,
)


class MessageStore(abc.ABC):
    # --- writes ----------------------------------------------------------------------------------

    @abc.abstractmethod
    def message_create(
        self,
        message: MessageRecord,
        *,
        hidden_for: Sequence[int] = (),
        mentions: Sequence[MentionRecord] = (),
    ) -> tuple[MessageRecord, bool]:
        """Stores a message with its mentions, all or nothing, and its read state: it is sent to the
        room's members of the moment (system messages to nobody), read by its sender, unread by the
        others, and hidden from the users in `hidden_for` (a p2p partner who blocked the sender). What
        that costs per member is the back end's: `postgres` writes nothing per member (watermarks).

        Idempotent by (sender_id, sender_message_id) when sender_message_id is not empty: if that
        pair exists (also when a concurrent unit of work stored it first), nothing is written and
        the existing message is returned with False. Otherwise the new message and True. Raises
        SenderMessageIdBusyError when a concurrent unit of work holds the pair and has not finished.
        """

    @abc.abstractmethod
    def message_edit(self, message_id: uuid.UUID, *, content: str, text: str, at: datetime) -> MessageRecord | None:
        """Replaces the content and text, sets `edited` and updated_at; the new record or None."""

    @abc.abstractmethod
    def message_touch(self, message_id: uuid.UUID, *, at: datetime) -> None:
        """Sets updated_at (the message changed otherwise, e.g. its reactions) so InitialSync sends it again."""

    @abc.abstractmethod
    def messages_soft_delete(self, message_ids: Sequence[uuid.UUID], *, at: datetime) -> None:
        """Marks the messages deleted (is_deleted, deleted_at, updated_at) and every meta row of them
        deleted, so they leave unread counts."""

    @abc.abstractmethod
    def room_last_message_replace(
        self, room_id: uuid.UUID, *, message_id: uuid.UUID | None, at: datetime | None
    ) -> None:
        """Sets the room's last message unconditionally, also backwards or to none (after deletes).
        A new message goes through RoomStore.room_last_message_set, which never moves backwards."""

    @abc.abstractmethod
    def reaction_set(self, message_id: uuid.UUID, user_id: int, reaction: str, *, at: datetime) -> None:
        """Creates or replaces the user's one reaction to the message."""

    @abc.abstractmethod
    def reaction_delete(self, message_id: uuid.UUID, user_id: int) -> bool:
        """Removes the user's reaction to the message; whether there was one."""

    @abc.abstractmethod
    def meta_mark_read(self, *, room_id: uuid.UUID, user_id: int, up_to: datetime, at: datetime) -> int:
        """Sets read_at=`at` on the user's unread meta rows of the room whose message was created at
        or before `up_to`; returns how many rows it marked."""

    # --- reads -----------------------------------------------------------------------------------

    @abc.abstractmethod
    def message_get(self, message_id: uuid.UUID) -> MessageRecord | None:
        """The message (deleted ones included), or None."""

    @abc.abstractmethod
    def messages_get_many(self, message_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, MessageRecord]:
        """The messages with these ids that exist (deleted ones included), by id."""

    @abc.abstractmethod
    def message_get_by_sender_message_id(self, sender_id: int, sender_message_id: str) -> MessageRecord | None: ...

    @abc.abstractmethod
    def messages_page(
        self, window: MessageWindow, *, limit: int, offset: int = 0, oldest_first: bool = False
    ) -> list[MessageRecord]:
        """A page of the window's messages, newest first (created_at desc, id desc), or oldest first."""

    @abc.abstractmethod
    def messages_count(self, window: MessageWindow) -> int:
        """How many messages the window holds."""

    @abc.abstractmethod
    def messages_for_staff(self, query: StaffMessageQuery) -> tuple[list[MessageRecord], int]:
        """One page of a room's messages as stored (deleted ones too, unless `query.deleted` says;
        nobody's visibility applies), newest first (created_at desc, id desc), and the total. `search`
        matches the text, ignoring case. For the admin only: with a search or a filter a query-first
        back end walks the room's whole timeline."""

    @abc.abstractmethod
    def messages_since(
        self, *, room_ids: Sequence[uuid.UUID], viewer_id: int, since: datetime, per_room: int
    ) -> dict[uuid.UUID, list[MessageRecord]]:
        """Per room, the newest `per_room` messages created or updated at or after `since` that are
        not hidden for the viewer by its meta, newest first. Deleted messages are included (their
        deletion is news); messages from before the viewer's latest join only if they were sent to the
        viewer (a meta row of theirs exists)."""

    @abc.abstractmethod
    def last_messages(self, room_ids: Sequence[uuid.UUID], *, viewer_id: int | None) -> dict[uuid.UUID, MessageRecord]:
        """Per room, the newest message visible to the viewer, or with viewer_id None the newest not
        deleted one (rooms without one are absent)."""

    @abc.abstractmethod
    def unread_counts(self, *, user_id: int, room_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        """Per room, the user's meta rows with read_at null that are neither deleted nor sender-blocked
        (every given room is present, 0 when none)."""

    @abc.abstractmethod
    def metas_for_user(self, message_ids: Sequence[uuid.UUID], user_id: int) -> dict[uuid.UUID, MetaRecord]:
        """The user's meta rows of these messages, by message id."""

    @abc.abstractmethod
    def messages_read_by_others(self, message_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Those of the messages that at least one user other than their sender has read."""

    @abc.abstractmethod
    def message_readers(
        self, message_id: uuid.UUID, *, exclude_user_id: int | None, limit: int, offset: int
    ) -> tuple[list[MetaRecord], int]:
        """The meta rows of the message with read_at set (earliest read first) and their total."""

    @abc.abstractmethod
    def reactions_for(self, message_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[ReactionRecord]]:
        """The reactions of each message (oldest first); messages without any are absent."""

    @abc.abstractmethod
    def reactions_page(self, message_id: uuid.UUID, *, limit: int, offset: int) -> tuple[list[ReactionRecord], int]:
        """A page of the message's reactions (oldest first) and their total."""

    @abc.abstractmethod
    def mentions_for(self, message_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[MentionRecord]]:
        """The mentions of each message; messages without any are absent."""

    @abc.abstractmethod
    def sync_rooms(self, *, user_id: int, since: datetime) -> SyncRooms:
        """Rooms the user is an active member of that changed (room, membership or last message) at
        or after `since`, and rooms the user left or that were deleted at or after `since`."""

    def rooms_gone_since(self, *, user_id: int, since: datetime) -> list[uuid.UUID]:
        """sync_rooms' gone_room_ids alone (a stream's reconnect asks it); a back end may answer it
        without working out the changed rooms."""
        return self.sync_rooms(user_id=user_id, since=since).gone_room_ids
