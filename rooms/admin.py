"""Admin for users (with their chat profile), rooms and participants.

Every change that alters a room goes through rooms.services (with `as_staff=True`, see
rooms/admin_common.py), so that system messages, events and cache invalidation happen exactly as for
API clients: the room form's save calls room_update / room_participants_add / room_leave,
participants are read-only rows changed by actions, and rooms are neither added nor hard-deleted here.

The room and participant admins here read the Django models, the `postgres` back end's tables; with
CHAT_STORAGE=scylla the Rooms entry is rooms/admin_scylla.py instead (the same URLs and actions, read
through the repository), and participants are changed on the room page.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path

from messaging.admin_common import LABEL_MEMBERS, Selected, confirm_action, is_confirmed, room_label
from rooms import admin_common as common
from rooms import services
from rooms.admin_common import DELETE_ROOMS, PARTICIPANT_ACTIONS, ROOM_EDITABLE_FIELDS
from rooms.admin_scylla import RepositoryRoomAdmin
from storage import get_repository
from storage.models import Participant, Profile, Room
from storage.users import user_record

User = get_user_model()


def active_participants_prefetch(prefix: str = "") -> Prefetch[Any]:
    """Each room's active participants with their users (`room.active_participants`): room labels in
    one query per page."""
    queryset = Participant.objects.filter(removed_at__isnull=True).select_related("user__chat_profile")
    return Prefetch(
        f"{prefix}participants", queryset=queryset.order_by("joined_at", "id"), to_attr="active_participants"
    )


def orm_room_label(room: Room) -> str:
    """room_label of a Room fetched with active_participants_prefetch."""
    members = [user_record(p.user).name for p in getattr(room, "active_participants", [])]
    return room_label(room.name, members[:LABEL_MEMBERS], more=len(members) > LABEL_MEMBERS)


# --- users ----------------------------------------------------------------------------------------


# Admin form fields of URLs assume https (Django 6 default).
URL_FIELDS: dict[type[models.Field[Any, Any]], dict[str, Any]] = {models.URLField: {"assume_scheme": "https"}}


class ProfileInline(admin.StackedInline[Profile, Any]):
    model = Profile
    formfield_overrides = URL_FIELDS
    can_delete = False
    fields = ("display_name", "phone", "avatar_url")
    verbose_name_plural = "chat profile"


class ChatUserAdmin(DjangoUserAdmin[Any]):
    inlines = [ProfileInline]
    list_display = ("username", "display_name", "email", "is_staff", "is_active")
    search_fields = (
        "username",
        "email",
        "first_name",
        "last_name",
        "chat_profile__display_name",
        "chat_profile__phone",
    )

    @admin.display(description="display name", ordering="chat_profile__display_name")
    def display_name(self, obj: Any) -> str:
        profile = getattr(obj, "chat_profile", None)
        return profile.display_name if profile else ""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if change:
            # Names and avatars appear in formatted rooms: drop the cached rooms of this user.
            services.user_profile_changed(user_id=form.instance.pk)


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, ChatUserAdmin)


# --- rooms ----------------------------------------------------------------------------------------


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[tuple[str, str]]:
        return [("no", "No"), ("yes", "Yes")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


class ParticipantInline(admin.TabularInline[Participant, Room]):
    """Read-only: membership changes go through the form fields below the room (services)."""

    model = Participant
    extra = 0
    can_delete = False
    fields = ("user", "role", "is_muted", "is_pinned", "is_partner_blocked", "joined_at", "removed_at")
    readonly_fields = fields
    ordering = ("removed_at", "joined_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# Shown read-only: the room's state is changed by the services, never edited by hand.
_ROOM_STATE_FIELDS = (
    "join_all_user",
    "p2p_key",
    "created_by",
    "last_message_id",
    "last_message_at",
    "created_at",
    "updated_at",
    "deleted_at",
)


class RoomAdminForm(forms.ModelForm[Room]):
    photo_url = forms.URLField(required=False, max_length=500, assume_scheme="https")
    add_participants = common.add_participants_field()
    remove_participants = common.remove_participants_field(None)  # its choices: the room's, in __init__

    class Meta:
        model = Room
        fields = ROOM_EDITABLE_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["remove_participants"] = common.remove_participants_field(self.instance.pk)


class RoomAdmin(admin.ModelAdmin[Room]):
    form = RoomAdminForm
    formfield_overrides = URL_FIELDS
    inlines = [ParticipantInline]
    list_display = ("label", "type", "created_at", "last_message_at", "deleted_at")
    list_filter = ("type", DeletedFilter, "created_at")
    search_fields = (
        "name",
        "id",
        "description",
        "participants__user__username",
        "participants__user__chat_profile__display_name",
    )
    date_hierarchy = "created_at"
    readonly_fields = ("id", "type", *_ROOM_STATE_FIELDS)
    fieldsets = (
        (None, {"fields": ("id", "type", "name", "description", "photo_url")}),
        ("Member permissions", {"fields": ("send_message", "add_member", "edit_group")}),
        ("Participants", {"fields": ("add_participants", "remove_participants")}),
        (
            "State",
            {
                "classes": ("collapse",),
                "fields": _ROOM_STATE_FIELDS,
            },
        ),
    )
    actions = ["delete_rooms"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Room]:
        return super().get_queryset(request).prefetch_related(active_participants_prefetch())

    @admin.display(description="room")
    def label(self, obj: Room) -> str:
        return orm_room_label(obj)

    def get_urls(self) -> list[URLPattern]:
        participants = path(
            "<uuid:room_id>/participants/",
            self.admin_site.admin_view(self.participants_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_participants",
        )
        return [participants, *super().get_urls()]

    def participants_view(self, request: HttpRequest, room_id: uuid.UUID) -> HttpResponse:
        return common.participants_action_view(self, request, room_id)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            participants = get_repository().participants_active(uuid.UUID(object_id))
        except ValueError:
            participants = []
        context = {
            "participants": participants,
            "participant_actions": list(PARTICIPANT_ACTIONS.items()),
            "can_change": self.has_change_permission(request),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, context)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rooms are created through CreateRoom (keys, roles, room_join events)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # see the "delete rooms" action: a soft delete through LeaveRoom

    def save_model(self, request: HttpRequest, obj: Room, form: RoomAdminForm, change: bool) -> None:
        """Applies the form through the services instead of saving the model."""
        common.room_form_apply(self, request, room_id=obj.pk, form=form)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Participants are read-only here: nothing is saved (commit=False only fills the change log)."""
        formset.save(commit=False)

    @admin.action(description=DELETE_ROOMS, permissions=["change"])
    def delete_rooms(self, request: HttpRequest, queryset: QuerySet[Room]) -> HttpResponse | None:
        live = queryset.filter(deleted_at__isnull=True)
        if not is_confirmed(request):
            selected = [Selected(str(r.pk), orm_room_label(r)) for r in live]
            return confirm_action(request, self, action="delete_rooms", description=DELETE_ROOMS, selected=selected)
        common.rooms_delete(self, request, list(live.values_list("id", flat=True)))
        return None


# --- participants ---------------------------------------------------------------------------------


class RemovedFilter(DeletedFilter):
    title = "removed"
    parameter_name = "removed"

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "no":
            return queryset.filter(removed_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(removed_at__isnull=False)
        return queryset


class ParticipantAdmin(admin.ModelAdmin[Participant]):
    """Read-only rows; roles and removals are actions that call the services."""

    list_display = (
        "user",
        "room_label",
        "role",
        "is_muted",
        "is_pinned",
        "is_partner_blocked",
        "joined_at",
        "removed_at",
    )
    list_filter = ("role", "is_muted", "is_pinned", "is_partner_blocked", RemovedFilter, "room__type")
    search_fields = ("user__username", "user__chat_profile__display_name", "room__name", "room__id")
    list_select_related = ("user", "room")
    actions = ["make_owner", "make_admin", "make_member", "remove_from_room"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Participant]:
        return super().get_queryset(request).prefetch_related(active_participants_prefetch("room__"))

    @admin.display(description="room", ordering="room__name")
    def room_label(self, obj: Participant) -> str:
        return orm_room_label(obj.room)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # view only: the actions below change participants through the services

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_manage_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(f"{self.opts.app_label}.change_participant"))

    def _run(self, request: HttpRequest, queryset: QuerySet[Participant], action: str) -> HttpResponse | None:
        """PARTICIPANT_ACTIONS[action] on the selected active rows, after the confirmation page."""
        active = queryset.filter(removed_at__isnull=True).select_related("user__chat_profile", "room")
        if not is_confirmed(request):
            selected = [
                Selected(str(p.pk), f"{user_record(p.user).name} ({p.role}) in {orm_room_label(p.room)}")
                for p in active
            ]
            return confirm_action(
                request, self, action=action, description=PARTICIPANT_ACTIONS[action], selected=selected
            )
        by_room: dict[uuid.UUID, list[int]] = defaultdict(list)
        for room_id, user_id in active.values_list("room_id", "user_id"):
            by_room[room_id].append(user_id)
        common.participants_change(self, request, action=action, by_room=by_room)
        return None

    @admin.action(description=PARTICIPANT_ACTIONS["make_owner"], permissions=["manage"])
    def make_owner(self, request: HttpRequest, queryset: QuerySet[Participant]) -> HttpResponse | None:
        return self._run(request, queryset, "make_owner")

    @admin.action(description=PARTICIPANT_ACTIONS["make_admin"], permissions=["manage"])
    def make_admin(self, request: HttpRequest, queryset: QuerySet[Participant]) -> HttpResponse | None:
        return self._run(request, queryset, "make_admin")

    @admin.action(description=PARTICIPANT_ACTIONS["make_member"], permissions=["manage"])
    def make_member(self, request: HttpRequest, queryset: QuerySet[Participant]) -> HttpResponse | None:
        return self._run(request, queryset, "make_member")

    @admin.action(description=PARTICIPANT_ACTIONS["remove_from_room"], permissions=["manage"])
    def remove_from_room(self, request: HttpRequest, queryset: QuerySet[Participant]) -> HttpResponse | None:
        return self._run(request, queryset, "remove_from_room")


# The Rooms entry of the configured back end (participants: a page of their own on postgres only).
if settings.CHAT_STORAGE == "scylla":
    admin.site.register(Room, RepositoryRoomAdmin)
else:
    admin.site.register(Room, RoomAdmin)
    admin.site.register(Participant, ParticipantAdmin)
