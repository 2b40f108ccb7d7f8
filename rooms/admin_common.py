"""What the room admins of both back ends share: the participant fields of the room form, the changes
that form makes, and the actions on rooms and participants, each through rooms.services
(`as_staff=True`) so that system messages, events and cache invalidation happen as for API clients.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelectMultiple
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import reverse

from kernel.errors import ApplicationError
from kernel.request import user_id_of
from messaging.admin_common import Selected, confirm_action, is_confirmed
from rooms import services
from storage import get_repository
from storage.enums import Role
from storage.models import Participant

User = get_user_model()

ROOM_EDITABLE_FIELDS = ("name", "description", "photo_url", "send_message", "add_member", "edit_group")

DELETE_ROOMS = (
    "Delete the selected rooms for everyone: every member is removed and gets a room_leave event "
    "(reason room_deleted); the rooms leave their room lists and can no longer be changed"
)

PARTICIPANT_ACTIONS: dict[str, str] = {
    "make_owner": (
        "Make the selected participants OWNER: the current owner becomes ADMIN, the members get is_room_updated"
    ),
    "make_admin": "Make the selected participants ADMIN: the members get is_room_updated",
    "make_member": "Make the selected participants MEMBER: the members get is_room_updated",
    "remove_from_room": (
        "Remove the selected participants from the room: a system message and a room_leave event for each"
    ),
}
_ROLE_OF_ACTION = {"make_owner": Role.OWNER, "make_admin": Role.ADMIN, "make_member": Role.MEMBER}


def report(modeladmin: admin.ModelAdmin[Any], request: HttpRequest, exc: ApplicationError, what: str) -> None:
    details = f" {exc.details}" if exc.details else ""
    modeladmin.message_user(request, f"{what}: {exc.message}{details}", level=messages.ERROR)


def add_participants_field() -> forms.ModelMultipleChoiceField[Any]:
    """People to add, found by name: the admin's autocomplete over the user admin's search fields."""
    return forms.ModelMultipleChoiceField(
        queryset=User.objects.all(),
        required=False,
        widget=AutocompleteSelectMultiple(Participant._meta.get_field("user"), admin.site),
        label="Add people",
        help_text="Type a name or username. Groups only: each one added gets a system message and a room_join event.",
    )


def remove_participants_field(room_id: uuid.UUID | None) -> forms.TypedMultipleChoiceField:
    """The room's active participants, to tick for removal (labelled by name and role)."""
    active = get_repository().participants_active(room_id) if room_id else []
    return forms.TypedMultipleChoiceField(
        choices=[(p.user_id, f"{p.user.name} ({p.role})") for p in active],
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Remove people",
        help_text="Each one removed gets a system message and a room_leave event.",
    )


def room_form_apply(
    modeladmin: admin.ModelAdmin[Any], request: HttpRequest, *, room_id: uuid.UUID, form: forms.BaseForm
) -> None:
    """Applies a valid room form through the services: update, then add, then remove (each reported)."""
    staff_id = user_id_of(request)
    changes = {f: form.cleaned_data[f] for f in ROOM_EDITABLE_FIELDS if f in form.changed_data}
    to_add = [u.pk for u in form.cleaned_data.get("add_participants") or []]
    to_remove = list(form.cleaned_data.get("remove_participants") or [])
    steps: list[tuple[str, Callable[[], Any]]] = []
    if changes:
        steps.append(
            ("Update", lambda: services.room_update(user_id=staff_id, room_id=room_id, changes=changes, as_staff=True))
        )
    if to_add:
        steps.append(
            (
                "Add participants",
                lambda: services.room_participants_add(
                    user_id=staff_id, room_id=room_id, participant_ids=to_add, as_staff=True
                ),
            )
        )
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
            report(modeladmin, request, exc, what)


def rooms_delete(modeladmin: admin.ModelAdmin[Any], request: HttpRequest, room_ids: Sequence[uuid.UUID]) -> None:
    """DELETE_ROOMS: LeaveRoom with leave_all for each live room; says how many were deleted."""
    deleted = 0
    for room_id in room_ids:
        try:
            services.room_leave(user_id=user_id_of(request), room_id=room_id, leave_all=True, as_staff=True)
            deleted += 1
        except ApplicationError as exc:
            report(modeladmin, request, exc, f"Room {room_id}")
    modeladmin.message_user(request, f"{deleted} room(s) deleted for everyone.")


def participants_change(
    modeladmin: admin.ModelAdmin[Any], request: HttpRequest, *, action: str, by_room: dict[uuid.UUID, list[int]]
) -> None:
    """Runs one of PARTICIPANT_ACTIONS on active participants, per room; says how many changed."""
    staff_id = user_id_of(request)
    done = 0
    for room_id, user_ids in by_room.items():
        try:
            if action == "remove_from_room":
                result = services.room_leave(user_id=staff_id, room_id=room_id, participant_ids=user_ids, as_staff=True)
                done += len(result.removed)
                continue
            for user_id in user_ids:
                changed = services.room_participant_role_set(
                    user_id=staff_id,
                    room_id=room_id,
                    participant_id=user_id,
                    role=_ROLE_OF_ACTION[action],
                    as_staff=True,
                )
                done += int(changed.changed)
        except ApplicationError as exc:
            report(modeladmin, request, exc, f"Room {room_id}")
    what = "removed" if action == "remove_from_room" else f"changed to {_ROLE_OF_ACTION[action]}"
    modeladmin.message_user(request, f"{done} participant(s) {what}.")


def participants_action_view(
    modeladmin: admin.ModelAdmin[Any], request: HttpRequest, room_id: uuid.UUID
) -> HttpResponse:
    """The room page's participant actions (POST `action`, `_selected_action` = user ids): a
    confirmation page first, then the change, then back to the room."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not modeladmin.has_change_permission(request):
        raise PermissionDenied
    back = reverse(f"admin:{modeladmin.opts.app_label}_{modeladmin.opts.model_name}_change", args=[room_id])
    action = request.POST.get("action", "")
    try:
        user_ids = [int(v) for v in request.POST.getlist("_selected_action")]
    except ValueError:
        user_ids = []
    if action not in PARTICIPANT_ACTIONS or not user_ids:
        modeladmin.message_user(request, "Choose an action and at least one participant.", messages.WARNING)
        return HttpResponseRedirect(back)
    if not is_confirmed(request):
        found = get_repository().participants_get(room_id, user_ids)
        selected = [Selected(str(u), f"{found[u].user.name} ({found[u].role})") for u in user_ids if u in found]
        return confirm_action(
            request, modeladmin, action=action, description=PARTICIPANT_ACTIONS[action], selected=selected
        )
    participants_change(modeladmin, request, action=action, by_room={room_id: user_ids})
    return HttpResponseRedirect(back)
