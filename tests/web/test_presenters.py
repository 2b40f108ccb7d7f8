"""What the pages show of messages and rooms (chat.js applies the same rules to live items)."""

from __future__ import annotations

from web.presenters import body_text, message_view, preview_of, reaction_summary, room_view


def _message(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "m1",
        "sender": {"id": "2", "name": "Bob"},
        "text": "hi",
        "type": "user_message",
        "status": "SENT",
        "created_at": "2026-01-01T10:00:00+00:00",
        "reactions": [],
    }
    base.update(fields)
    return base


def test_body_text_of_deleted_system_and_attachment_messages() -> None:
    assert body_text(_message(is_deleted=True, text="secret")) == "This message was deleted"
    assert body_text(_message(type="system_message", event="new_member", text="Alice added Bob")) == "Alice added Bob"
    assert body_text(_message(type="system_message", event="new_name", text="")) == "Bob renamed the group"
    assert body_text(_message(text="", file="https://x/y.png")) == "📎 File"


def test_preview_names_the_sender_in_groups_only() -> None:
    assert preview_of(_message(), me="1", room_type="group") == "Bob: hi"
    assert preview_of(_message(), me="1", room_type="p2p") == "hi"
    assert preview_of(_message(), me="2", room_type="group") == "You: hi"
    assert preview_of(None, me="1", room_type="group") == ""


def test_reactions_are_grouped_with_the_viewers_own_marked() -> None:
    reactions = [
        {"reaction": "👍", "user": {"id": "1"}},
        {"reaction": "❤️", "user": {"id": "3"}},
        {"reaction": "👍", "user": {"id": "3"}},
    ]

    assert reaction_summary(_message(reactions=reactions), me="1") == [
        {"reaction": "👍", "count": 2, "mine": True},
        {"reaction": "❤️", "count": 1, "mine": False},
    ]


def test_message_and_room_views() -> None:
    view = message_view(_message(edited=True), me="2")
    assert view["own"] is True and view["edited"] is True and view["text"] == "hi"

    room = room_view(
        {"id": "r1", "name": "", "type": "p2p", "unread_count": 3, "is_pinned": True, "last_message": _message()},
        me="1",
    )
    assert room["name"] == "Direct chat" and room["initial"] == "D"
    assert room["unread_count"] == 3 and room["is_pinned"] is True and room["preview"] == "hi"
