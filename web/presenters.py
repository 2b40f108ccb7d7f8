"""What the templates show of a formatted Room / MessageData (the API's dicts, proto field names).

static/chat/chat.js renders live items with the same rules (systemText, previewOf, reactionSummary):
change both together.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

SYSTEM_TEXTS = {
    "new_member": "joined the group",
    "remove_member": "left the group",
    "new_name": "renamed the group",
    "new_photo": "changed the group photo",
}


def system_text(message: Mapping[str, Any]) -> str:
    """The line shown for a system message: its text ("Alice added Bob"), else who did what."""
    if message.get("text"):
        return str(message["text"])
    action = SYSTEM_TEXTS.get(message.get("event") or "", "updated the group")
    who = ((message.get("sender") or {}).get("name") or "").strip()
    return f"{who} {action}" if who else action[:1].upper() + action[1:]


def body_text(message: Mapping[str, Any]) -> str:
    """The text of a message as a bubble shows it."""
    if message.get("is_deleted"):
        return "This message was deleted"
    if message.get("type") == "system_message":
        return system_text(message)
    text = message.get("text") or ""
    if text:
        return str(text)
    if message.get("file"):
        return "📎 File"
    if message.get("location_name"):
        return f"📍 {message['location_name']}"
    if message.get("contact_name"):
        return f"👤 {message['contact_name']}"
    return ""


def preview_of(message: Mapping[str, Any] | None, *, me: str, room_type: str) -> str:
    """The last-message line of a room in the room list."""
    if not message:
        return ""
    body = body_text(message)
    if message.get("is_deleted") or message.get("type") == "system_message":
        return body
    sender = message.get("sender") or {}
    if sender.get("id") == me:
        return f"You: {body}"
    if room_type != "p2p" and sender.get("name"):
        return f"{sender['name']}: {body}"
    return body


def reaction_summary(message: Mapping[str, Any], *, me: str) -> list[dict[str, Any]]:
    """Reactions grouped by emoji, in order of first use: [{reaction, count, mine}]."""
    groups: OrderedDict[str, dict[str, Any]] = OrderedDict()
    for r in message.get("reactions") or []:
        emoji = r.get("reaction") or ""
        if not emoji:
            continue
        group = groups.setdefault(emoji, {"reaction": emoji, "count": 0, "mine": False})
        group["count"] += 1
        if ((r.get("user") or {}).get("id")) == me:
            group["mine"] = True
    return list(groups.values())


def message_view(message: Mapping[str, Any], *, me: str) -> dict[str, Any]:
    """The fields templates/chat/_message.html needs."""
    sender = message.get("sender") or {}
    return {
        "id": message.get("id") or "",
        "sender_id": sender.get("id") or "",
        "sender_name": sender.get("name") or "",
        "sender_message_id": message.get("sender_message_id") or "",
        "text": body_text(message),
        "status": message.get("status") or "SENT",
        "created_at": message.get("created_at") or "",
        "edited": bool(message.get("edited")),
        "is_deleted": bool(message.get("is_deleted")),
        "is_system": message.get("type") == "system_message",
        "own": bool(sender.get("id")) and sender.get("id") == me,
        "reactions": reaction_summary(message, me=me),
    }


def room_view(room: Mapping[str, Any], *, me: str) -> dict[str, Any]:
    """The fields templates/chat/_room_item.html needs."""
    last = room.get("last_message") or None
    name = room.get("name") or ("Direct chat" if room.get("type") == "p2p" else "Group")
    return {
        "id": room.get("id") or "",
        "name": name,
        "initial": name[:1].upper(),
        "type": room.get("type") or "",
        "is_pinned": bool(room.get("is_pinned")),
        "is_muted": bool(room.get("is_muted")),
        "unread_count": int(room.get("unread_count") or 0),
        "last_message_at": room.get("last_message_at") or "",
        "created_at": room.get("created_at") or "",
        "last_message_id": (last or {}).get("id") or "",
        "preview": preview_of(last, me=me, room_type=room.get("type") or ""),
    }
