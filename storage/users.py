"""Users, as every back end reads them: users and their chat profiles live in the Django database."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model

from storage.records import UserRecord


def user_record(user: Any) -> UserRecord:
    """The record of a Django user (its `chat_profile` selected with it, or absent)."""
    profile = getattr(user, "chat_profile", None)
    name = (profile.display_name if profile else "") or user.get_full_name() or user.get_username()
    return UserRecord(
        id=user.id,
        name=name,
        phone=profile.phone if profile else "",
        avatar=profile.avatar_url if profile else "",
    )


def users_get(user_ids: Iterable[int]) -> dict[int, UserRecord]:
    """The users with these ids that exist, by id (one query)."""
    ids = list(user_ids)
    if not ids:
        return {}
    users = get_user_model().objects.filter(id__in=ids).select_related("chat_profile")
    return {u.id: user_record(u) for u in users}
