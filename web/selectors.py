"""Reads the pages need that the chat API has no operation for: the user picker.

Users live in the Django database on every storage back end, so this reads the ORM directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Q

PICKER_LIMIT = 50


@dataclass(frozen=True)
class PickerUser:
    id: int
    name: str
    username: str


def users_for_picker(*, viewer_id: int, search: str = "", limit: int = PICKER_LIMIT) -> list[PickerUser]:
    """Active users other than the viewer, matching `search` on display name, username or e-mail (one query)."""
    users = get_user_model().objects.filter(is_active=True).exclude(pk=viewer_id).select_related("chat_profile")
    search = search.strip()
    if search:
        users = users.filter(
            Q(username__icontains=search) | Q(chat_profile__display_name__icontains=search) | Q(email__icontains=search)
        )
    users = users.order_by("chat_profile__display_name", "username")[:limit]
    return [PickerUser(id=u.pk, name=display_name(u), username=u.get_username()) for u in users]


def display_name(user: object) -> str:
    """The name the chat shows for a user: the profile's display name, else the username."""
    profile = getattr(user, "chat_profile", None)
    name = getattr(profile, "display_name", "") if profile is not None else ""
    return name or str(getattr(user, "username", "") or "")
