"""Admin for users (with their chat profile), rooms and participants.

Every change that alters a room goes through rooms.services (with `as_staff=True`), so that system
messages, events and cache invalidation happen exactly as for API clients: the room form's save
calls room_update / room_participants_add / room_leave, participants are read-only rows changed by
actions, and rooms are neither added nor hard-deleted here.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from kernel.errors import ApplicationError
from kernel.request import user_id_of
from rooms import services
from storage.enums import Role
from storage.models import Participant, Profile, Room

User = get_user_model()

ROOM_EDITABLE_FIELDS = ("name", "description", "photo_url", "send_message", "add_member", "edit_group")


def _report(modeladmin: admin.ModelAdmin[Any], request: HttpRequest, exc: ApplicationError, what: str) -> None:
    details = f" {exc.details}" if exc.details else ""
    modeladmin.message_user(request, f"{what}: {exc.message}{details}", level=messages.ERROR)


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
    add_participants = forms.CharField(
        required=False,
        help_text="User ids to add, separated by commas (groups only; a system message and room_join follow).",
    )
    remove_participants = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Active participants to remove (a system message and room_leave follow).",
    )

    class Meta:
        model = Room
        fields = ROOM_EDITABLE_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            remove = self.fields["remove_participants"]
            assert isinstance(remove, forms.ModelMultipleChoiceField)
            remove.queryset = User.objects.filter(
                chat_participations__room=self.instance, chat_participations__removed_at__isnull=True
            ).order_by("username")

    def clean_add_participants(self) -> list[int]:
        raw = self.cleaned_data.get("add_participants") or ""
        try:
            return [int(part) for part in raw.replace(" ", "").split(",") if part]
        except ValueError:
            raise forms.ValidationError("Enter user ids separated by commas.") from None


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin[Room]):
    form = RoomAdminForm
    formfield_overrides = URL_FIELDS
    inlines = [ParticipantInline]
    list_display = ("id", "type", "name", "created_at", "last_message_at", "deleted_at")
    list_filter = ("type", DeletedFilter, "created_at")
    search_fields = ("name", "id", "description")
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

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rooms are created through CreateRoom (keys, roles, room_join events)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # see the "delete rooms" action: a soft delete through LeaveRoom

    def save_model(self, request: HttpRequest, obj: Room, form: RoomAdminForm, change: bool) -> None:
        """Applies the form through the services instead of saving the model."""
        staff_id = user_id_of(request)
        room_id = obj.pk
        changes = {f: form.cleaned_data[f] for f in ROOM_EDITABLE_FIELDS if f in form.changed_data}
        steps: list[tuple[str, Callable[[], Any]]] = []
        if changes:
            steps.append(
                (
                    "Update",
                    lambda: services.room_update(user_id=staff_id, room_id=room_id, changes=changes, as_staff=True),
                )
            )
        to_add = form.cleaned_data.get("add_participants") or []
        if to_add:
            steps.append(
                (
                    "Add participants",
                    lambda: services.room_participants_add(
                        user_id=staff_id, room_id=room_id, participant_ids=to_add, as_staff=True
                    ),
                )
            )
        to_remove = [u.pk for u in form.cleaned_data.get("remove_participants") or []]
        if to_remove:
            steps.append(
                (
                    "Remove participants",
                    lambda: services.room_leave(
                        user_id=staff_id, room_id=room_id, participant_ids=to_remove, as_staff=True
                    ),
                )
            )
        for what, step in steps:
            try:
                step()
            except ApplicationError as exc:
                _report(self, request, exc, what)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Participants are read-only here: nothing is saved (commit=False only fills the change log)."""
        formset.save(commit=False)

    @admin.action(description="Delete selected rooms (every participant leaves)", permissions=["change"])
    def delete_rooms(self, request: HttpRequest, queryset: QuerySet[Room]) -> None:
        deleted = 0
        for room_id in queryset.filter(deleted_at__isnull=True).values_list("id", flat=True):
            try:
                services.room_leave(user_id=user_id_of(request), room_id=room_id, leave_all=True, as_staff=True)
                deleted += 1
            except ApplicationError as exc:
                _report(self, request, exc, f"Room {room_id}")
        self.message_user(request, f"{deleted} room(s) deleted.")


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


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin[Participant]):
    """Read-only rows; roles and removals are actions that call the services."""

    list_display = ("user", "room", "role", "is_muted", "is_pinned", "is_partner_blocked", "joined_at", "removed_at")
    list_filter = ("role", "is_muted", "is_pinned", "is_partner_blocked", RemovedFilter, "room__type")
    search_fields = ("user__username", "user__chat_profile__display_name", "room__name", "room__id")
    list_select_related = ("user", "room")
    actions = ["make_owner", "make_admin", "make_member", "remove_from_room"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # view only: the actions below change participants through the services

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_manage_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("rooms.change_participant"))

    def _set_role(self, request: HttpRequest, queryset: QuerySet[Participant], role: str) -> None:
        done = 0
        for room_id, user_id in queryset.filter(removed_at__isnull=True).values_list("room_id", "user_id"):
            try:
                result = services.room_participant_role_set(
                    user_id=user_id_of(request), room_id=room_id, participant_id=user_id, role=role, as_staff=True
                )
                done += int(result.changed)
            except ApplicationError as exc:
                _report(self, request, exc, f"User {user_id} in room {room_id}")
        self.message_user(request, f"{done} participant(s) changed to {role}.")

    @admin.action(description="Make OWNER (the current owner becomes ADMIN)", permissions=["manage"])
    def make_owner(self, request: HttpRequest, queryset: QuerySet[Participant]) -> None:
        self._set_role(request, queryset, Role.OWNER)

    @admin.action(description="Make ADMIN", permissions=["manage"])
    def make_admin(self, request: HttpRequest, queryset: QuerySet[Participant]) -> None:
        self._set_role(request, queryset, Role.ADMIN)

    @admin.action(description="Make MEMBER", permissions=["manage"])
    def make_member(self, request: HttpRequest, queryset: QuerySet[Participant]) -> None:
        self._set_role(request, queryset, Role.MEMBER)

    @admin.action(description="Remove from their rooms", permissions=["manage"])
    def remove_from_room(self, request: HttpRequest, queryset: QuerySet[Participant]) -> None:
        by_room: dict[uuid.UUID, list[int]] = defaultdict(list)
        for room_id, user_id in queryset.filter(removed_at__isnull=True).values_list("room_id", "user_id"):
            by_room[room_id].append(user_id)
        removed = 0
        for room_id, user_ids in by_room.items():
            try:
                result = services.room_leave(
                    user_id=user_id_of(request), room_id=room_id, participant_ids=user_ids, as_staff=True
                )
                removed += len(result.removed)
            except ApplicationError as exc:
                _report(self, request, exc, f"Room {room_id}")
        self.message_user(request, f"{removed} participant(s) removed.")
