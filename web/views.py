"""The chat pages. Thin: initial data comes from the same selectors as the REST API, rendered by
Django templates (autoescaped); every action on a page goes through the REST API from
static/chat/chat.js with the session cookie and the CSRF token.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from domain.access import room_access
from domain.permissions import has_member_permission, is_manager
from kernel.errors import NotFound
from kernel.pagination import Page
from kernel.request import user_id_of
from kernel.shapes import MessageData
from messaging import selectors as message_selectors
from rooms import selectors as room_selectors
from web import presenters
from web.selectors import display_name, users_for_picker

ROOM_LIST_LIMIT = 50
HISTORY_LIMIT = 30
SEARCH_MAX_LENGTH = 100
_ROOM_URL_PLACEHOLDER = uuid.UUID(int=0)


def _page_config(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    """What chat.js needs to know, embedded with json_script (never in inline script source)."""
    user = request.user
    config: dict[str, Any] = {
        "me": str(user.pk),
        "me_name": display_name(user),
        "api": "/api/chat/v1/",
        "ws_path": "/ws/chat/v1/stream",
        "room_url": reverse("chat:room", args=[_ROOM_URL_PLACEHOLDER]).replace(str(_ROOM_URL_PLACEHOLDER), "{id}"),
        "rooms_url": reverse("chat:rooms"),
        "users_url": reverse("chat:users"),
        "login_url": reverse(settings.LOGIN_URL),
        "heartbeat_seconds": settings.CHAT_STREAM_HEARTBEAT_SECONDS,
    }
    config.update(extra)
    return config


def _search_param(request: HttpRequest, name: str) -> str:
    return request.GET.get(name, "").strip()[:SEARCH_MAX_LENGTH]


@login_required
@require_GET
def room_list(request: HttpRequest) -> HttpResponse:
    """The user's rooms: pinned first, unread badges, last-message previews; live updates by chat.js."""
    me = str(user_id_of(request))
    search = _search_param(request, "search")
    rooms, total = room_selectors.room_list(
        user_id=user_id_of(request), page=Page(page=1, limit=ROOM_LIST_LIMIT), search=search
    )
    context = {
        "rooms": [presenters.room_view(r, me=me) for r in rooms],
        "total": total,
        "search": search,
        "config": _page_config(request, page="rooms", search=search),
    }
    return render(request, "chat/room_list.html", context)


@login_required
@require_GET
def room_create(request: HttpRequest) -> HttpResponse:
    """The create-room form: p2p with one user, or a group with a name and members (posted by chat.js)."""
    search = _search_param(request, "q")
    context = {
        "users": users_for_picker(viewer_id=user_id_of(request), search=search),
        "q": search,
        "room_type": "group" if request.GET.get("type") == "group" else "p2p",
        "config": _page_config(request, page="create"),
    }
    return render(request, "chat/room_create.html", context)


@login_required
@require_GET
def room_detail(request: HttpRequest, room_id: uuid.UUID) -> HttpResponse:
    """One room: the newest history page, the send box, participants; live over the WebSocket."""
    me = str(user_id_of(request))
    try:
        record, participant = room_access(room_id=room_id, user_id=user_id_of(request))
        room = room_selectors.room_for_user(room_id=room_id, user_id=user_id_of(request))
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    messages = _history_first_page(room_id=room_id, user_id=user_id_of(request))
    permissions = {
        "can_send": has_member_permission(record, participant, "send_message"),
        "can_add": record.is_group and has_member_permission(record, participant, "add_member"),
        "can_remove": record.is_group and is_manager(participant),
    }
    room_config = {
        "id": str(room_id),
        "type": room.get("type", ""),
        "role": room.get("role", ""),
        "is_muted": bool(room.get("is_muted")),
        "is_pinned": bool(room.get("is_pinned")),
        "is_partner_blocked": bool(room.get("is_partner_blocked")),
        **permissions,
    }
    context = {
        "room": presenters.room_view(room, me=me),
        "room_raw": room,
        "messages": [presenters.message_view(m, me=me) for m in reversed(messages)],
        "has_older": len(messages) >= HISTORY_LIMIT,
        "perms": permissions,
        "config": _page_config(request, page="room", room=room_config, page_size=HISTORY_LIMIT),
    }
    return render(request, "chat/room.html", context)


def _history_first_page(*, room_id: uuid.UUID, user_id: int) -> list[MessageData]:
    """The newest HISTORY_LIMIT messages of the room for the user, newest first (GetMessageHistory's code path)."""
    items, _total = message_selectors.message_history(
        room_id=room_id, user_id=user_id, query=message_selectors.HistoryQuery(page=Page(page=1, limit=HISTORY_LIMIT))
    )
    return items


@login_required
@require_GET
def users_search(request: HttpRequest) -> JsonResponse:
    """The user picker's data for chat.js (adding members): {"items": [{id, name, username}]}."""
    users = users_for_picker(viewer_id=user_id_of(request), search=_search_param(request, "q"), limit=20)
    return JsonResponse({"items": [{"id": str(u.id), "name": u.name, "username": u.username} for u in users]})
