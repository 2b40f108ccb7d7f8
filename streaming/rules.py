"""The per-connection rules of the stream (SPEC.md §5), kept out of the consumer.

- `StreamCursor`: what a connection delivered, per subject: drops duplicates (by sequence and by
  event id) and spots gaps (an event whose `prev` is newer than the last one delivered on its
  subject), so the consumer can replay the gap from JetStream first.
- `event_action()`: what a connection does with an event: drop it (no room_id; a `status_update`
  SENT that is not this user's), send it, attach the room as this user sees it (`is_room_updated`,
  `room_join`), start streaming a room (`room_join` of this user), stop streaming one (`room_leave`
  of this user).
- `replay_visible()`: which replayed events the user may see (membership read off the replay).
- `update_visibility()`: whether an `update_message` (an edit, a reaction: the whole message) may
  reach the user, by the rule REST applies (domain.access.is_visible): decided from the event and
  the user's membership where that suffices, else the connection asks the database.
The rules read an event's routing view (streaming.envelope.routing_view), never its frame's text.
Typing frames: streaming/typing_indicator.py.
"""

from __future__ import annotations

import enum
from array import array
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from events.subjects import is_room_subject
from kernel.shapes import Room
from streaming.envelope import UPDATE_MESSAGE_KIND, StreamItem, frame_text_with_room

# Event ids a connection remembers to drop a duplicate its subject's sequence does not reveal (an
# event outside its subject's chain, a republish stored twice): the last ones only, as 64-bit hashes
# in a ring allocated at connect (1 KiB a connection, flat from the first event on). As a dict of the
# ids, 4,096 of them made a thousand busy sockets hold 400 MB, and 128 still grew daphne by ~7 MB
# over the soak benchmark's ten minutes (the dict filling, at a third of an event per second a socket).
RECENT_EVENT_IDS = 128


class Verdict(enum.Enum):
    DELIVER = "deliver"
    DUPLICATE = "duplicate"
    GAP = "gap"


@dataclass(frozen=True)
class Check:
    verdict: Verdict
    # For GAP: the last sequence delivered on the subject; the events after it and before the item's
    # sequence are missing.
    after: int = 0


class StreamCursor:
    """Per-connection delivery state (see the module docstring).

    `floor`: every event up to this stream sequence is either delivered or not meant for the
    connection (the stream's end when it connected, or the end of its cursor replay); None when it
    is unknown (NATS was unreachable), which turns gap detection off for subjects not seen yet.
    The recent event ids are kept as hashes (str's hash: a false match has odds of 2**-64 per id).
    """

    __slots__ = ("floor", "_last", "_recent", "_next", "cursor")

    def __init__(self, floor: int | None) -> None:
        self.floor = floor
        self._last: dict[str, int] = {}
        self._recent = array("q", bytes(8 * RECENT_EVENT_IDS))  # a ring: _next is the oldest slot
        self._next = 0
        self.cursor = floor or 0

    def last_for(self, subject: str) -> int | None:
        return self._last.get(subject, self.floor)

    def check(self, item: StreamItem) -> Check:
        if not item.chained:  # outside its subject's chain: only its event id tells a duplicate
            return Check(Verdict.DUPLICATE if self._seen(item) else Verdict.DELIVER)
        last = self.last_for(item.subject)
        if last is not None and item.seq <= last:
            return Check(Verdict.DUPLICATE)
        if self._seen(item):
            return Check(Verdict.DUPLICATE)  # a republish JetStream stored twice (outside its window)
        if last is not None and item.prev is not None and item.prev > last:
            return Check(Verdict.GAP, after=last)
        return Check(Verdict.DELIVER)

    def _seen(self, item: StreamItem) -> bool:
        event_id = str(item.view.get("event_id") or "")
        return bool(event_id) and _id_hash(event_id) in self._recent

    def mark(self, item: StreamItem) -> None:
        """Records the item as handled (sent or dropped by the rules: either way not to be replayed)."""
        if item.chained and item.seq > self._last.get(item.subject, 0):
            self._last[item.subject] = item.seq
        self.cursor = max(self.cursor, item.seq)
        event_id = str(item.view.get("event_id") or "")
        if event_id:
            self._recent[self._next] = _id_hash(event_id)
            self._next = (self._next + 1) % RECENT_EVENT_IDS

    def start_subject(self, subject: str, after: int) -> None:
        """A subject joins the connection at `after`: earlier events on it are not for it."""
        self._last[subject] = max(self._last.get(subject, 0), after)


def _id_hash(event_id: str) -> int:
    """A non-empty id's hash, never 0 (the ring's empty slots)."""
    return hash(event_id) or 1


class Action(enum.Enum):
    DROP = "drop"
    SEND = "send"
    ATTACH_ROOM = "attach_room"  # is_room_updated: send with the room as this user sees it
    JOIN = "join"  # room_join: attach the room; start streaming it if this user joined or added
    LEAVE = "leave"  # room_leave: send; stop streaming the room if this user left


def event_action(*, event: dict[str, Any], actor_user_id: str, user_id: int | str) -> Action:
    """What a connection of `user_id` does with `event` (SPEC.md §5, "Per delivered event")."""
    if not event.get("room_id"):
        return Action.DROP
    me = str(user_id)
    if "room_join" in event:
        return Action.JOIN
    if "is_room_updated" in event:
        return Action.ATTACH_ROOM
    if "status_update" in event:
        update = event["status_update"] or {}
        if update.get("status") == "SENT" and str(update.get("sender_id") or "") != me:
            return Action.DROP
        return Action.SEND
    if "room_leave" in event:
        return Action.LEAVE
    if "connected" in event:
        return Action.DROP  # never published; the connection sends its own
    return Action.SEND


def joins_streaming(*, event: dict[str, Any], actor_user_id: str, user_id: int | str) -> bool:
    """room_join: the connection starts streaming the room when this user joined or added someone."""
    joiner = str((event.get("room_join") or {}).get("user_id") or "")
    return str(user_id) in (joiner, str(actor_user_id))


def leaves_streaming(*, event: dict[str, Any], user_id: int | str) -> bool:
    return str(user_id) in [str(u) for u in (event.get("room_leave") or {}).get("users_id") or []]


def frame_text_of(item: StreamItem, *, room: Room | None = None) -> str:
    """The socket frame's text of an event: as the bridge encoded it, or with the room attached."""
    return item.text if room is None else frame_text_with_room(item.text, room)


def error_frame(code: str, message: str, details: str = "") -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def _membership_change(event: dict[str, Any], user_id: str) -> bool | None:
    """True: the event makes `user_id` a member of its room; False: removes them; None: neither."""
    if "room_join" in event and str((event.get("room_join") or {}).get("user_id") or "") == user_id:
        return True
    if "room_leave" in event and leaves_streaming(event=event, user_id=user_id):
        return False
    return None


def replay_visible(items: list[StreamItem], *, user_id: int | str, left_room_ids: Collection[str] = ()) -> list[bool]:
    """Which replayed events the user may see. A replay covers the rooms the user is a member of now,
    and the rooms in `left_room_ids` that the user left recently, from the cursor on: the events of a
    room from before the user joined it, after the user left it, or between leaving and re-joining,
    are not theirs. Membership changes are read off the replay itself, in order; a left room whose
    leave is not in the replay was left before the cursor, so none of its events are the user's."""
    me = str(user_id)
    left = {str(room) for room in left_room_ids}
    member: dict[str, bool] = {}
    for item in items:  # a room whose first change is a join was not the user's before it
        change = _membership_change(item.view, me)
        room = str(item.view.get("room_id") or "")
        if change is not None and room not in member:
            member[room] = not change
    visible: list[bool] = []
    for item in items:
        room = str(item.view.get("room_id") or "")
        change = _membership_change(item.view, me)
        if change is True:
            member[room] = True
        visible.append(not is_room_subject(item.subject) or member.get(room, room not in left) or change is False)
        if change is False:
            member[room] = False
    return visible


@dataclass(frozen=True, slots=True)
class Membership:
    """A user's current participation in a room, as update_visibility() reads it."""

    joined_at: datetime
    is_p2p: bool


class Visibility(enum.Enum):
    VISIBLE = "visible"
    ASK = "ask"  # the event alone does not tell: ask the database (domain.access.message_access)


def update_visibility(view: dict[str, Any], *, user_id: int | str, membership: Membership | None) -> Visibility:
    """Whether an event's message may reach the user (events other than update_message: VISIBLE).

    REST shows an active member a message created at or after their latest join, and an older one
    only if it was sent to them (an earlier membership), never one hidden for them (in p2p, sent
    while they blocked its sender). So: their own messages, and in a group a message created since
    their join, are VISIBLE; anything else (p2p, older messages, an event without the fields, no
    known membership) is ASK: a database look-up, rare on the live path.
    """
    update = view.get(UPDATE_MESSAGE_KIND)
    if update is None:
        return Visibility.VISIBLE
    if not isinstance(update, dict):
        return Visibility.ASK
    if str((update.get("sender") or {}).get("id") or "") == str(user_id):
        return Visibility.VISIBLE
    if membership is None or membership.is_p2p:
        return Visibility.ASK
    try:
        created_at = datetime.fromisoformat(str(update.get("created_at") or "").replace("Z", "+00:00"))
    except ValueError:
        return Visibility.ASK
    if created_at.tzinfo is None or created_at < membership.joined_at:
        return Visibility.ASK
    return Visibility.VISIBLE
