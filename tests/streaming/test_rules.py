"""The per-connection rules and the delivery bookkeeping, without any server."""

from __future__ import annotations

from datetime import UTC, datetime

from streaming.envelope import StreamItem, route, routing_view
from streaming.rules import (
    RECENT_EVENT_IDS,
    Action,
    Membership,
    StreamCursor,
    Verdict,
    Visibility,
    event_action,
    joins_streaming,
    leaves_streaming,
    replay_visible,
    update_visibility,
)

ROOM = "r1"
SUBJECT = f"CHAT_EVENTS.{ROOM}"


def stored(subject: str, seq: int, prev: int | None, event: dict, *, chained: bool = True) -> StreamItem:
    return StreamItem.of_event(subject=subject, seq=seq, prev=prev, actor_user_id="9", event=event, chained=chained)


def item(seq: int, prev: int | None, event: dict, *, subject: str = SUBJECT, chained: bool = True) -> StreamItem:
    return stored(subject, seq, prev, {"event_id": f"e{seq}", "room_id": ROOM, **event}, chained=chained)


def test_event_actions_follow_the_original_rules() -> None:
    def action(event: dict, user: int = 1) -> Action:
        return event_action(event={"room_id": ROOM, **event}, actor_user_id="9", user_id=user)

    assert event_action(event={"room_id": "", "message": {}}, actor_user_id="9", user_id=1) is Action.DROP
    assert action({"message": {"id": "m"}}) is Action.SEND
    assert action({"status_update": {"status": "SENT", "sender_id": "1"}}) is Action.SEND
    assert action({"status_update": {"status": "SENT", "sender_id": "2"}}) is Action.DROP
    assert action({"status_update": {"status": "READ", "sender_id": "2"}}) is Action.SEND
    assert action({"is_room_updated": True}) is Action.ATTACH_ROOM
    assert action({"room_join": {"user_id": "3"}}) is Action.JOIN
    assert action({"room_leave": {"users_id": ["3"]}}) is Action.LEAVE
    assert action({"typing": {"user_id": "2"}}) is Action.SEND
    assert action({"delete_message": "m"}) is Action.SEND
    assert joins_streaming(event={"room_join": {"user_id": "1"}}, actor_user_id="9", user_id=1)
    assert joins_streaming(event={"room_join": {"user_id": "3"}}, actor_user_id="1", user_id=1)
    assert not joins_streaming(event={"room_join": {"user_id": "3"}}, actor_user_id="9", user_id=1)
    assert leaves_streaming(event={"room_leave": {"users_id": ["3", "1"]}}, user_id=1)
    assert not leaves_streaming(event={"room_leave": {"users_id": ["3"]}}, user_id=1)


def test_sent_statuses_go_to_their_sender_only_outside_the_rooms_chain() -> None:
    sent = {"status_update": {"status": "SENT", "sender_id": "7"}}
    read = {"status_update": {"status": "READ", "sender_id": "7"}}
    assert route(SUBJECT, sent) == ("user.7", False)
    assert route(SUBJECT, read) == (f"room.{ROOM}", True)
    assert route(SUBJECT, {"message": {}}) == (f"room.{ROOM}", True)
    assert route("CHAT_DIRECT_EVENTS.7", {"room_join": {}}) == ("user.7", True)
    assert route("ELSEWHERE.x", {"message": {}}) == (None, True)


def test_the_cursor_drops_duplicates_and_spots_gaps_per_subject() -> None:
    cursor = StreamCursor(floor=10)
    old = item(9, 8, {"message": {}})
    assert cursor.check(old).verdict is Verdict.DUPLICATE  # before the connection
    first = item(12, 5, {"message": {}})
    assert cursor.check(first).verdict is Verdict.DELIVER  # prev 5 <= floor: nothing missed
    cursor.mark(first)
    assert cursor.check(first).verdict is Verdict.DUPLICATE
    gap = item(15, 14, {"message": {}})
    check = cursor.check(gap)
    assert check.verdict is Verdict.GAP and check.after == 12
    other = item(16, 3, {"message": {}}, subject="CHAT_EVENTS.r2")
    assert cursor.check(other).verdict is Verdict.DELIVER
    # An off-chain SENT status is told apart by its event id only and leaves the chain alone.
    sent = item(13, None, {"status_update": {"status": "SENT"}}, chained=False)
    assert cursor.check(sent).verdict is Verdict.DELIVER
    cursor.mark(sent)
    assert cursor.check(sent).verdict is Verdict.DUPLICATE
    assert cursor.last_for(SUBJECT) == 12
    # The same event stored twice (a republish outside JetStream's window) is dropped by id.
    again = stored(SUBJECT, 20, 12, {"event_id": "e12", "room_id": ROOM})
    assert cursor.check(again).verdict is Verdict.DUPLICATE


def test_without_a_known_floor_new_subjects_are_accepted_as_they_come() -> None:
    cursor = StreamCursor(floor=None)
    assert cursor.check(item(50, 49, {"message": {}})).verdict is Verdict.DELIVER


def test_a_replay_hides_a_room_before_the_user_joined_and_after_they_left() -> None:
    me = "1"
    items = [
        item(1, None, {"message": {"id": "before join"}}),
        stored("CHAT_DIRECT_EVENTS.1", 2, None, {"room_id": ROOM, "room_join": {"user_id": me}}),
        item(3, 1, {"message": {"id": "member"}}),
        item(4, 3, {"room_leave": {"users_id": [me]}}),
        item(5, 4, {"message": {"id": "after leaving"}}),
        item(6, 5, {"room_join": {"user_id": me}}),
        item(7, 6, {"message": {"id": "back"}}),
        stored("CHAT_EVENTS.r2", 8, None, {"room_id": "r2", "message": {"id": "other room"}}),
    ]
    assert replay_visible(items, user_id=1) == [False, True, True, True, False, True, True, True]


def test_a_connection_remembers_only_its_last_event_ids_and_still_drops_their_duplicates() -> None:
    """A busy socket's memory is fixed at connect (the soak benchmark's daphne grew with every event)."""
    cursor = StreamCursor(floor=0)
    size = cursor._recent.buffer_info()[1]
    for seq in range(1, 2001):
        cursor.mark(stored(SUBJECT, seq, seq - 1, {"event_id": f"event-{seq}", "room_id": ROOM}))
    assert cursor._recent.buffer_info()[1] == size == RECENT_EVENT_IDS
    # A copy of a recent event outside the chain (a republish stored again) is still a duplicate...
    copy = stored(SUBJECT, 2001, 2000, {"event_id": "event-2000", "room_id": ROOM})
    assert cursor.check(copy).verdict is Verdict.DUPLICATE
    oldest_kept = stored(SUBJECT, 2001, 2000, {"event_id": f"event-{2001 - RECENT_EVENT_IDS}", "room_id": ROOM})
    assert cursor.check(oldest_kept).verdict is Verdict.DUPLICATE
    # ...one older than the last RECENT_EVENT_IDS is not remembered, nor is a new one.
    forgotten = stored(SUBJECT, 2001, 2000, {"event_id": f"event-{2000 - RECENT_EVENT_IDS}", "room_id": ROOM})
    assert cursor.check(forgotten).verdict is Verdict.DELIVER
    assert cursor.check(stored(SUBJECT, 2001, 2000, {"event_id": "new", "room_id": ROOM})).verdict is Verdict.DELIVER


def test_an_event_without_an_id_is_never_taken_for_a_duplicate_by_its_id() -> None:
    cursor = StreamCursor(floor=0)
    unchained = stored(SUBJECT, 5, None, {"room_id": ROOM}, chained=False)  # the ring is all empty slots
    assert cursor.check(unchained).verdict is Verdict.DELIVER


def test_an_update_is_decided_from_the_event_where_it_can_be_and_asked_for_otherwise() -> None:
    joined = datetime(2026, 1, 2, 10, 0, tzinfo=UTC)

    def verdict(created_at: str, *, sender: str = "9", membership: Membership | None = None) -> Visibility:
        message = {"id": "m1", "created_at": created_at, "sender": {"id": sender, "name": "x"}, "text": "secret"}
        view = routing_view({"event_id": "e", "room_id": ROOM, "update_message": message})
        assert "text" not in view["update_message"]  # the rules never read the text
        return update_visibility(view, user_id=1, membership=membership)

    group = Membership(joined_at=joined, is_p2p=False)
    assert verdict("2026-01-02T10:00:01Z", membership=group) is Visibility.VISIBLE
    assert verdict("2026-01-02T09:59:59Z", membership=group) is Visibility.ASK  # before the join
    assert verdict("2026-01-02T09:59:59Z", sender="1", membership=group) is Visibility.VISIBLE  # own
    assert verdict("2026-01-02T10:00:01Z", membership=Membership(joined, is_p2p=True)) is Visibility.ASK
    assert verdict("2026-01-02T10:00:01Z", membership=None) is Visibility.ASK
    assert verdict("not a time", membership=group) is Visibility.ASK
    other = routing_view({"event_id": "e", "room_id": ROOM, "delete_message": "m1"})
    assert update_visibility(other, user_id=1, membership=None) is Visibility.VISIBLE
    # A view of a bridge of the previous release (update_message: True) is asked for.
    assert update_visibility({"update_message": True}, user_id=1, membership=group) is Visibility.ASK
