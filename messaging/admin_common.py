"""What the admin pages of both back ends share: room labels and the confirmation step of actions.

Here, not in rooms, because the message pages need them too and rooms imports messaging, not the
other way round.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from storage import get_repository
from storage.records import RoomRecord

# How many member names label a room without a name (the rest are "…").
LABEL_MEMBERS = 3
# The selected items an action's confirmation page names one by one (the rest are counted).
CONFIRM_LISTED = 50


def room_label(name: str, member_names: Sequence[str], *, more: bool = False) -> str:
    """A room as staff recognise it: its name, else its members ("Ann & Bob", "Ann, Bob, Cy, …")."""
    if name:
        return name
    if not member_names:
        return "(no members left)"
    if len(member_names) == 2 and not more:
        return " & ".join(member_names)
    return ", ".join(member_names) + (", …" if more else "")


def room_labels(rooms: Sequence[RoomRecord]) -> dict[uuid.UUID, str]:
    """The labels of these rooms, their members read in one bulk call (nobody's own row: viewer 0)."""
    unnamed = [r.id for r in rooms if not r.name]
    previews = get_repository().participants_preview(unnamed, viewer_id=0, limit=LABEL_MEMBERS + 1)
    labels: dict[uuid.UUID, str] = {}
    for room in rooms:
        names = [p.user.name for p in previews.get(room.id, [])]
        labels[room.id] = room_label(room.name, names[:LABEL_MEMBERS], more=len(names) > LABEL_MEMBERS)
    return labels


@dataclass(frozen=True)
class Selected:
    """One item an action is about to change: the value posted back and what the page calls it."""

    value: str
    label: str


def is_confirmed(request: HttpRequest) -> bool:
    """Whether the POST comes from the confirmation page (as Django's own delete action does it)."""
    return request.POST.get("post") == "yes"


def confirm_action(
    request: HttpRequest,
    modeladmin: admin.ModelAdmin[Any],
    *,
    action: str,
    description: str,
    selected: Sequence[Selected],
    post_to: str = "",
) -> TemplateResponse:
    """The page that says what `action` will do to the `selected` items and posts it back confirmed."""
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Are you sure?",
        "opts": modeladmin.opts,
        "action": action,
        "description": description,
        "selected": selected,
        "listed": selected[:CONFIRM_LISTED],
        "unlisted": max(len(selected) - CONFIRM_LISTED, 0),
        "post_to": post_to,
    }
    return TemplateResponse(request, "admin/chat/confirm_action.html", context)
