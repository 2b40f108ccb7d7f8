"""The Rooms entry of the admin when CHAT_STORAGE=scylla: rooms read through the repository.

A ModelAdmin over the Django Room model (whose table is empty on this back end) with its views
replaced: the model gives the entry in the chat section, its permissions and its URL names
(`admin:chat_room_changelist`, `admin:chat_room_change`), so pages, links and tests are the same on
both back ends, while every read is the repository's (rooms_for_staff, participants_active) and every
change a service's (rooms/admin_common.py).
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from messaging.admin_common import Selected, confirm_action, is_confirmed, room_labels
from rooms import admin_common as common
from rooms.admin_common import DELETE_ROOMS, PARTICIPANT_ACTIONS
from storage import get_repository
from storage.models import Room
from storage.records import RoomRecord, StaffRoomQuery

DELETED_CHOICES = (("", "All"), ("no", "No"), ("yes", "Yes"))
TYPE_CHOICES = (("", "All"), ("group", "group"), ("p2p", "p2p"))


class RoomForm(forms.Form):
    """The room's editable fields and its participant changes (field names as on postgres)."""

    name = forms.CharField(required=False, max_length=255)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    photo_url = forms.URLField(required=False, max_length=500, assume_scheme="https")
    send_message = forms.BooleanField(required=False, help_text="Members may send messages.")
    add_member = forms.BooleanField(required=False, help_text="Members may add people.")
    edit_group = forms.BooleanField(required=False, help_text="Members may change the name, description and photo.")

    def __init__(self, *args: Any, room: RoomRecord, **kwargs: Any) -> None:
        kwargs["initial"] = {f: getattr(room, f) for f in common.ROOM_EDITABLE_FIELDS}
        super().__init__(*args, **kwargs)
        self.fields["add_participants"] = common.add_participants_field()
        self.fields["remove_participants"] = common.remove_participants_field(room.id)


class RepositoryRoomAdmin(admin.ModelAdmin[Room]):
    list_per_page = 50
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rooms are created through CreateRoom (keys, roles, room_join events)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # DELETE_ROOMS: a soft delete through LeaveRoom

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("", wrap(self.changelist_view), name=f"{name}_changelist"),
            path("<uuid:room_id>/change/", wrap(self.room_view), name=f"{name}_change"),
            path("<uuid:room_id>/participants/", wrap(self.participants_view), name=f"{name}_participants"),
        ]

    def _context(self, request: HttpRequest, title: str) -> dict[str, Any]:
        return {**self.admin_site.each_context(request), "opts": self.opts, "title": title}

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """Rooms newest first; `q` searches names and members, `deleted` and `type` filter, `p` pages (from 1)."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            return self._delete_rooms(request)
        search = request.GET.get("q", "").strip()
        deleted = request.GET.get("deleted", "")
        room_type = request.GET.get("type__exact", "")
        try:
            page = max(int(request.GET.get("p", "1")), 1)
        except ValueError:
            page = 1
        query = StaffRoomQuery(
            offset=(page - 1) * self.list_per_page,
            limit=self.list_per_page,
            search=search,
            type=room_type if room_type in ("group", "p2p") else "",
            deleted={"yes": True, "no": False}.get(deleted),
        )
        rooms, total = get_repository().rooms_for_staff(query)
        labels = room_labels(rooms)
        context = {
            **self._context(request, "Rooms"),
            "rows": [(room, labels[room.id]) for room in rooms],
            "result_count": total,
            "search": search,
            "deleted": deleted,
            "room_type": room_type,
            "deleted_choices": DELETED_CHOICES,
            "type_choices": TYPE_CHOICES,
            "page": page,
            "has_next": page * self.list_per_page < total,
            "delete_description": DELETE_ROOMS,
            "can_change": self.has_change_permission(request),
        }
        return TemplateResponse(request, "admin/chat/repository/room_list.html", context)

    def _delete_rooms(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        try:
            room_ids = [uuid.UUID(v) for v in request.POST.getlist("_selected_action")]
        except ValueError:
            room_ids = []
        rooms = list(get_repository().rooms_get(room_ids).values())  # the live ones
        if request.POST.get("action") != "delete_rooms" or not rooms:
            self.message_user(request, "Choose the action and at least one room that is not deleted.", messages.WARNING)
            return HttpResponseRedirect(request.get_full_path())
        if not is_confirmed(request):
            labels = room_labels(rooms)
            selected = [Selected(str(r.id), labels[r.id]) for r in rooms]
            return confirm_action(request, self, action="delete_rooms", description=DELETE_ROOMS, selected=selected)
        common.rooms_delete(self, request, [r.id for r in rooms])
        return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"))

    def room_view(self, request: HttpRequest, room_id: uuid.UUID) -> HttpResponse:
        """One live room: its state, the form of its fields and people, its participants and their actions."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        repo = get_repository()
        room = repo.room_get(room_id)
        if room is None:
            raise Http404("No such room, or it is deleted (deleted rooms are listed, not changed).")
        can_change = self.has_change_permission(request)
        form = RoomForm(request.POST or None, room=room)
        if request.method == "POST":
            if not can_change:
                raise PermissionDenied
            if form.is_valid():
                common.room_form_apply(self, request, room_id=room.id, form=form)
                return HttpResponseRedirect(request.path)
        context = {
            **self._context(request, room_labels([room])[room.id]),
            "room": room,
            "room_id": room.id,
            "form": form,
            "media": self.media + form.media,
            "participants": repo.participants_active(room.id),
            "participant_actions": list(PARTICIPANT_ACTIONS.items()),
            "delete_description": DELETE_ROOMS,
            "can_change": can_change,
        }
        return TemplateResponse(request, "admin/chat/repository/room_change.html", context)

    def participants_view(self, request: HttpRequest, room_id: uuid.UUID) -> HttpResponse:
        return common.participants_action_view(self, request, room_id)
