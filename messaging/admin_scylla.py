"""The Messages entry of the admin when CHAT_STORAGE=scylla: a room's messages through the repository.

A ModelAdmin over the Django Message model (whose table is empty on this back end) with its views
replaced, for the entry in the chat section, its permissions and URL names (see rooms/admin_scylla.py).
Messages are kept per room on this back end, so the list is one room's (`room__id__exact`, the
parameter of the postgres list's room filter), newest first, searched on the stored text.
Moderation is messages_moderate_delete, as on postgres.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from kernel.request import user_id_of
from messaging.admin_common import Selected, confirm_action, is_confirmed, room_labels
from messaging.services import messages_moderate_delete
from storage import get_repository
from storage.models import Message
from storage.records_messages import MessageRecord, StaffMessageQuery

MODERATE_DELETE = (
    "Delete the selected messages for everyone: they leave the room history and the unread counts, "
    "and the members get a delete_message event"
)
DELETED_CHOICES = (("", "All"), ("0", "No"), ("1", "Yes"))


def short_text(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


class RepositoryMessageAdmin(admin.ModelAdmin[Message]):
    list_per_page = 100
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # messages are written by SendMessage only

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        return bool(
            request.user.is_active
            and request.user.is_staff
            and request.user.has_perm(f"{self.opts.app_label}.delete_message")
        )

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("", wrap(self.changelist_view), name=f"{name}_changelist"),
            path("add/", wrap(self.add_view), name=f"{name}_add"),  # refused: has_add_permission
            path("<uuid:message_id>/change/", wrap(self.message_view), name=f"{name}_change"),
        ]

    def _context(self, request: HttpRequest, title: str) -> dict[str, Any]:
        return {**self.admin_site.each_context(request), "opts": self.opts, "title": title}

    def _names(self, found: list[MessageRecord]) -> dict[int, str]:
        users = get_repository().users_get({m.sender_id for m in found if m.sender_id is not None})
        return {user_id: user.name for user_id, user in users.items()}

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """One room's messages (`room__id__exact`), newest first; `q` searches the text, `is_deleted__exact`
        filters (0/1), `p` pages (from 1)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            return self._moderate(request)
        context = self._context(request, "Messages")
        try:
            room_id = uuid.UUID(request.GET.get("room__id__exact", ""))
        except ValueError:
            return TemplateResponse(request, "admin/chat/repository/message_list.html", {**context, "room": None})
        room = get_repository().room_get(room_id)
        if room is None:
            raise Http404("No such room, or it is deleted.")
        search = request.GET.get("q", "").strip()
        deleted = request.GET.get("is_deleted__exact", "")
        try:
            page = max(int(request.GET.get("p", "1")), 1)
        except ValueError:
            page = 1
        query = StaffMessageQuery(
            room_id=room_id,
            offset=(page - 1) * self.list_per_page,
            limit=self.list_per_page,
            search=search,
            deleted={"1": True, "0": False}.get(deleted),
        )
        found, total = get_repository().messages_for_staff(query)
        names = self._names(found)
        context.update(
            {
                "title": f"Messages of {room_labels([room])[room.id]}",
                "room": room,
                "rows": [(m, names.get(m.sender_id or 0, "system"), short_text(m.text)) for m in found],
                "result_count": total,
                "search": search,
                "deleted": deleted,
                "deleted_choices": DELETED_CHOICES,
                "page": page,
                "has_next": page * self.list_per_page < total,
                "moderate_description": MODERATE_DELETE,
                "can_moderate": self.has_moderate_permission(request),
            }
        )
        return TemplateResponse(request, "admin/chat/repository/message_list.html", context)

    def _moderate(self, request: HttpRequest) -> HttpResponse:
        if not self.has_moderate_permission(request):
            raise PermissionDenied
        try:
            message_ids = [uuid.UUID(v) for v in request.POST.getlist("_selected_action")]
        except ValueError:
            message_ids = []
        found = [m for m in get_repository().messages_get_many(message_ids).values() if not m.is_deleted]
        if request.POST.get("action") != "soft_delete_messages" or not found:
            self.message_user(request, "Choose the action and at least one message not deleted yet.", messages.WARNING)
            return HttpResponseRedirect(request.get_full_path())
        if not is_confirmed(request):
            names = self._names(found)
            selected = [
                Selected(str(m.id), f"{names.get(m.sender_id or 0, 'system')}: {short_text(m.text)}") for m in found
            ]
            return confirm_action(
                request, self, action="soft_delete_messages", description=MODERATE_DELETE, selected=selected
            )
        result = messages_moderate_delete(moderator_id=user_id_of(request), message_ids=[m.id for m in found])
        self.message_user(request, f"{len(result.deleted_ids)} message(s) deleted for everyone.", messages.SUCCESS)
        return HttpResponseRedirect(request.get_full_path())

    def message_view(self, request: HttpRequest, message_id: uuid.UUID) -> HttpResponse:
        """One message, read only, with its reactions and mentions."""
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        repo = get_repository()
        message = repo.message_get(message_id)
        if message is None:
            raise Http404("No such message.")
        reactions = repo.reactions_for([message.id]).get(message.id, [])
        mentions = repo.mentions_for([message.id]).get(message.id, [])
        users = repo.users_get(
            {r.user_id for r in reactions} | {m.user_id for m in mentions} | {message.sender_id or 0}
        )
        room = repo.room_get(message.room_id)
        context = {
            **self._context(request, f"Message {message.id}"),
            "message": message,
            "room_label": room_labels([room])[room.id] if room else "(deleted room)",
            "fields": [(f.name, getattr(message, f.name)) for f in dataclasses.fields(message)],
            "sender": users[message.sender_id].name if message.sender_id in users else "system",
            "reactions": [(users[r.user_id].name if r.user_id in users else r.user_id, r) for r in reactions],
            "mentions": [(users[m.user_id].name if m.user_id in users else m.user_id, m) for m in mentions],
            "moderate_description": MODERATE_DELETE,
            "can_moderate": self.has_moderate_permission(request) and not message.is_deleted,
        }
        return TemplateResponse(request, "admin/chat/repository/message_detail.html", context)
